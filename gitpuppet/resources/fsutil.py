"""Filesystem helpers shared by the types that write files: owners, temp files and atomic
writes, diffs. Making writes durable (fsync_dir, the WriteBatch) is resources/durable.py."""

from __future__ import annotations

import difflib
import glob
import grp
import os
import pwd
import tempfile
import time

from gitpuppet.errors import ApplyError
from gitpuppet.resources.durable import WriteBatch, fsync_dir

DIFF_LIMIT = 256 * 1024
STALE_TEMP_SECONDS = 3600


def uid_of(owner: str | int) -> int:
    """A user name or id as a uid; a clear error when the user does not exist."""
    if isinstance(owner, int) or owner.isdigit():
        return int(owner)
    try:
        return pwd.getpwnam(owner).pw_uid
    except KeyError:
        raise ApplyError(
            f"owner '{owner}' does not exist", hint="create it first (a user resource)"
        ) from None


def gid_of(group: str | int) -> int:
    """A group name or id as a gid; a clear error when the group does not exist."""
    if isinstance(group, int) or group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ApplyError(
            f"group '{group}' does not exist", hint="create it first (a group resource)"
        ) from None


def user_name(uid: int) -> str | int:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return uid


def group_name(gid: int) -> str | int:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return gid


def fill_temp(
    fd: int, data: bytes, *, mode: int | None, uid: int | None, gid: int | None, sync: bool
) -> None:
    """Write `data` into the new temp file `fd` (closed after), set its owner and mode (0644
    unless given), and fsync it when `sync`."""
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        if uid is not None or gid is not None:
            os.fchown(fh.fileno(), -1 if uid is None else uid, -1 if gid is None else gid)
        os.fchmod(fh.fileno(), 0o644 if mode is None else mode)
        if sync:
            os.fsync(fh.fileno())


def write_temp(
    path: str,
    data: bytes,
    *,
    mode: int | None = None,
    uid: int | None = None,
    gid: int | None = None,
    sync: bool = True,
) -> str:
    """Write `data` to a new temp file beside `path` (with owner and mode); its name.
    The file is fsynced unless `sync` is false (a WriteBatch makes it durable later)."""
    directory, name = os.path.split(path)
    if not os.path.isdir(directory or "."):
        raise ApplyError(
            f"parent directory {directory} does not exist",
            hint=f"declare it (file: {directory}, ensure: directory) or create it",
        )
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.gitpuppet-", dir=directory or ".")
    except OSError as exc:
        raise ApplyError(f"cannot write in {directory}: {exc.strerror}") from None
    try:
        fill_temp(fd, data, mode=mode, uid=uid, gid=gid, sync=sync)
    except OSError as exc:
        _remove(tmp)
        raise ApplyError(f"cannot write {path}: {exc.strerror}") from None
    except BaseException:
        _remove(tmp)
        raise
    return tmp


def remove_stale_temps(path: str, swept: set[str] | None = None) -> None:
    """Temp files that a killed writer left beside `path`. Runs hold a lock, so an old one is
    nobody's; "old" is well past the validate timeout, to be safe with a concurrent restore.
    With `swept` (the directories already cleaned in this run), a directory is listed once, so
    writing many files into one directory stays linear."""
    directory, name = os.path.split(path)
    directory = directory or "."
    if swept is not None:
        if directory in swept:
            return
        swept.add(directory)
        pattern = ".*.gitpuppet-*"
    else:
        pattern = f".{glob.escape(name)}.gitpuppet-*"
    now = time.time()
    for stale in glob.glob(os.path.join(glob.escape(directory), pattern)):
        try:
            if now - os.lstat(stale).st_mtime > STALE_TEMP_SECONDS:
                os.unlink(stale)
        except OSError:
            pass


def commit_temp(tmp: str, path: str) -> None:
    """Rename a temp file over `path` and fsync the directory: the file is old or new, never partial."""
    try:
        os.rename(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise ApplyError(f"cannot replace {path}: {exc.strerror}") from None
    fsync_dir(os.path.dirname(path) or ".")


def atomic_write(
    path: str,
    data: bytes,
    *,
    mode: int | None = None,
    uid: int | None = None,
    gid: int | None = None,
) -> None:
    """Replace `path` with `data` atomically (temp file in the same directory, fsync, rename)."""
    remove_stale_temps(path)
    commit_temp(write_temp(path, data, mode=mode, uid=uid, gid=gid), path)


def finish_write(tmp: str, path: str, batch: WriteBatch | None) -> None:
    """Put a temp file from write_temp(sync=batch is None) in place now, or at batch commit."""
    if batch is None:
        commit_temp(tmp, path)
    else:
        batch.add(tmp, path)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def is_text(data: bytes) -> bool:
    if b"\0" in data[:8192]:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def unified_diff(old: bytes | None, new: bytes | None, path: str) -> str | None:
    """A unified diff of two contents, or None for binary or very large content."""
    old_b, new_b = old or b"", new or b""
    if (
        len(old_b) > DIFF_LIMIT
        or len(new_b) > DIFF_LIMIT
        or not (is_text(old_b) and is_text(new_b))
    ):
        return None
    lines = difflib.unified_diff(
        old_b.decode().splitlines(keepends=True),
        new_b.decode().splitlines(keepends=True),
        fromfile=path if old is not None else "/dev/null",
        tofile=path,
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)
