"""The run lock: one run at a time per machine (flock on a file under run_dir, SPEC §7.2)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gitpuppet.errors import GitpuppetError


class LockHeld(GitpuppetError):
    """Another run holds the lock: the run is skipped (exit 3)."""

    exit_code = 3


def holder_pid(lock_file: Path) -> int | None:
    """The pid written by the run holding the lock, if readable."""
    try:
        return int(lock_file.read_text().strip() or "0") or None
    except (OSError, ValueError):
        return None


@contextmanager
def run_lock(lock_file: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive, non-blocking flock on `lock_file`; raise LockHeld when it is taken.

    flock (not a pid file) so a killed run never leaves a stale lock behind.
    """
    path = Path(lock_file)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = holder_pid(path)
            raise LockHeld(
                f"another run is in progress (pid {pid if pid else 'unknown'})",
                f"the lock is {path}; this run is skipped",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)
