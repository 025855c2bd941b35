"""Safe writes and reads of the files gitpuppet keeps for itself (state, reports, metrics, backups).

gitpuppet runs as root, and some of the folders it writes in may be writable by someone else (the
node_exporter textfile folder belongs to the exporter's user on Debian). So a write never opens a
name that someone could have planted: the temp file gets a random name and is created with
O_CREAT|O_EXCL|O_NOFOLLOW, and the rename that puts it in place replaces a planted link instead
of following it. A read opens with O_NOFOLLOW, so a link planted at state.json is refused, not
read through.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path

from gitpuppet.errors import GitpuppetError

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
TEMP_TRIES = 100


class StateWriteError(GitpuppetError):
    """A file of gitpuppet's own could not be written (full disk, read-only, refused folder)."""

    exit_code = 4

    def __init__(
        self, path: str | os.PathLike[str], reason: str, errno_: int | None = None
    ) -> None:
        super().__init__(f"cannot write {path}: {reason}")
        self.path = str(path)
        self.reason = reason
        self.errno = errno_

    @classmethod
    def of(cls, path: str | os.PathLike[str], exc: OSError, what: str = "") -> StateWriteError:
        """The error for `exc` raised while writing `path`."""
        return cls(path, what + _reason(exc), exc.errno)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _create_temp(directory: str, name: str) -> tuple[int, str]:
    """A new file with a random name beside `name` in `directory`, opened for writing."""
    for _ in range(TEMP_TRIES):
        tmp = os.path.join(directory, f".{name}.{secrets.token_hex(8)}.tmp")
        try:
            return os.open(tmp, _CREATE, 0o600), tmp
        except FileExistsError:
            continue  # someone's file by that very name: pick another
    raise FileExistsError(errno.EEXIST, "no free temp file name", directory)


def write_atomic(
    path: str | os.PathLike[str], data: bytes, *, mode: int = 0o600, sync: bool = True
) -> None:
    """Replace `path` with `data`: temp file (random name, O_EXCL|O_NOFOLLOW), fchmod, fsync,
    rename, fsync the folder. The file is old or new, never partial; a planted link at `path`
    is replaced, never written through. Raises StateWriteError naming `path`.

    `sync=False` skips both fsyncs (a file rewritten every run, where losing one update to a
    power cut is harmless)."""
    target = os.fspath(path)
    directory, name = os.path.split(target)
    directory = directory or "."
    try:
        fd, tmp = _create_temp(directory, name)
    except OSError as exc:
        raise StateWriteError.of(target, exc) from None
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, mode)  # whatever the umask
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, target)
    except OSError as exc:
        _unlink(tmp)
        raise StateWriteError.of(target, exc) from None
    except BaseException:
        _unlink(tmp)  # an interrupt must not leave a temp file behind
        raise
    if sync:
        try:
            fsync_dir(directory)
        except OSError as exc:
            raise StateWriteError.of(target, exc, "cannot sync its folder: ") from None


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """fsync a folder, so a rename in it is durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_nofollow(path: str | os.PathLike[str]) -> bytes:
    """The content of the regular file `path`; OSError (ELOOP) when it is a symlink, and
    IsADirectoryError or OSError for anything but a regular file."""
    fd = os.open(path, _READ | os.O_NONBLOCK)  # a planted FIFO must not hang the run
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def open_append_nofollow(path: str | os.PathLike[str], mode: int = 0o600) -> int:
    """A file descriptor appending to `path` (created if missing), never through a link."""
    return os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, mode)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# --- who could change the state dir -----------------------------------------------------------


class UnsafeStateDir(GitpuppetError):
    """The state dir, or a folder above it, can be changed by a user other than root."""


def unsafe_reason(st: os.stat_result) -> str | None:
    """Why a folder with this lstat is not root's alone, or None."""
    if stat.S_ISLNK(st.st_mode):
        return f"is a symlink owned by uid {st.st_uid}" if st.st_uid != 0 else None
    if st.st_uid != 0:
        return f"is owned by uid {st.st_uid}"
    writable = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if writable and not st.st_mode & stat.S_ISVTX:
        who = "its group" if writable == stat.S_IWGRP else "other users"
        return f"is writable by {who} (mode {stat.S_IMODE(st.st_mode):04o}, no sticky bit)"
    return None


def _chain(path: Path) -> list[Path]:
    """`path` and every folder above it."""
    return [path, *path.parents]


def check_root_only(state_dir: str | os.PathLike[str]) -> None:
    """Refuse a state dir that a non-root user could change, when running as root.

    Checked: the folder and each one above it, both as written (a symlink on the way counts:
    its own folder is checked) and as resolved. Each must be owned by root and not writable by
    group or others unless sticky (/tmp is fine). Folders that do not exist yet are skipped:
    gitpuppet creates them itself, owned by root, 0755."""
    if os.geteuid() != 0:
        return  # not root: nobody gains anything by making this user write elsewhere
    given = Path(os.path.abspath(state_dir))
    resolved = Path(os.path.realpath(given))
    seen: set[Path] = set()
    for folder in [*_chain(given), *_chain(resolved)]:
        if folder in seen:
            continue
        seen.add(folder)
        try:
            st = os.lstat(folder)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise UnsafeStateDir(f"cannot check the state dir {given}: {folder}: {_reason(exc)}")
        reason = unsafe_reason(st)
        if reason is not None:
            where = "" if folder in (given, resolved) else f" (above the state dir {given})"
            raise UnsafeStateDir(
                f"refusing the state dir {given}: {folder}{where} {reason}, so a local user "
                "could make root overwrite any file",
                f"chown root:root {folder} && chmod go-w {folder}, or use another state_dir",
            )
