"""The systemd provider: `systemctl show` to read, start/stop/enable/disable/mask to change."""

from __future__ import annotations

import os
from collections.abc import Sequence

from gitpuppet.errors import ApplyError
from gitpuppet.types.service.common import (
    ACTION_TIMEOUT,
    RUNNING,
    STOPPED,
    Provider,
    ServiceState,
    check_tool,
    run_tool,
)

SYSTEMCTL = ("systemctl", "--no-ask-password")
PROPERTIES = (
    "Id",
    "LoadState",
    "ActiveState",
    "UnitFileState",
    "CanReload",
    "NeedDaemonReload",
    "MainPID",
)
UNIT_SUFFIXES = (
    ".service",
    ".socket",
    ".target",
    ".timer",
    ".path",
    ".mount",
    ".automount",
    ".swap",
    ".slice",
    ".scope",
    ".device",
)
# ActiveState -> running/stopped; the states in between (activating, deactivating) stay as
# they are, so they never look converged and a start or stop waits for the job in flight.
ACTIVE = {"active": RUNNING, "reloading": RUNNING, "inactive": STOPPED, "failed": STOPPED}
# UnitFileState -> the words of `enable`. `indirect` means the unit itself is not enabled
# (only the units in its Also=). States missing here (static, transient, bad) are kept as
# they are: they can be neither enabled nor disabled.
ENABLED = {
    "enabled": "true",
    "enabled-runtime": "true",
    "disabled": "false",
    "linked": "false",
    "linked-runtime": "false",
    "indirect": "false",
    "masked": "mask",
    "masked-runtime": "mask",
}
NO_INSTALL_SECTION = "no installation config"


def unit_name(name: str) -> str:
    """`nginx` -> `nginx.service`; a name with a unit suffix (`foo.timer`) stays as it is."""
    if not name or "/" in name or name.startswith("-") or any(c.isspace() for c in name):
        raise ApplyError(f"'{name}' is not a systemd unit name")
    return name if name.endswith(UNIT_SUFFIXES) else name + ".service"


def parse_show(text: str, count: int) -> list[dict[str, str]]:
    """The `systemctl show` output for `count` units: one block of KEY=value lines per unit,
    in the order they were asked for, blocks separated by an empty line."""
    blocks = text.strip("\n").split("\n\n")
    if len(blocks) != count:
        raise ApplyError(f"systemctl show printed {len(blocks)} blocks for {count} units")
    return [
        dict(line.split("=", 1) for line in block.splitlines() if "=" in line) for block in blocks
    ]


def show_units(units: Sequence[str]) -> list[dict[str, str]]:
    """The properties gitpuppet needs of every unit in `units`, in one `systemctl show` call."""
    argv = [*SYSTEMCTL, "show", "--property=" + ",".join(PROPERTIES), "--", *units]
    result = run_tool(argv, split_stderr=True)
    if result.returncode != 0:
        raise ApplyError(f"systemctl show failed (exit {result.returncode})", output=result.output)
    return parse_show(result.stdout, len(units))


def state_of(unit: str, props: dict[str, str], enabled: str | None = None) -> ServiceState:
    """A ServiceState from `systemctl show` properties (`enabled` when read another way)."""
    found = props.get("LoadState", "") != "not-found"
    file_state = props.get("UnitFileState", "")
    active = props.get("ActiveState", "")
    pid = props.get("MainPID", "0")
    return ServiceState(
        unit=unit,
        found=found,
        active=ACTIVE.get(active, active or "unknown"),
        enabled=enabled or ENABLED.get(file_state, file_state or "unknown"),
        can_reload=props.get("CanReload") == "yes",
        need_daemon_reload=props.get("NeedDaemonReload") == "yes",
        main_pid=int(pid) if pid.isdigit() else 0,
    )


