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


AGENT_MARKER = "agent.lock"


@contextmanager
def agent_marker(run_dir: str | os.PathLike[str]) -> Iterator[None]:
    """Held (flock) while `gitpuppet agent` runs, so `status` can tell a loop exists; a
    killed agent leaves no stale marker behind."""
    path = Path(run_dir) / AGENT_MARKER
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld("another gitpuppet agent is running", f"its marker is {path}") from None
        yield
    finally:
        os.close(fd)


def agent_running(run_dir: str | os.PathLike[str]) -> bool:
    """Whether a `gitpuppet agent` holds its marker in `run_dir` now."""
    try:
        fd = os.open(Path(run_dir) / AGENT_MARKER, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
