"""File operations relative to an open directory (safepath.Parent): read, write a temp file
and rename it over, make a directory or a link, chown and chmod through a descriptor, remove.
None of them follows a link at the entry itself; a link there is read or replaced, never
written through."""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
import time
from typing import TYPE_CHECKING

from gitpuppet.errors import ApplyError
from gitpuppet.resources.fsutil import STALE_TEMP_SECONDS, WriteBatch, fill_temp
from gitpuppet.resources.safepath import Parent

if TYPE_CHECKING:
    from gitpuppet.backup import BackupStore

_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
TEMP_MARK = ".gitpuppet-"


def read_file(at: Parent) -> tuple[bytes, os.stat_result]:
    """The content of the regular file at `at` (a link or fifo there is an error, not followed)."""
    try:
        fd = os.open(at.name, _READ, dir_fd=at.fd)
    except OSError as exc:
        what = (
            "is a symbolic link" if exc.errno == errno.ELOOP else f"cannot be read: {exc.strerror}"
        )
        raise ApplyError(f"{at.path} {what}") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ApplyError(f"{at.path} is not a regular file")
        return fh.read(), st


def readlink(at: Parent) -> str:
    return os.readlink(at.name, dir_fd=at.fd)


def write_temp(
    at: Parent,
    data: bytes,
    *,
    mode: int | None = None,
    uid: int | None = None,
    gid: int | None = None,
    sync: bool = True,
) -> str:
    """A new temp file beside `at` holding `data` (O_EXCL | O_NOFOLLOW, owner and mode set on
    the descriptor); its name in the directory. Fsynced unless `sync` is false."""
    fd, tmp = -1, ""
    for _ in range(100):
        tmp = f".{at.name}{TEMP_MARK}{secrets.token_hex(4)}"
        try:
            fd = os.open(tmp, _CREATE, 0o600, dir_fd=at.fd)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise ApplyError(f"cannot write in {at.dir_path}: {exc.strerror}") from None
    if fd < 0:
        raise ApplyError(f"cannot write in {at.dir_path}: no free temp name")
    try:
        fill_temp(fd, data, mode=mode, uid=uid, gid=gid, sync=sync)
    except BaseException as exc:
        remove_temp(at, tmp)
        if isinstance(exc, OSError):
            raise ApplyError(f"cannot write {at.path}: {exc.strerror}") from None
        raise
    return tmp


def remove_temp(at: Parent, tmp: str) -> None:
    try:
        os.unlink(tmp, dir_fd=at.fd)
    except OSError:
        pass


def finish_write(at: Parent, tmp: str, batch: WriteBatch | None) -> None:
    """Rename the temp file over the entry (and fsync the directory) now, or at batch commit."""
    if batch is not None and batch.add_at(at.fd, at.st, tmp, at.name, at.path):
        return
    try:
        if batch is not None:  # written without fsync for the batch, which is full
            _fsync_at(at, tmp)
        os.rename(tmp, at.name, src_dir_fd=at.fd, dst_dir_fd=at.fd)
        os.fsync(at.fd)
    except OSError as exc:
        remove_temp(at, tmp)
        raise ApplyError(f"cannot replace {at.path}: {exc.strerror}") from None


def _fsync_at(at: Parent, name: str) -> None:
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=at.fd)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep_temps(at: Parent, swept: set[str] | None = None) -> None:
    """Temp files a killed writer left in the directory (old ones only; see fsutil)."""
    if swept is not None:
        if at.dir_path in swept:
            return
        swept.add(at.dir_path)
        prefix = "."
    else:
        prefix = f".{at.name}{TEMP_MARK}"
    now = time.time()
    try:
        names = os.listdir(at.fd)
    except OSError:
        return
    for name in names:
        if not name.startswith(prefix) or TEMP_MARK not in name:
            continue
        try:
            st = os.stat(name, dir_fd=at.fd, follow_symlinks=False)
            if now - st.st_mtime > STALE_TEMP_SECONDS and not stat.S_ISDIR(st.st_mode):
                os.unlink(name, dir_fd=at.fd)
        except OSError:
            pass


def make_dir(at: Parent, mode: int | None) -> None:
    try:
        os.mkdir(at.name, 0o755 if mode is None else mode, dir_fd=at.fd)
    except OSError as exc:
        raise ApplyError(f"cannot create directory {at.path}: {exc.strerror}") from None


def make_link(at: Parent, target: str) -> None:
    """A link made beside the entry and renamed over it, so the path is never missing."""
    tmp = f".{at.name}{TEMP_MARK}link-{secrets.token_hex(4)}"
    try:
        os.symlink(target, tmp, dir_fd=at.fd)
        os.rename(tmp, at.name, src_dir_fd=at.fd, dst_dir_fd=at.fd)
    except OSError as exc:
        remove_temp(at, tmp)
        raise ApplyError(f"cannot create link {at.path}: {exc.strerror}") from None


def set_meta(at: Parent, mode: int | None, uid: int | None, gid: int | None) -> None:
    """Owner, group and mode of the file or directory at `at`, set on a descriptor opened
    without following a link (a link swapped in meanwhile is an error, never chowned)."""
    if mode is None and uid is None and gid is None:
        return
    try:
        fd = os.open(at.name, _READ, dir_fd=at.fd)
    except OSError as exc:
        what = "is a symbolic link" if exc.errno == errno.ELOOP else f": {exc.strerror}"
        raise ApplyError(f"cannot set owner or mode of {at.path}: it {what}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and not at.guarded:
            raise ApplyError(
                f"{at.path} has {st.st_nlink} hard links in a directory a non-root user can "
                "change: its owner and mode are not set",
                hint="remove the other links, or let gitpuppet replace the file (content)",
            )
        if uid is not None or gid is not None:
            os.fchown(fd, -1 if uid is None else uid, -1 if gid is None else gid)
        if mode is not None:
            os.fchmod(fd, mode)
    except OSError as exc:
        raise ApplyError(f"cannot set owner or mode of {at.path}: {exc.strerror}") from None
    finally:
        os.close(fd)


def remove(at: Parent, kind: str | None, force: bool, backups: BackupStore | None) -> None:
    """Remove a file, link or (empty, or with force any) directory at `at`, never through a
    link; a file's content is backed up first."""
    try:
        if kind == "directory":
            _remove_dir(at, force)
            return
        if kind == "file" and backups is not None:
            data, st = read_file(at)
            backups.save(at.path, data, st)
        os.unlink(at.name, dir_fd=at.fd)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ApplyError(f"cannot remove {at.path}: {exc.strerror}") from None


def _remove_dir(at: Parent, force: bool) -> None:
    if not force:
        try:
            os.rmdir(at.name, dir_fd=at.fd)
            return
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise ApplyError(
                    f"{at.path} is a directory that is not empty",
                    hint="set force: true to remove it with its contents",
                ) from None
            raise
    # The descriptor-based rmtree: never follows a link, inside or at the top.
    shutil.rmtree(at.name, dir_fd=at.fd)
