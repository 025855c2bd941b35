"""Pieces of the file type that work on a path or a whole directory tree (recurse + purge):
reading a tree, comparing it with the wanted one, making it so, removing things."""

from __future__ import annotations

import errno
import os
import shutil
import stat
from dataclasses import dataclass

from gitpuppet.backup import BackupStore
from gitpuppet.errors import ApplyError
from gitpuppet.model import REDACTED, Change
from gitpuppet.resources.fsutil import (
    WriteBatch,
    finish_write,
    group_name,
    user_name,
    write_temp,
)
from gitpuppet.resources.schema import FileParams


@dataclass(slots=True)
class Entry:
    """One thing inside a managed directory: its kind, content (regular files) and metadata."""

    kind: str
    data: bytes | None
    mode: int
    uid: int
    gid: int


def kind_of(st: os.stat_result) -> str:
    """file, directory, link or other, from an lstat result."""
    if stat.S_ISLNK(st.st_mode):
        return "link"
    if stat.S_ISDIR(st.st_mode):
        return "directory"
    if stat.S_ISREG(st.st_mode):
        return "file"
    return "other"


def dir_mode(mode: int | None) -> int | None:
    """A directory gets search (x) permission wherever read is set, as Puppet does."""
    return None if mode is None else mode | ((mode & 0o444) >> 2)


def short_digest(data: bytes | None) -> str | None:
    """A short content digest for reports (only computed when a change is reported)."""
    import hashlib

    return None if data is None else "sha256:" + hashlib.sha256(data).hexdigest()[:16]


def scan(root: str) -> dict[str, Entry]:
    """Everything under `root`, by path relative to it; only regular files are read."""
    out: dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in dirnames + filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            full = os.path.join(dirpath, name)
            # os.walk lists a link to a directory among dirnames: lstat says what it really is,
            # and a fifo is never opened (it would block).
            st = os.lstat(full)
            kind = kind_of(st)
            data = None
            if kind == "file":
                with open(full, "rb") as fh:
                    data = fh.read()
            out[rel] = Entry(kind, data, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    return out


def tree_changes(
    have: dict[str, Entry],
    p: FileParams,
    mode: int | None,
    uid: int | None,
    gid: int | None,
    redact: bool,
) -> list[Change]:
    """What differs between the directory's contents and `p.tree` (and, with purge, extras)."""
    assert p.tree is not None
    changes = []
    for rel, data in sorted(p.tree.items()):
        entry = have.get(rel)
        kind = entry.kind if entry else None
        if data is None:
            if kind != "directory":
                changes.append(Change(f"{rel}/", kind or "absent", "directory"))
                continue
        elif kind != "file" or entry is None or entry.data != data:
            if redact:
                changes.append(Change(rel, REDACTED, REDACTED, redacted=True))
            else:
                old = short_digest(entry.data) if kind == "file" and entry else kind or "absent"
                changes.append(Change(rel, old, short_digest(data)))
            continue
        assert entry is not None
        want_mode = dir_mode(mode) if data is None else mode
        if want_mode is not None and entry.mode != want_mode:
            changes.append(Change(f"{rel} mode", f"{entry.mode:04o}", f"{want_mode:04o}"))
        if uid is not None and entry.uid != uid:
            changes.append(Change(f"{rel} owner", user_name(entry.uid), user_name(uid)))
        if gid is not None and entry.gid != gid:
            changes.append(Change(f"{rel} group", group_name(entry.gid), group_name(gid)))
    if p.purge:
        extra = set(have) - set(p.tree)
        for rel in sorted(extra):
            # Report an unmanaged directory once, not every file inside it.
            if not any(rel.startswith(other + "/") for other in extra):
                changes.append(Change(rel, have[rel].kind, "absent (purged)"))
    return changes


def sync_tree(
    p: FileParams,
    have: dict[str, Entry],
    mode: int | None,
    uid: int | None,
    gid: int | None,
    backups: BackupStore | None,
    batch: WriteBatch | None = None,
) -> None:
    """Make the directory's contents match `p.tree`; with purge, remove what is not in it.
    With `batch`, new contents are staged there (see fsutil.WriteBatch)."""
    assert p.tree is not None
    for rel, data in sorted(p.tree.items()):
        full = os.path.join(p.path, rel)
        entry = have.get(rel)
        kind = entry.kind if entry else None
        if data is None:
            if kind != "directory":
                if kind is not None:
                    remove_path(full, kind, True, backups)
                make_dir(full, dir_mode(mode))
            set_meta(full, dir_mode(mode), uid, gid)
            continue
        if kind == "directory":
            remove_path(full, kind, True, backups)
            kind = None
        if kind != "file" or entry is None or entry.data != data:
            if kind == "file":
                if backups is not None and entry is not None and entry.data is not None:
                    backups.save(full, entry.data, os.lstat(full), batch)
            elif kind is not None:
                remove_path(full, kind, True, backups)  # a link or fifo where a file belongs
            tmp = write_temp(
                full,
                data,
                mode=0o644 if mode is None else mode,
                uid=uid,
                gid=gid,
                sync=batch is None,
            )
            finish_write(tmp, full, batch)
        else:
            set_meta(full, mode, uid, gid)
    if p.purge:
        # Deepest first, so a directory is empty of managed things before it goes.
        for rel in sorted(set(have) - set(p.tree), key=lambda r: -r.count("/")):
            full = os.path.join(p.path, rel)
            if os.path.lexists(full):
                remove_path(full, have[rel].kind, True, backups)


def make_dir(path: str, mode: int | None) -> None:
    """mkdir with a message a person can act on."""
    parent = os.path.dirname(path)
    if parent and not os.path.isdir(parent):
        raise ApplyError(
            f"parent directory {parent} does not exist",
            hint=f"declare it (file: {parent}, ensure: directory) or create it",
        )
    try:
        os.mkdir(path, 0o755 if mode is None else mode)
    except OSError as exc:
        raise ApplyError(f"cannot create directory {path}: {exc.strerror}") from None


def set_meta(path: str, mode: int | None, uid: int | None, gid: int | None) -> None:
    """Set owner, group and mode where given (never following a link)."""
    try:
        if uid is not None or gid is not None:
            os.lchown(path, -1 if uid is None else uid, -1 if gid is None else gid)
        if mode is not None:
            os.chmod(path, mode)
    except OSError as exc:
        raise ApplyError(f"cannot set owner or mode of {path}: {exc.strerror}") from None


def remove_path(path: str, kind: str | None, force: bool, backups: BackupStore | None) -> None:
    """Remove a file, link or (empty, or with force any) directory; a file's content is backed up."""
    try:
        if kind == "directory":
            if not force:
                try:
                    os.rmdir(path)
                    return
                except OSError as exc:
                    if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                        raise ApplyError(
                            f"{path} is a directory that is not empty",
                            hint="set force: true to remove it with its contents",
                        ) from None
                    raise
            shutil.rmtree(path)
            return
        if kind == "file" and backups is not None:
            st = os.lstat(path)
            with open(path, "rb") as fh:
                backups.save(path, fh.read(), st)
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ApplyError(f"cannot remove {path}: {exc.strerror}") from None
