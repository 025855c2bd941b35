"""Making file writes durable: a directory's fsync, and the WriteBatch that makes many file
replacements durable together (one syncfs per filesystem) before renaming each in place.

resources/fsutil.py writes the temp files; this module only syncs and renames them.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
