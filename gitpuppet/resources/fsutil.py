"""Filesystem helpers shared by the types that write files: atomic writes, owners, diffs."""

from __future__ import annotations

import difflib
import functools
import glob
import grp
import os
import pwd
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from gitpuppet.errors import ApplyError

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


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


@dataclass(slots=True)
class _Staged:
    tmp: str
    path: str | None  # None: only made durable, not renamed (an appended index, say)
    owner: object
    # Set for a write through an open directory (safepath.Parent): `tmp` and `name` are
    # entries of it, `path` is only for messages.
    dir_fd: int | None = None
    name: str = ""

    def fsync_temp(self) -> None:
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.tmp, flags, dir_fd=self.dir_fd)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def device(self) -> int:
        if self.dir_fd is not None:
            return os.fstat(self.dir_fd).st_dev
        return os.stat(self.tmp).st_dev

    def rename(self) -> None:
        if self.dir_fd is None:
            assert self.path is not None
            os.rename(self.tmp, self.path)
        else:
            os.rename(self.tmp, self.name, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)

    def remove(self) -> None:
        try:
            os.unlink(self.tmp, dir_fd=self.dir_fd)
        except OSError:
            pass


class WriteBatch:
    """File replacements made durable together instead of one by one.

    Temp files are written without fsync; `commit` then makes them durable at once (one
    syncfs(2) per filesystem, or an fsync per file for a few), renames each over its path in
    the order staged, and fsyncs each directory once. Every path is old or new at any moment,
    exactly as with fsync + rename per file; a run killed before commit leaves only temp files,
    which remove_stale_temps clears. One ext4 journal commit instead of two per file is what
    makes converging a thousand files fast.

    A write through an open directory (`add_at`) keeps a duplicate of that directory's
    descriptor, one per directory, until commit: the rename happens in that very directory
    even if a link was swapped in on its path meanwhile.
    """

    FEW = 8  # below this, an fsync per temp file is cheaper than syncing the filesystem
    MAX_DIRS = 256  # open directories held at most; past that, add_at declines

    def __init__(self) -> None:
        self.owner: object = None  # who stages now (the applier sets it per resource)
        self._staged: list[_Staged] = []
        self._dirs: dict[tuple[int, int], int] = {}  # (device, inode) -> our descriptor

    def __len__(self) -> int:
        return len(self._staged)

    def add(self, tmp: str, path: str) -> None:
        self._staged.append(_Staged(tmp, path, self.owner))

    def add_at(self, dir_fd: int, dir_st: os.stat_result, tmp: str, name: str, path: str) -> bool:
        """Stage the rename of entry `tmp` over `name` in the open directory `dir_fd`; False
        (nothing staged) when the batch holds too many directories already."""
        key = (dir_st.st_dev, dir_st.st_ino)
        fd = self._dirs.get(key)
        if fd is None:
            if len(self._dirs) >= self.MAX_DIRS:
                return False
            fd = self._dirs[key] = os.dup(dir_fd)
        self._staged.append(_Staged(tmp, path, self.owner, fd, name))
        return True

    def sync_also(self, path: str) -> None:
        """Make `path` (written in place) durable with the batch, before any rename."""
        self._staged.append(_Staged(path, None, self.owner))

    def drop(self, owner: object) -> None:
        """Forget (and delete) what `owner` staged: its resource failed before commit."""
        keep = []
        for s in self._staged:
            if s.owner != owner:
                keep.append(s)
            elif s.path is not None:
                s.remove()
        self._staged = keep

    def abort(self) -> None:
        for s in self._staged:
            if s.path is not None:
                s.remove()
        self._staged = []
        self._close_dirs()

    def _close_dirs(self) -> None:
        for fd in self._dirs.values():
            os.close(fd)
        self._dirs = {}

    def commit(self) -> dict[object, str]:
        """Sync, rename, fsync directories; returns owner -> error for what could not be done."""
        staged, self._staged = self._staged, []
        try:
            return _commit(staged)
        finally:
            self._close_dirs()


def _commit(staged: list[_Staged]) -> dict[object, str]:
    failed = _sync_temps(staged)
    dirs: dict[str | int, list[object]] = {}
    for s in staged:
        if s.path is None:
            continue
        if s.owner in failed:
            s.remove()
            continue
        try:
            s.rename()
        except OSError as exc:
            s.remove()
            failed[s.owner] = f"cannot replace {s.path}: {exc.strerror}"
            continue
        key = s.dir_fd if s.dir_fd is not None else os.path.dirname(s.path) or "."
        dirs.setdefault(key, []).append(s.owner)
    for directory, owners in dirs.items():
        try:
            if isinstance(directory, int):
                os.fsync(directory)
            else:
                fsync_dir(directory)
        except OSError as exc:
            for owner in owners:
                failed.setdefault(owner, f"cannot sync {directory}: {exc.strerror}")
    return failed


def _sync_temps(staged: list[_Staged]) -> dict[object, str]:
    """Make every staged temp file durable; owner -> error for those that could not be."""
    failed: dict[object, str] = {}
    if len(staged) < WriteBatch.FEW:
        for s in staged:
            try:
                s.fsync_temp()
            except OSError as exc:
                failed.setdefault(s.owner, f"cannot write {s.path or s.tmp}: {exc.strerror}")
        return failed
    by_device: dict[int, list[_Staged]] = {}
    for s in staged:
        try:
            by_device.setdefault(s.device(), []).append(s)
        except OSError as exc:
            failed.setdefault(s.owner, f"cannot write {s.path or s.tmp}: {exc.strerror}")
    for group in by_device.values():
        first = group[0]
        where: str | int = (
            first.dir_fd if first.dir_fd is not None else os.path.dirname(first.tmp) or "."
        )
        error = _syncfs(where)
        if error:
            for s in group:
                failed.setdefault(s.owner, f"cannot write {s.path or s.tmp}: {error}")
    return failed


def _syncfs(directory: str | int) -> str | None:
    """syncfs(2) on the filesystem holding `directory` (a path or an open descriptor); an error
    text, or None."""
    import ctypes  # here: only a run that batches many writes needs it

    if isinstance(directory, int):
        fd = directory
    else:
        try:
            fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            return exc.strerror
    try:
        if _libc().syncfs(fd) != 0:
            return os.strerror(ctypes.get_errno())
    finally:
        if fd is not directory:
            os.close(fd)
    return None


@functools.cache
def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


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
