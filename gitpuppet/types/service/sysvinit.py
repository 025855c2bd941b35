"""The sysvinit provider: LSB init scripts in /etc/init.d run through `service`, and their rc
links kept by update-rc.d (Debian, Ubuntu)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from gitpuppet.command import OUTPUT_CAP
from gitpuppet.errors import ApplyError
from gitpuppet.types.service.common import (
    ACTION_TIMEOUT,
    RUNNING,
    STOPPED,
    TOOL_ENV,
    Provider,
    ServiceState,
    run_tool,
)

INIT_D = Path("/etc/init.d")
ETC = Path("/etc")
# The runlevels of a normal boot: a service is enabled when it has a start link in one of them.
BOOT_RUNLEVELS = ("S", "2", "3", "4", "5")
# LSB status exit codes: 0 running; 1 dead with a pid file, 2 dead with a lock file, 3 not
# running. 4 (unknown) and anything else say nothing.
STOPPED_CODES = (1, 2, 3)
# Runs a command with its output in a file named by $1 instead of our pipe: a daemon that an
# init script starts without closing its stdout would otherwise keep the pipe open, and the
# run would wait for it until the timeout.
TO_FILE = 'out=$1; shift; exec "$@" >"$out" 2>&1 </dev/null'


def script_name(name: str) -> str:
    """The init script's name: `nginx` or `nginx.service` -> `nginx`."""
    base = name.removesuffix(".service")
    if not base or "/" in base or base.startswith(("-", ".")) or any(c.isspace() for c in base):
        raise ApplyError(f"'{name}' is not an init script name")
    return base


def rc_links(name: str, etc: Path = ETC) -> tuple[bool, bool]:
    """(any start or kill link at all, a start link in a boot runlevel) for script `name`."""
    any_link = enabled = False
    for folder in sorted(etc.glob("rc?.d")):
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for entry in entries:
            if len(entry) > 3 and entry[0] in "SK" and entry[1:3].isdigit() and entry[3:] == name:
                any_link = True
                if entry[0] == "S" and folder.name[2] in BOOT_RUNLEVELS:
                    enabled = True
    return any_link, enabled


class SysvinitProvider(Provider):
    name = "sysvinit"
    default_for = {"init": ("sysvinit",)}

    def confine(self) -> str | None:
        if not INIT_D.is_dir():
            return f"there is no {INIT_D} on this machine"
        return None

    def unit_name(self, name: str) -> str:
        return script_name(name)

    def read(self, unit: str) -> ServiceState:
        script = INIT_D / unit
        if not (script.is_file() and os.access(script, os.X_OK)):
            return ServiceState(unit, found=False, active=STOPPED, enabled="false")
        result = run_tool(self._command(unit, "status"))
        code = result.returncode
        if code != 0 and "usage" in result.output.lower():
            raise ApplyError(
                f"{script} has no status action, so gitpuppet cannot tell whether it runs",
                output=result.output,
            )
        if code != 0 and code not in STOPPED_CODES:
            raise ApplyError(
                f"cannot tell whether {unit} runs: its status action exited {code}",
                output=result.output,
            )
        return ServiceState(
            unit, found=True, active=RUNNING if code == 0 else STOPPED, enabled=self._enabled(unit)
        )

    @staticmethod
    def _enabled(unit: str) -> str:
        return "true" if rc_links(unit)[1] else "false"

    @staticmethod
    def _command(unit: str, action: str) -> list[str]:
        # `service` runs the script as init would (clean environment, from /); without it, the
        # script itself.
        if shutil.which("service", path=TOOL_ENV["PATH"]):
            return ["service", unit, action]
        return [str(INIT_D / unit), action]

    def not_found(self, unit: str) -> ApplyError:
        return ApplyError(
            f"init script {INIT_D / unit} not found: install its package first "
            "(a package resource) or check the name"
        )

    def set_enable(self, state: ServiceState, want: str) -> None:
        unit = state.unit
        if want == "mask":
            raise ApplyError(
                "enable: mask needs systemd (sysvinit cannot mask a service)",
                hint="use enable: false",
            )
        if shutil.which("update-rc.d", path=TOOL_ENV["PATH"]) is None:
            raise ApplyError(
                "enabling or disabling an init script needs update-rc.d (Debian, Ubuntu), "
                "which this machine does not have"
            )
        has_links = rc_links(unit)[0]
        if want == "true":
            # `defaults` creates the links only where there are none; `enable` turns kill
            # links into start links where there are.
            steps = ([] if has_links else ["defaults"]) + ["enable"]
        else:
            # No links at all: record "disabled" as kill links, so that a later package
            # install's `update-rc.d defaults` does not enable it behind our back.
            steps = ["disable"] if has_links else ["defaults-disabled"]
        for step in steps:
            if step == "enable" and rc_links(unit)[1]:
                continue
            self._run(["update-rc.d", unit, step], f"update-rc.d {unit} {step}")

    def start(self, state: ServiceState) -> None:
        self._action(state.unit, "start")

    def stop(self, state: ServiceState) -> None:
        self._action(state.unit, "stop")

    def restart(self, state: ServiceState, reload: bool) -> None:
        self._action(state.unit, "reload" if reload else "restart")

    def _action(self, unit: str, action: str) -> None:
        self._run(self._command(unit, action), f"service {unit} {action}", with_status=unit)

    def _run(self, argv: Sequence[str], what: str, with_status: str | None = None) -> None:
        code, output = run_to_file(argv)
        if code != 0:
            if with_status is not None:
                output = (output + "\n" + self.status_output(with_status)).strip("\n")
            raise ApplyError(f"{what} failed (exit {code})", output=output)

    def status_output(self, unit: str) -> str:
        return run_tool(self._command(unit, "status")).output


def run_to_file(argv: Sequence[str], timeout: float = ACTION_TIMEOUT) -> tuple[int, str]:
    """Run `argv` with its output going to a temporary file; (exit code, output)."""
    fd, path = tempfile.mkstemp(prefix="gitpuppet-service-")
    os.close(fd)
    try:
        result = run_tool(["/bin/sh", "-c", TO_FILE, "sh", path, *argv], timeout)
        with open(path, "rb") as out:
            size = os.fstat(out.fileno()).st_size
            out.seek(max(0, size - OUTPUT_CAP))
            text = out.read().decode("utf-8", errors="replace")
    finally:
        os.unlink(path)
    return result.returncode, result.output + text
