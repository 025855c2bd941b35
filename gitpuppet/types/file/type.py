"""`file`: regular files, directories (optionally recursive from a source folder) and links."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Any

from gitpuppet.backup import BackupStore
from gitpuppet.contract import ApplyContext, ResourceType
from gitpuppet.errors import ApplyError
from gitpuppet.managed import Protected
from gitpuppet.model import Change, Resource
from gitpuppet.resources.fsat import (
    finish_write,
    make_dir,
    make_link,
    read_file,
    readlink,
    remove,
    set_meta,
    sweep_temps,
    write_temp,
)
from gitpuppet.resources.fsutil import gid_of, group_name, uid_of, unified_diff, user_name
from gitpuppet.resources.safepath import MissingParent, Parent, open_parent
from gitpuppet.resources.validatecmd import validate_temp
from gitpuppet.types.file.spec import FileParams
from gitpuppet.types.file.tree import (
    REDACTED,
    Entry,
    dir_mode,
    kind_of,
    scan,
    short_digest,
    sync_tree,
    tree_changes,
)


@dataclass(slots=True)
class FileState:
    """What is at a path now: kind (file, directory, link, other, or None when absent)."""

    kind: str | None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    target: str | None = None
    data: bytes | None = None  # read only when content is managed
    entries: dict[str, Entry] = field(default_factory=dict)  # recurse: what is inside
    st: os.stat_result | None = None


def _wanted_kind(p: FileParams) -> str | None:
    return {"file": "file", "present": "file", "directory": "directory", "link": "link"}.get(
        p.ensure
    )


def _ids(p: FileParams) -> tuple[int | None, int | None]:
    """uid and gid wanted, or -1 for a name that does not exist (apply then says so)."""
    uid = gid = None
    if p.owner is not None:
        try:
            uid = uid_of(p.owner)
        except ApplyError:
            uid = -1
    if p.group is not None:
        try:
            gid = gid_of(p.group)
        except ApplyError:
            gid = -1
    return uid, gid


class FileType(ResourceType):
    name = "file"
    batch_writes = True

    def current(self, res: Resource, ctx: ApplyContext) -> FileState:
        """One lstat; the content is read only when it is managed; a tree only with recurse.
        Read through the parent directory's descriptor (safepath), never through a link."""
        p: FileParams = res.params
        try:
            at = open_parent(p.path, ctx.caches)
        except MissingParent:
            return FileState(None)
        with at:
            st = at.lstat()
            if st is None:
                return FileState(None)
            state = FileState(kind_of(st), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st=st)
            if state.kind == "link":
                state.target = readlink(at)
            elif state.kind == "file" and p.data is not None and p.replace and p.ensure != "absent":
                state.data, _ = read_file(at)
            elif state.kind == "directory" and p.recurse:
                state.entries = scan(at)
        return state

    def diff(self, cur: FileState, res: Resource, ctx: ApplyContext) -> list[Change]:
        """ensure, content, target, mode, owner, group (and, with recurse, the tree inside)."""
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
                if redact:
                    changes.append(Change("content", REDACTED, REDACTED, redacted=True))
                else:
                    text = unified_diff(old, p.data, p.path) if ctx.want_diff else None
                    changes.append(Change("content", short_digest(old), short_digest(p.data), text))
        if want == "link" and (cur.kind != "link" or cur.target != p.target):
            changes.append(Change("target", cur.target, p.target))
        if want == "link" or (p.ensure == "present" and cur.kind == "link"):
            return changes
        uid, gid = _ids(p)
        mode = int(p.mode, 8) if p.mode is not None else None
        changes.extend(
            _meta_changes(cur, want, dir_mode(mode) if want == "directory" else mode, uid, gid)
        )
        if want == "directory" and _has_tree(p):
            have = cur.entries if cur.kind == "directory" else {}
            changes.extend(tree_changes(have, p, mode, uid, gid, redact, _kept(p, ctx)))
        return changes

    def apply(
        self, res: Resource, cur: FileState, changes: list[Change], ctx: ApplyContext
    ) -> None:
        """Make the path what it should be; the replaced content goes to the backup store."""
        p: FileParams = res.params
        # A sensitive resource's old content is kept (restorable) but marked: never shown.
        backups = BackupStore(ctx.state_dir, res.sensitive) if p.backup else None
        with open_parent(p.path, ctx.caches) as at:
            self._apply_at(at, p, cur, changes, ctx, backups)

    def _apply_at(
        self,
        at: Parent,
        p: FileParams,
        cur: FileState,
        changes: list[Change],
        ctx: ApplyContext,
        backups: BackupStore | None,
    ) -> None:
        if p.ensure == "absent":
            remove(at, cur.kind, p.force, backups)
            return
        uid = uid_of(p.owner) if p.owner is not None else None
        gid = gid_of(p.group) if p.group is not None else None
        mode = int(p.mode, 8) if p.mode is not None else None
        want = _wanted_kind(p)
        if (
            cur.kind is not None
            and cur.kind != want
            and not (p.ensure == "present" and cur.kind == "link")
        ):
            cur = _clear_the_way(at, p, cur, want, backups)
        if want == "link":
            _make_link(at, p, cur, backups)
        elif want == "directory":
            if cur.kind is None:
                make_dir(at, dir_mode(mode))
            set_meta(at, dir_mode(mode), uid, gid)
            if _has_tree(p):
                have = cur.entries if cur.kind else {}
                sync_tree(at, p, have, mode, uid, gid, backups, ctx.batch, _kept(p, ctx))
        elif any(c.attr in ("content", "ensure") for c in changes):
            _write_file(at, p, cur, mode, uid, gid, backups, ctx)
        else:
            set_meta(at, mode, uid, gid)


