"""`gitpuppet bootstrap`: write the config, clone, install the timer (or cron job), run once."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitpuppet.config import DEFAULT_PATH
from gitpuppet.errors import GitpuppetError

UNITS = ("gitpuppet.service", "gitpuppet.timer", "gitpuppet-agent.service")
UNIT_DIR = Path("/etc/systemd/system")
CRON_FILE = Path("/etc/cron.d/gitpuppet")


@dataclass
class BootstrapPlan:
    """What bootstrap does: the config values, where it goes, and how runs are scheduled."""

    config_path: Path
    settings: dict[str, Any]
    schedule: str  # "timer", "cron" or "none"


def default_schedule() -> str:
    """The timer where systemd is PID 1, cron otherwise (SPEC §7.3)."""
    return "timer" if Path("/run/systemd/system").exists() else "cron"


def gitpuppet_executable() -> str:
    """The absolute path of the running gitpuppet executable (for ExecStart and cron)."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "gitpuppet" and argv0.exists():
        return str(argv0.resolve())
    found = shutil.which("gitpuppet")
    if found:
        return str(Path(found).resolve())
    beside = Path(sys.executable).parent / "gitpuppet"
    if beside.exists():
        return str(beside)
    raise GitpuppetError("cannot find the gitpuppet executable", "install gitpuppet into PATH")


def unit_source_dir() -> Path:
    """The systemd/ folder shipped with gitpuppet (package data, or the source checkout)."""
    here = Path(__file__).resolve().parent.parent
    installed = Path(sys.prefix) / "share" / "gitpuppet" / "systemd"
    for candidate in (here / "systemd", here.parent / "systemd", installed):
        if (candidate / "gitpuppet.service").is_file():
            return candidate
    raise GitpuppetError("the systemd unit files are not installed with gitpuppet")


def systemd_span(seconds: float) -> str:
    """A systemd time span."""
    return f"{int(seconds)}s"


def systemd_word(value: str) -> str:
    """One word of an Exec*= line: specifiers (%) and variables ($) escaped, quoted if needed."""
    text = value.replace("%", "%%").replace("$", "$$")
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_units(
    executable: str, interval: float, splay: float, config_path: Path | None = None
) -> dict[str, str]:
    """The unit texts with @GITPUPPET@, @INTERVAL@ and @SPLAY@ substituted.

    A config other than the default is passed on every ExecStart= line (`--config PATH`), so
    the timer's runs and the agent read the config bootstrap wrote.
    """
    src = unit_source_dir()
    extra = ""
    if config_path is not None and Path(config_path) != Path(DEFAULT_PATH):
        extra = f" --config {systemd_word(str(config_path))}"
    out = {}
    for name in UNITS:
        text = (src / name).read_text()
        text = text.replace("@GITPUPPET@", systemd_word(executable))
        text = text.replace("@INTERVAL@", systemd_span(interval))
        text = text.replace("@SPLAY@", systemd_span(splay))
        out[name] = re.sub(r"(?m)^(ExecStart=.*\S)\s*$", lambda m: m[1] + extra, text)
    return out


def install_timer(
    executable: str,
    interval: float,
    splay: float,
    unit_dir: Path = UNIT_DIR,
    config_path: Path | None = None,
) -> None:
    """Write the units, daemon-reload, enable --now the timer."""
    unit_dir.mkdir(parents=True, exist_ok=True)
    for name, text in render_units(executable, interval, splay, config_path).items():
        (unit_dir / name).write_text(text)
        os.chmod(unit_dir / name, 0o644)
    for argv in (
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "--now", "gitpuppet.timer"],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise GitpuppetError(f"`{' '.join(argv)}` failed: {done.stderr.strip()}")


def cron_text(executable: str, interval: float, config_path: Path) -> str:
    """/etc/cron.d/gitpuppet: `gitpuppet run` every interval (minutes, at least one)."""
    minutes = max(1, round(interval / 60))
    if minutes < 60:
        when = f"*/{minutes} * * * *"
    else:
        hours = max(1, round(minutes / 60))
        when = f"0 */{hours} * * *" if hours < 24 else "0 0 * * *"
    return (
        "# gitpuppet runs (written by gitpuppet bootstrap); the run's splay spreads the load\n"
        "SHELL=/bin/sh\nPATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
        f"{when} root {_cron_word(executable)} run --quiet --config {_cron_word(str(config_path))}\n"
    )


def _cron_word(value: str) -> str:
    # cron turns an unescaped % into a newline, even inside the shell's quotes.
    return shlex.quote(value).replace("%", "\\%")


def install_cron(
    executable: str, interval: float, config_path: Path, cron_file: Path = CRON_FILE
) -> None:
    """Write the cron.d file (0644, as cron requires)."""
    cron_file.parent.mkdir(parents=True, exist_ok=True)
    cron_file.write_text(cron_text(executable, interval, config_path))
    os.chmod(cron_file, 0o644)
