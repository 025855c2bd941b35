"""What the service providers share: the state they read, the interface they implement, and
how they run their tools."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gitpuppet.command import CommandResult, run_command
from gitpuppet.errors import ApplyError
from gitpuppet.types import provider as base

# A clean environment for the init system's tools: the agent's own (a venv's PATH, a user's
# pager or colours) is not theirs to see.
TOOL_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "SYSTEMD_COLORS": "0",
    "SYSTEMD_PAGER": "",
    "SYSTEMD_LESS": "",
}
READ_TIMEOUT = 30
# Long enough for the init system's own start/stop timeouts (systemd: 90 s each way, so a
# restart may take 180 s) to fire first and say what went wrong.
ACTION_TIMEOUT = 300

# The words of `enable` as reported and compared: the schema's true/false/mask.
ENABLE_WORDS = {True: "true", False: "false", "mask": "mask"}
RUNNING, STOPPED, MISSING = "running", "stopped", "missing"


@dataclass(frozen=True, slots=True)
class ServiceState:
    """A service as its init system reports it.

    `active` is running or stopped, or the init system's word for a state in between
    (activating, deactivating). `enabled` is true, false or mask, or the init system's word for
    a unit that can be neither enabled nor disabled (static, transient).
    """

    unit: str
    found: bool
    active: str
    enabled: str
    can_reload: bool = True
    need_daemon_reload: bool = False
    main_pid: int = 0


class Provider(base.Provider):
    """One init system's way of reading and changing services (where it works and where it is
    the default: gitpuppet/types/provider.py)."""

    def unit_name(self, name: str) -> str:
        """The name the init system knows the service by (`nginx` -> `nginx.service`)."""
        raise NotImplementedError

    def read(self, unit: str) -> ServiceState:
        """The service's current state (read only)."""
        raise NotImplementedError

    def not_found(self, unit: str) -> ApplyError:
        """The error for a service that does not exist on this machine."""
        raise NotImplementedError

    def prepare(self, state: ServiceState) -> None:
        """Anything due before acting on the service (systemd: daemon-reload after unit files
        changed on disk)."""

    def set_enable(self, state: ServiceState, want: str) -> None:
        """Enable, disable or mask (`want` is true, false or mask)."""
        raise NotImplementedError

    def start(self, state: ServiceState) -> None:
        """Start the service; raise ApplyError with its status when it does not start."""
        raise NotImplementedError

    def stop(self, state: ServiceState) -> None:
        """Stop the service."""
        raise NotImplementedError

    def restart(self, state: ServiceState, reload: bool) -> None:
        """Restart (or reload) a running service."""
        raise NotImplementedError

    def status_output(self, unit: str) -> str:
        """What the init system says about the service, for a failure's output."""
        return ""


def run_tool(
    argv: Sequence[str], timeout: float = READ_TIMEOUT, split_stderr: bool = False
) -> CommandResult:
    """Run an init-system tool in the clean environment; the result, whatever the exit code.
    `split_stderr` keeps its notes ("redirecting to systemd-sysv-install") out of stdout."""
    return run_command(list(argv), timeout=timeout, env=TOOL_ENV, split_stderr=split_stderr)


def check_tool(argv: Sequence[str], what: str, timeout: float = ACTION_TIMEOUT) -> CommandResult:
    """Run a tool that must succeed; raise ApplyError saying `what` failed, with its output."""
    result = run_tool(argv, timeout)
    if result.returncode != 0:
        raise ApplyError(f"{what} failed (exit {result.returncode})", output=result.output)
    return result