def _has_tree(p: FileParams) -> bool:
    """The directory's contents are managed: from a source folder, or emptied by purge."""
    return p.tree is not None or (p.recurse and p.purge)


def _kept(p: FileParams, ctx: ApplyContext) -> Protected:
    """What purge must leave inside this directory: the paths other resources manage."""
    return Protected.under(p.path, ctx.managed)


def _meta_changes(
    cur: FileState, want: str | None, mode: int | None, uid: int | None, gid: int | None
) -> list[Change]:
    exists = cur.kind == want
    changes = []
    if mode is not None and (not exists or cur.mode != mode):
        changes.append(Change("mode", f"{cur.mode:04o}" if exists else None, f"{mode:04o}"))
    if uid is not None and (not exists or cur.uid != uid):
        old = user_name(cur.uid) if exists and cur.uid is not None else None
        changes.append(Change("owner", old, user_name(uid) if uid >= 0 else "(unknown)"))
    if gid is not None and (not exists or cur.gid != gid):
        old = group_name(cur.gid) if exists and cur.gid is not None else None
        changes.append(Change("group", old, group_name(gid) if gid >= 0 else "(unknown)"))
    return changes


def _clear_the_way(
    at: Parent, p: FileParams, cur: FileState, want: str | None, backups: BackupStore | None
) -> FileState:
    """Remove what stands where a different kind of thing belongs: a directory only with force."""
    if cur.kind == "directory" and not p.force:
        raise ApplyError(
            f"{p.path} is a directory", hint=f"set force: true to replace it with a {want}"
        )
    if want == "directory" and not p.force:
        raise ApplyError(
            f"{p.path} is a {cur.kind}, not a directory", hint="set force: true to replace it"
        )
    if cur.kind == "directory" or want == "directory":
        remove(at, cur.kind, True, backups)
        return FileState(None)
    return cur  # a file or link is replaced atomically by the rename that follows


def _write_file(
    at: Parent,
    p: FileParams,
    cur: FileState,
    mode: int | None,
    uid: int | None,
    gid: int | None,
    backups: BackupStore | None,
    ctx: ApplyContext,
) -> None:
    """Write the new content beside the file, validate it, back up the old, rename over
    (now, or when the applier commits the run's write batch)."""
    was_file = cur.kind == "file"
    sweep_temps(at, ctx.swept)
    data = p.data
    if data is None:  # `present` or no content: keep what is there
        data = read_file(at)[0] if was_file else b""
    tmp = write_temp(
        at,
        data,
        mode=mode if mode is not None else (cur.mode if was_file else 0o644),
        uid=uid if uid is not None else (cur.uid if was_file else None),
        gid=gid if gid is not None else (cur.gid if was_file else None),
        sync=ctx.batch is None,
    )
    try:
        if p.validate:
            validate_temp(p.validate, at, tmp, p.path)
        if backups is not None and was_file:
            old = cur.data if cur.data is not None else read_file(at)[0]
            backups.save(p.path, old, cur.st, ctx.batch)
    except BaseException:
        os.unlink(tmp, dir_fd=at.fd)
        raise
    finish_write(at, tmp, ctx.batch)


def _make_link(at: Parent, p: FileParams, cur: FileState, backups: BackupStore | None) -> None:
    """Create the link beside the path and rename it over, so the path is never missing."""
    assert p.target is not None
    if cur.kind == "file" and backups is not None:
        data, st = read_file(at)
        backups.save(p.path, data, st)
    make_link(at, p.target)


TYPE: Any = FileType()
