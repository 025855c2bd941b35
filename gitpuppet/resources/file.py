"""`file`: regular files, directories (optionally recursive from a source folder) and links."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import stat
from dataclasses import dataclass, field
from typing import Any

from gitpuppet.backup import BackupStore
from gitpuppet.command import run_command
from gitpuppet.errors import ApplyError
from gitpuppet.model import Change, Resource
from gitpuppet.resources.base import ApplyContext, ResourceType
from gitpuppet.resources.fsutil import (
    commit_temp,
    gid_of,
    group_name,
    uid_of,
    unified_diff,
    user_name,
    write_temp,
)
from gitpuppet.resources.schema import FileParams

REDACTED = "<redacted>"


@dataclass(slots=True)
class FileState:
    """What is at a path now: kind (file, directory, link, other, or None when absent)."""

    kind: str | None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    target: str | None = None
    data: bytes | None = None
    entries: dict[str, tuple[str, bytes | None]] = field(
        default_factory=dict
    )  # recurse: rel -> (kind, data)
    st: os.stat_result | None = None


def _kind(st: os.stat_result) -> str:
    if stat.S_ISLNK(st.st_mode):
        return "link"
    if stat.S_ISDIR(st.st_mode):
        return "directory"
    if stat.S_ISREG(st.st_mode):
        return "file"
    return "other"


def _wanted_kind(p: FileParams) -> str | None:
    return {"file": "file", "present": "file", "directory": "directory", "link": "link"}.get(
        p.ensure
    )


def _digest(data: bytes | None) -> str | None:
    return None if data is None else "sha256:" + hashlib.sha256(data).hexdigest()[:16]


class FileType(ResourceType):
    name = "file"

    def current(self, res: Resource, ctx: ApplyContext) -> FileState:
        p: FileParams = res.params
        try:
            st = os.lstat(p.path)
        except FileNotFoundError:
            return FileState(None)
        except NotADirectoryError:
            return FileState(None)
        state = FileState(_kind(st), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st=st)
        if state.kind == "link":
            state.target = os.readlink(p.path)
        elif (
            state.kind == "file"
            and p.data is not None
            and p.replace
            and p.ensure in ("file", "present")
        ):
            with open(p.path, "rb") as fh:
                state.data = fh.read()
        elif state.kind == "directory" and p.recurse:
            state.entries = _scan(p.path)
        return state

    def diff(self, cur: FileState, res: Resource, ctx: ApplyContext) -> list[Change]:
        p: FileParams = res.params
        redact = res.sensitive
        if p.ensure == "absent":
            return [Change("ensure", cur.kind, "absent")] if cur.kind is not None else []
        want = _wanted_kind(p)
        changes: list[Change] = []
        if cur.kind != want and not (p.ensure == "present" and cur.kind in ("file", "link")):
            changes.append(Change("ensure", cur.kind or "absent", want))
        if want == "file" and p.data is not None and (p.replace or cur.kind != "file"):
            old = cur.data if cur.kind == "file" else None
            if old != p.data:
                text = unified_diff(old, p.data, p.path) if ctx.want_diff and not redact else None
                if redact:
                    changes.append(Change("content", REDACTED, REDACTED, redacted=True))
                else:
                    changes.append(Change("content", _digest(old), _digest(p.data), diff=text))
        if want == "link" and (cur.kind != "link" or cur.target != p.target):
            changes.append(Change("target", cur.target, p.target))
        if want == "directory" and p.tree is not None:
            changes.extend(_tree_changes(cur, p, redact))
        if want != "link":
            changes.extend(self._meta_changes(cur, p, want))
        return changes

    @staticmethod
    def _meta_changes(cur: FileState, p: FileParams, want: str | None) -> list[Change]:
        changes = []
        exists = cur.kind == want
        if p.mode is not None:
            mode = int(p.mode, 8)
            if not exists or cur.mode != mode:
                changes.append(Change("mode", None if not exists else f"{cur.mode:04o}", p.mode))
        if p.owner is not None:
            try:
                uid = uid_of(p.owner)
            except ApplyError:
                uid = -1  # reported when applied: "owner 'x' does not exist"
            if not exists or cur.uid != uid:
                changes.append(
                    Change("owner", None if not exists else user_name(cur.uid or 0), p.owner)
                )
        if p.group is not None:
            try:
                gid = gid_of(p.group)
            except ApplyError:
                gid = -1
            if not exists or cur.gid != gid:
                changes.append(
                    Change("group", None if not exists else group_name(cur.gid or 0), p.group)
                )
        return changes

    def apply(
        self, res: Resource, cur: FileState, changes: list[Change], ctx: ApplyContext
    ) -> None:
        p: FileParams = res.params
        backups = BackupStore(ctx.state_dir) if p.backup else None
        if p.ensure == "absent":
            _remove(p.path, cur, p.force, backups)
            return
        uid = uid_of(p.owner) if p.owner is not None else None
        gid = gid_of(p.group) if p.group is not None else None
        mode = int(p.mode, 8) if p.mode is not None else None
        want = _wanted_kind(p)
        if want == "link":
            _make_link(p, cur, backups)
            return
        if want == "directory":
            if cur.kind not in ("directory", None):
                if not p.force:
                    raise ApplyError(
                        f"{p.path} is a {cur.kind}, not a directory",
                        hint="set force: true to replace it",
                    )
                _remove(p.path, cur, True, backups)
                cur = FileState(None)
            if cur.kind is None:
                _check_parent(p.path)
                os.mkdir(p.path, 0o755 if mode is None else mode)
            _set_meta(p.path, mode, uid, gid)
            if p.tree is not None:
                _sync_tree(p, cur, mode, uid, gid, backups)
            return
        # a regular file
        if cur.kind == "directory":
            if not p.force:
                raise ApplyError(
                    f"{p.path} is a directory", hint="set force: true to replace it with a file"
                )
            _remove(p.path, cur, True, backups)
            cur = FileState(None)
        needs_content = any(c.attr in ("content", "ensure") for c in changes)
        if needs_content:
            data = p.data if p.data is not None else (cur.data or b"")
            if p.data is None and cur.kind == "file":
                with open(p.path, "rb") as fh:
                    data = fh.read()
            keep_mode = mode if mode is not None else (cur.mode if cur.kind == "file" else 0o644)
            keep_uid = uid if uid is not None else (cur.uid if cur.kind == "file" else None)
            keep_gid = gid if gid is not None else (cur.gid if cur.kind == "file" else None)
            tmp = write_temp(p.path, data, mode=keep_mode, uid=keep_uid, gid=keep_gid)
            try:
                if p.validate:
                    _validate(p.validate, tmp, p.path)
                if backups is not None and cur.kind == "file":
                    with open(p.path, "rb") as fh:
                        backups.save(p.path, fh.read(), cur.st)
            except BaseException:
                os.unlink(tmp)
                raise
            commit_temp(tmp, p.path)
        else:
            _set_meta(p.path, mode, uid, gid)


def _check_parent(path: str) -> None:
    parent = os.path.dirname(path)
    if parent and not os.path.isdir(parent):
        raise ApplyError(
            f"parent directory {parent} does not exist",
            hint=f"declare it (file: {parent}, ensure: directory) or create it",
        )


def _set_meta(path: str, mode: int | None, uid: int | None, gid: int | None) -> None:
    try:
        if uid is not None or gid is not None:
            os.lchown(path, -1 if uid is None else uid, -1 if gid is None else gid)
        if mode is not None:
            os.chmod(path, mode)
    except OSError as exc:
        raise ApplyError(f"cannot set owner or mode of {path}: {exc.strerror}") from None


def _validate(command: str, tmp: str, path: str) -> None:
    argv = [tmp if part == "%" else part.replace("%", tmp) for part in shlex.split(command)]
    result = run_command(argv, timeout=120)
    if result.returncode != 0:
        raise ApplyError(
            f"validate command rejected the new content of {path} (exit {result.returncode}); "
            "the old content is kept",
            output=result.output,
        )


def _remove(path: str, cur: FileState, force: bool, backups: BackupStore | None) -> None:
    try:
        if cur.kind == "directory":
            if not force:
                try:
                    os.rmdir(path)
                    return
                except OSError:
                    raise ApplyError(
                        f"{path} is a directory that is not empty",
                        hint="set force: true to remove it with its contents",
                    ) from None
            shutil.rmtree(path)
            return
        if cur.kind == "file" and backups is not None:
            with open(path, "rb") as fh:
                backups.save(path, fh.read(), cur.st)
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ApplyError(f"cannot remove {path}: {exc.strerror}") from None


def _make_link(p: FileParams, cur: FileState, backups: BackupStore | None) -> None:
    assert p.target is not None
    if cur.kind == "directory":
        if not p.force:
            raise ApplyError(
                f"{p.path} is a directory", hint="set force: true to replace it with a link"
            )
        _remove(p.path, cur, True, backups)
    elif cur.kind == "file" and backups is not None:
        with open(p.path, "rb") as fh:
            backups.save(p.path, fh.read(), cur.st)
    _check_parent(p.path)
    directory, name = os.path.split(p.path)
    tmp = os.path.join(directory, f".{name}.gitpuppet-link-{os.getpid()}")
    try:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(p.target, tmp)
        os.rename(tmp, p.path)
    except OSError as exc:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise ApplyError(f"cannot create link {p.path}: {exc.strerror}") from None


def _scan(root: str) -> dict[str, tuple[str, bytes | None]]:
    out: dict[str, tuple[str, bytes | None]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in dirnames + filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            full = os.path.join(dirpath, name)
            # os.walk lists a link to a directory among dirnames: lstat says what it really is,
            # and only regular files are read (a fifo would block).
            kind = _kind(os.lstat(full))
            if kind == "file":
                with open(full, "rb") as fh:
                    out[rel] = ("file", fh.read())
            else:
                out[rel] = (kind, None)
    return out


def _tree_changes(cur: FileState, p: FileParams, redact: bool) -> list[Change]:
    assert p.tree is not None
    have = cur.entries if cur.kind == "directory" else {}
    changes = []
    for rel, data in sorted(p.tree.items()):
        kind, old = have.get(rel, (None, None))
        if data is None:
            if kind != "directory":
                changes.append(Change(f"{rel}/", kind or "absent", "directory"))
        elif kind != "file" or old != data:
            if redact:
                changes.append(Change(rel, REDACTED, REDACTED, redacted=True))
            else:
                changes.append(
                    Change(rel, _digest(old) if kind == "file" else kind or "absent", _digest(data))
                )
    if p.purge:
        for rel in sorted(set(have) - set(p.tree)):
            if not any(rel.startswith(other + "/") for other in have if other not in p.tree):
                changes.append(Change(rel, have[rel][0], "absent (purged)"))
    return changes


def _sync_tree(
    p: FileParams,
    cur: FileState,
    mode: int | None,
    uid: int | None,
    gid: int | None,
    backups: BackupStore | None,
) -> None:
    assert p.tree is not None
    have = cur.entries if cur.kind == "directory" else {}
    dir_mode = None if mode is None else mode | ((mode & 0o444) >> 2)
    for rel, data in sorted(p.tree.items()):
        full = os.path.join(p.path, rel)
        kind, old = have.get(rel, (None, None))
        if data is None:
            if kind != "directory":
                if kind is not None:
                    _remove(full, FileState(kind), True, backups)
                os.mkdir(full, 0o755 if dir_mode is None else dir_mode)
            _set_meta(full, dir_mode, uid, gid)
            continue
        if kind == "directory":
            _remove(full, FileState(kind), True, backups)
            kind = None
        if kind != "file" or old != data:
            if kind == "file" and backups is not None and old is not None:
                backups.save(full, old, os.lstat(full))
            commit_temp(
                write_temp(full, data, mode=0o644 if mode is None else mode, uid=uid, gid=gid), full
            )
        else:
            _set_meta(full, mode, uid, gid)
    if p.purge:
        for rel in sorted(set(have) - set(p.tree), key=lambda r: -r.count("/")):
            full = os.path.join(p.path, rel)
            kind, old = have[rel]
            if kind == "file" and backups is not None and old is not None:
                backups.save(full, old, os.lstat(full))
            if kind == "directory":
                shutil.rmtree(full, ignore_errors=True)
            elif os.path.lexists(full):
                os.unlink(full)


TYPE: Any = FileType()
