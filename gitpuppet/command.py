"""The one way gitpuppet runs an external command: argv lists, a timeout, output captured.

A command runs in its own process group so that a timeout kills everything it started.
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

from gitpuppet.errors import ApplyError

OUTPUT_CAP = 64 * 1024


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


def _tail(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    return text if len(text) <= OUTPUT_CAP else "[...]\n" + text[-OUTPUT_CAP:]


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
    if isinstance(argv, str):
        args = ["/bin/sh", "-c", argv] if shell else shlex.split(argv)
    else:
        args = list(argv)
        if shell:
            args = ["/bin/sh", "-c", " ".join(shlex.quote(a) for a in args)]
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
    try:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if split_stderr else subprocess.STDOUT,
            cwd=cwd,
            env=full_env,
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
    try:
        out, err = proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        so_far, so_far_err = _drain(proc)
        raise CommandTimeout(
            f"{shlex.join(args)} timed out after {timeout:g} s and was killed",
            output=_tail((so_far or b"") + (so_far_err or b"")),
        ) from None
    return CommandResult(
        args, proc.returncode, _tail(out or b""), _tail(err or b""), time.monotonic() - start
    )


def _drain(proc: subprocess.Popen[bytes]) -> tuple[bytes | None, bytes | None]:
    """The output collected so far. A descendant that left the process group (setsid) may still
    hold the pipe open; it is not ours to wait for, so give up after a few seconds."""
    try:
        return proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        proc.wait()
        return b"[output cut: a process that left the command's group kept it open]\n", None


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL after 2 s."""
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
