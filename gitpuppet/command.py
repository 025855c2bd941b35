"""The one way gitpuppet runs an external command: argv lists, a timeout, output captured.

A command runs in its own process group so that a timeout kills everything it started. Its
output is read from pipes as it comes and kept up to OUTPUT_CAP (the first and the last part,
"[N bytes cut]" between them), so a command that prints gigabytes costs no memory. The result
is the main process's exit status: once it has exited, a background child that still holds the
output open gets EXIT_GRACE seconds more, then gitpuppet stops reading (the child keeps running,
as under Puppet; a later write of it to that output fails).
"""

from __future__ import annotations

import os
import pwd
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gitpuppet.command_output import OUTPUT_CAP, PipeReader
from gitpuppet.errors import ApplyError

__all__ = ["OUTPUT_CAP", "CommandResult", "CommandTimeout", "run_command"]

# After the main process exits: how long a background child holding the output open is waited for.
EXIT_GRACE = 0.5
# After a timeout kill: how long the output is still read (a process that left the group may
# hold it open for ever).
DRAIN_AFTER_KILL = 5.0
LEFT_OPEN = "[output cut: a process that left the command's group kept it open]\n"


@dataclass(slots=True)
class CommandResult:
    """Exit code, output (stdout and stderr interleaved unless split), and time taken."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        """Everything the command printed (stderr is already in stdout unless split)."""
        return self.stdout + self.stderr


class CommandTimeout(ApplyError):
    """The command ran past its timeout and was killed with its whole process group."""


def run_command(
    argv: Sequence[str] | str,
    *,
    timeout: float = 300,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    user: str | int | None = None,
    group: str | int | None = None,
    input: bytes | None = None,
    shell: bool = False,
    split_stderr: bool = False,
) -> CommandResult:
    """Run a command and return its result; never raises for a non-zero exit.

    `argv` is a list, or a string only with `shell=True` (then run by /bin/sh -c).
    Raises CommandTimeout when it runs too long, ApplyError when it cannot start.
    """
    args = _argv(argv, shell)
    full_env = dict(os.environ if env is None else env)
    if user is not None:
        try:
            entry = pwd.getpwnam(user) if isinstance(user, str) else pwd.getpwuid(user)
        except KeyError:
            raise ApplyError(f"user '{user}' does not exist") from None
        full_env.update(HOME=entry.pw_dir, USER=entry.pw_name, LOGNAME=entry.pw_name)
        if group is None:
            group = entry.pw_gid
    start = time.monotonic()
    proc = _start(args, cwd, full_env, user, group, input is not None, split_stderr)
    reader: PipeReader | None = None
    try:
        reader = PipeReader(proc, input)
        if not _wait(proc, reader, start + timeout):
            _kill_group(proc)
            if not reader.pump(time.monotonic() + DRAIN_AFTER_KILL):
                reader.out.add(LEFT_OPEN.encode())
            raise CommandTimeout(
                f"{shlex.join(args)} timed out after {timeout:g} s and was killed",
                output=reader.out.text() + (reader.err.text() if reader.err else ""),
            )
    except BaseException:
        # A timeout, or a second SIGTERM/SIGINT ending gitpuppet at once: nothing of the
        # command may outlive it unwatched.
        _kill_group(proc)
        raise
    finally:
        if reader is not None:
            reader.close()
    return CommandResult(
        args,
        proc.returncode,
        reader.out.text(),
        reader.err.text() if reader.err else "",
        time.monotonic() - start,
    )


def _argv(argv: Sequence[str] | str, shell: bool) -> list[str]:
    if isinstance(argv, str):
        return ["/bin/sh", "-c", argv] if shell else shlex.split(argv)
    args = list(argv)
    if shell:
        return ["/bin/sh", "-c", " ".join(shlex.quote(a) for a in args)]
    return args


def _start(
    args: list[str],
    cwd: str | None,
    env: dict[str, str],
    user: str | int | None,
    group: str | int | None,
    has_input: bool,
    split_stderr: bool,
) -> subprocess.Popen[bytes]:
    """Start the command in a new session (its own process group), or say why it cannot."""
    try:
        return subprocess.Popen(
            args,
            stdin=subprocess.PIPE if has_input else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if split_stderr else subprocess.STDOUT,
            cwd=cwd,
            env=env,
            user=user,
            group=group,
            extra_groups=[] if user is not None else None,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        missing = exc.filename if exc.filename and exc.filename != cwd else args[0]
        if cwd and not os.path.isdir(cwd):
            raise ApplyError(f"working directory {cwd} does not exist") from None
        raise ApplyError(f"command not found: {missing}") from None
    except PermissionError as exc:
        raise ApplyError(f"cannot run {args[0]}: {exc.strerror}") from None


def _wait(proc: subprocess.Popen[bytes], reader: PipeReader, deadline: float) -> bool:
    """Read the output until the main process has exited (True) or the deadline passed (False).

    The output ends at EOF, or EXIT_GRACE after the exit when a background child keeps it open.
    """
    reader.pump(deadline, exit_grace=EXIT_GRACE)
    if proc.poll() is not None:
        return True
    try:  # the pipes were closed, but the process runs on (`exec >&-; sleep 9`)
        proc.wait(timeout=max(deadline - time.monotonic(), 0))
        return True
    except subprocess.TimeoutExpired:
        return False


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL after 2 s."""
    if proc.returncode is not None:
        # Reaped: its pid (and group id) may belong to another process by now.
        return
    for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
