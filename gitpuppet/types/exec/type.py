"""`exec`: run a command when its guards say so (creates, onlyif, unless), or on refresh."""

from __future__ import annotations

import os
import pwd
import shlex
import time
from typing import Any

from gitpuppet.command import CommandResult, CommandTimeout, run_command
from gitpuppet.contract import ApplyContext, ResourceType
from gitpuppet.errors import ApplyError
from gitpuppet.model import Change, Resource
from gitpuppet.types.exec.spec import ExecParams


def _env(p: ExecParams) -> dict[str, str]:
    # A clean environment (the agent's own, under systemd, is not the user's business), but with
    # HOME/USER set, since many tools (git, pip) need a home; run_command replaces them for `user`.
    me = pwd.getpwuid(os.geteuid())
    env = {
        "PATH": ":".join(p.path),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": me.pw_dir,
        "USER": me.pw_name,
        "LOGNAME": me.pw_name,
    }
    env.update(p.environment)
    return env


def _argv(p: ExecParams, command: str) -> list[str] | str:
    if p.shell:
        return command
    argv = shlex.split(command)
    if argv and "/" not in argv[0]:
        for folder in p.path:
            candidate = os.path.join(folder, argv[0])
            if os.access(candidate, os.X_OK):
                argv[0] = candidate
                break
    return argv


def _run(p: ExecParams, command: str, timeout: float) -> CommandResult:
    try:
        return run_command(
            _argv(p, command),
            timeout=timeout,
            cwd=p.cwd,
            env=_env(p),
            user=p.user,
            group=p.group,
            shell=p.shell,
        )
    except CommandTimeout as exc:
        # The resource's reference already names the command; leaving it out of the message
        # keeps a sensitive command out of reports.
        which = "command" if command == p.command else "guard command"
        raise CommandTimeout(
            f"{which} timed out after {timeout:g} s and was killed (raise `timeout` if it needs "
            "longer)",
            output=exc.output,
        ) from None


def should_run(p: ExecParams) -> tuple[bool, str]:
    """Whether the guards let the command run now, and why not."""
    if p.creates and os.path.lexists(p.creates):
        return False, f"{p.creates} exists"
    if p.onlyif is not None and _run(p, p.onlyif, p.timeout).returncode != 0:
        return False, "onlyif returned non-zero"
    if p.unless is not None and _run(p, p.unless, p.timeout).returncode == 0:
        return False, "unless returned 0"
    return True, ""


class ExecType(ResourceType):
    name = "exec"
    verify_after_apply = False  # running it is the change; there is no state to read again
    refreshable = True

    def current(self, res: Resource, ctx: ApplyContext) -> bool:
        p: ExecParams = res.params
        if p.refreshonly:
            return False
        return should_run(p)[0]

    def diff(self, cur: Any, res: Resource, ctx: ApplyContext) -> list[Change]:
        return [Change("executed", "notrun", res.params.returns)] if cur else []

    def apply(self, res: Resource, cur: Any, changes: list[Change], ctx: ApplyContext) -> None:
        self.execute(res.params)

    def refresh(self, res: Resource, ctx: ApplyContext) -> str | None:
        p: ExecParams = res.params
        ok, why = should_run(p)
        if not ok:
            return f"not run on refresh: {why}"
        self.execute(p)
        return "ran on refresh"

    @staticmethod
    def execute(p: ExecParams) -> CommandResult:
        """Run the command up to `tries` times; an exit code not in `returns` fails."""
        result: CommandResult | None = None
        for attempt in range(1, p.tries + 1):
            result = _run(p, p.command, p.timeout)
            if result.returncode in p.returns:
                return result
            if attempt < p.tries and p.try_sleep:
                time.sleep(p.try_sleep)
        assert result is not None
        tries = f" after {p.tries} tries" if p.tries > 1 else ""
        raise ApplyError(
            f"command exited {result.returncode}{tries} "
            f"(expected {', '.join(map(str, p.returns))})",
            output=result.output,
        )


TYPE: Any = ExecType()