class SystemdProvider(Provider):
    name = "systemd"
    default_for = {"init": ("systemd",)}

    def confine(self) -> str | None:
        if not os.path.isdir("/run/systemd/system"):
            return "systemd is not running on this machine (there is no /run/systemd/system)"
        return None

    def unit_name(self, name: str) -> str:
        return unit_name(name)

    def read(self, unit: str) -> ServiceState:
        props = show_units([unit])[0]
        enabled = None
        if props.get("UnitFileState") == "generated":
            # A unit made from an init script: systemctl asks the script's rc links.
            enabled = self._is_enabled(unit)
        return state_of(unit, props, enabled)

    @staticmethod
    def _is_enabled(unit: str) -> str:
        argv = [*SYSTEMCTL, "is-enabled", "--", unit]
        word = run_tool(argv, split_stderr=True).stdout.strip()
        return ENABLED.get(word, word or "unknown")

    def not_found(self, unit: str) -> ApplyError:
        return ApplyError(
            f"unit {unit} not found: install its package first (a package resource) "
            "or check the name"
        )

    def prepare(self, state: ServiceState) -> None:
        if state.need_daemon_reload:
            # A unit file or drop-in changed on disk (often by a file resource of this run):
            # without this, systemd would start or restart the unit with its old settings.
            check_tool([*SYSTEMCTL, "daemon-reload"], "systemctl daemon-reload")

    def set_enable(self, state: ServiceState, want: str) -> None:
        unit = state.unit
        if want == "mask":
            self._mask(unit)
            return
        if state.enabled == "static":
            raise _static(unit)
        if state.enabled == "mask":
            check_tool([*SYSTEMCTL, "unmask", "--", unit], f"systemctl unmask {unit}")
        verb = "enable" if want == "true" else "disable"
        result = check_tool([*SYSTEMCTL, verb, "--", unit], f"systemctl {verb} {unit}")
        if NO_INSTALL_SECTION in result.output:
            # systemctl says so and exits 0, changing nothing.
            raise _static(unit)

    @staticmethod
    def _mask(unit: str) -> None:
        result = run_tool([*SYSTEMCTL, "mask", "--", unit], ACTION_TIMEOUT)
        if result.returncode == 0:
            return
        if "already exists" in result.output:
            # A mask is a link to /dev/null in /etc/systemd/system, where this unit's own file
            # is: systemctl will not replace it.
            raise ApplyError(
                f"cannot mask {unit}: its unit file is in /etc/systemd/system, where the mask "
                "would have to replace it",
                output=result.output,
                hint="use enable: false, or remove the unit file (a file resource with "
                "ensure: absent)",
            )
        raise ApplyError(
            f"systemctl mask {unit} failed (exit {result.returncode})", output=result.output
        )

    def start(self, state: ServiceState) -> None:
        self._act("start", state.unit)

    def stop(self, state: ServiceState) -> None:
        self._act("stop", state.unit)

    def restart(self, state: ServiceState, reload: bool) -> None:
        if reload and not state.can_reload:
            raise ApplyError(
                f"{state.unit} cannot reload (it has no ExecReload=)",
                hint="use restart: restart, or give the unit an ExecReload=",
            )
        self._act("reload" if reload else "restart", state.unit)

    def _act(self, verb: str, unit: str) -> None:
        result = run_tool([*SYSTEMCTL, verb, "--", unit], ACTION_TIMEOUT)
        if result.returncode != 0:
            raise ApplyError(
                f"{unit} failed to {verb} (systemctl {verb} exited {result.returncode})",
                output=(result.output + "\n" + self.status_output(unit)).strip("\n"),
            )

    def status_output(self, unit: str) -> str:
        argv = [*SYSTEMCTL, "status", "--no-pager", "--full", "--lines=20", "--", unit]
        return run_tool(argv).output


def _static(unit: str) -> ApplyError:
    return ApplyError(
        f"{unit} is static (its unit file has no [Install] section): systemd cannot enable "
        "it; it starts when another unit needs it",
        hint="remove `enable`, or use `enable: mask` to keep it from ever starting",
    )
