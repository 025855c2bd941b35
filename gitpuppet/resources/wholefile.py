"""Files a type owns whole (a sysctl.d drop-in, an apt .sources file and its key): read, write
and remove them through safepath/fsat, so a link planted on the way or at the file itself is
never followed, and the replaced content goes into the backup store first."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from gitpuppet.backup import BackupStore
from gitpuppet.errors import ApplyError
from gitpuppet.model import REDACTED, Change
from gitpuppet.resources.base import ApplyContext
from gitpuppet.resources.fsat import finish_write, read_file, remove, sweep_temps, write_temp
from gitpuppet.resources.fsutil import unified_diff
from gitpuppet.resources.safepath import MissingParent, open_parent


@dataclass(slots=True)
class WholeFile:
    """A file as read: `kind` is None when nothing is there (or its directory is missing)."""

    path: str
    kind: str | None = None  # file, link, directory or other
    data: bytes | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None


def _kind(st: os.stat_result) -> str:
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISLNK(st.st_mode):
        return "link"
    return "directory" if stat.S_ISDIR(st.st_mode) else "other"


def read_whole(path: str, ctx: ApplyContext) -> WholeFile:
    """What is at `path` now, read without following a link (read only)."""
    try:
        at = open_parent(path, ctx.caches)
    except MissingParent:
        return WholeFile(path)
    with at:
        st = at.lstat()
        if st is None:
            return WholeFile(path)
        found = WholeFile(path, _kind(st), None, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
        if found.kind == "file":
            found.data, _ = read_file(at)
        return found


def content_changes(
    cur: WholeFile,
    new: bytes,
    attr: str,
    sensitive: bool,
    ctx: ApplyContext,
    mode: int = 0o644,
) -> list[Change]:
    """What differs between the file now and `new`, root-owned with `mode`, reported under
    `attr` (`attr`, `attr mode`, `attr owner`) (pure)."""
    changes: list[Change] = []
    if cur.kind != "file" or cur.data != new:
        old_text = _size(cur.data) if cur.kind in ("file", None) else cur.kind
        if sensitive:
            changes.append(Change(attr, REDACTED, REDACTED, redacted=True))
        else:
            text = unified_diff(cur.data, new, cur.path) if ctx.want_diff else None
            changes.append(Change(attr, old_text, _size(new), text))
    if cur.kind == "file" and cur.mode != mode:
        changes.append(Change(f"{attr} mode", f"{cur.mode:04o}", f"{mode:04o}"))
    if cur.kind == "file" and (cur.uid, cur.gid) != (0, 0):
        changes.append(Change(f"{attr} owner", f"{cur.uid}:{cur.gid}", "0:0"))
    return changes


def _size(data: bytes | None) -> str:
    if data is None:
        return "absent"
    return f"{len(data.splitlines())} lines" if b"\0" not in data else f"{len(data)} bytes"


def write_whole(
    path: str, data: bytes, ctx: ApplyContext, sensitive: bool = False, mode: int = 0o644
) -> None:
    """Replace `path` with `data`, root-owned: temp file beside it, fsync, rename; the old
    content is backed up. A directory at the path is an error, a link is replaced."""
    with open_parent(path, ctx.caches) as at:
        st = at.lstat()
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise ApplyError(f"{path} is a directory", hint="remove it, or choose another name")
        sweep_temps(at)
        old = read_file(at) if st is not None and stat.S_ISREG(st.st_mode) else None
        if old is not None and old[0] == data and _root_owned(old[1], mode):
            return
        tmp = write_temp(at, data, mode=mode, uid=0, gid=0)
        try:
            if old is not None and old[0] != data:
                BackupStore(ctx.state_dir, sensitive).save(at.path, old[0], old[1])
        except BaseException:
            os.unlink(tmp, dir_fd=at.fd)
            raise
        finish_write(at, tmp, None)


def _root_owned(st: os.stat_result, mode: int) -> bool:
    return stat.S_IMODE(st.st_mode) == mode and (st.st_uid, st.st_gid) == (0, 0)


def remove_whole(path: str, ctx: ApplyContext, sensitive: bool = False) -> None:
    """Remove the file (or link) at `path`, its content backed up; nothing there is fine."""
    try:
        at = open_parent(path, ctx.caches)
    except MissingParent:
        return
    with at:
        st = at.lstat()
        if st is None:
            return
        kind = _kind(st)
        if kind == "directory":
            raise ApplyError(f"{path} is a directory, not a file gitpuppet wrote")
        remove(at, kind, False, BackupStore(ctx.state_dir, sensitive))
        os.fsync(at.fd)
