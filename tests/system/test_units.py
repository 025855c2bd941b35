"""The units of systemd/ in a really booted systemd (a throwaway nspawn container, see container.py).

`gitpuppet run` is not what these tests exercise: drop-ins replace ExecStart= with small shell
commands (or `gitpuppet --version`), so what is checked is the units themselves: they verify,
load, enable, schedule, count exit codes 2 and 3 as success, keep background daemons alive, and
do not sandbox away what a root configuration run needs.
"""

from __future__ import annotations

import re
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .container import UNIT_NAMES, Container, host_mirror, render_unit

pytestmark = pytest.mark.system

UNIT_DIR = "/etc/systemd/system"
INTERVAL, SPLAY = "1800s", "600s"


def systemctl(box: Container, *args: str, check: bool = True) -> str:
    """Run systemctl inside; return its stdout, stripped."""
    return box.exec(["systemctl", "--no-pager", *args], check=check).stdout.strip()


def show(box: Container, unit: str, *props: str) -> dict[str, str]:
    """`systemctl show -p ...` as a mapping."""
    out = systemctl(box, "show", unit, *(f"--property={p}" for p in props))
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def override(box: Container, unit: str, service_lines: str) -> None:
    """Replace a unit's [Service] settings with a drop-in (ExecStart= is reset first)."""
    body = "[Service]\nExecStart=\n" + textwrap.dedent(service_lines).strip() + "\n"
    box.write_file(f"{UNIT_DIR}/{unit}.d/test.conf", body)
    systemctl(box, "daemon-reload")


def journal_cursor(box: Container) -> str:
    """The journal's current end, to read only what comes after it."""
    out = box.exec(["journalctl", "-n", "1", "--show-cursor", "-o", "cat"], check=True).stdout
    return out.rsplit("-- cursor: ", 1)[1].strip()


def wait_journal(box: Container, cursor: str, needle: str, timeout: float = 5) -> str:
    """The journal after `cursor`, once it holds `needle` (journald takes a stream's lines
    asynchronously, so they may land just after `systemctl start` returns)."""
    deadline = time.monotonic() + timeout
    while True:
        argv = ["journalctl", f"--after-cursor={cursor}", "-o", "cat", "--no-pager"]
        log = box.exec(argv, check=True).stdout
        if needle in log or time.monotonic() > deadline:
            assert needle in log, f"{needle!r} not in the journal:\n{log}"
            return log
        time.sleep(0.05)


@pytest.fixture
def installed_units(container: Container) -> Iterator[Container]:
    """The three units, placeholders substituted, in a clean state; stopped again afterwards."""
    box = container
    for name in UNIT_NAMES:
        text = render_unit(name, gitpuppet=box.gitpuppet, interval=INTERVAL, splay=SPLAY)
        box.write_file(f"{UNIT_DIR}/{name}", text)
        box.exec(["rm", "-rf", f"{UNIT_DIR}/{name}.d"], check=True)
    systemctl(box, "daemon-reload")
    yield box
    # The timer's OnBootSec= has long passed in a container (it shares the host's monotonic
    # clock): leave nothing running that could start the real `gitpuppet run` later.
    systemctl(box, "disable", "--now", *UNIT_NAMES, check=False)
    systemctl(box, "reset-failed", check=False)


def test_unit_files_have_only_known_placeholders() -> None:
    """Bootstrap's contract: @GITPUPPET@ in both services, @INTERVAL@ and @SPLAY@ in the timer."""
    units = Path(__file__).resolve().parents[2] / "systemd"
    expected = {
        "gitpuppet.service": {"@GITPUPPET@"},
        "gitpuppet-agent.service": {"@GITPUPPET@"},
        "gitpuppet.timer": {"@INTERVAL@", "@SPLAY@"},
    }
    for name, placeholders in expected.items():
        found = set(re.findall(r"@[A-Z_]+@", (units / name).read_text()))
        assert found == placeholders, name
        rendered = render_unit(name, gitpuppet=Path("/opt/gp/bin/gitpuppet"))
        assert "@" not in rendered.replace("@GITPUPPET", "")


def test_host_mirror_reads_deb822_and_one_line_sources(tmp_path: Path) -> None:
    """The image is built from the mirror the host's apt uses, in either sources format."""
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d/debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.test/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\nTypes: deb\nURIs: http://mirror.test/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main contrib\n"
    )
    assert host_mirror(tmp_path) == "http://mirror.test/debian"
    (tmp_path / "sources.list").write_text(
        "# deb http://commented.test/debian bookworm main\n"
        "deb http://updates.test/debian bookworm-updates main\n"
        "deb [ signed-by=/k.gpg arch=amd64 ] http://one.test/debian bookworm contrib main\n"
    )
    assert host_mirror(tmp_path) == "http://one.test/debian"


def test_gitpuppet_runs_inside(container: Container) -> None:
    """The repo's venv, bound read-only at the same path, runs inside the container."""
    done = container.exec([str(container.gitpuppet), "--version"], check=True)
    assert "gitpuppet, version" in done.stdout


def test_units_verify(installed_units: Container) -> None:
    """`systemd-analyze verify` finds nothing to say about any of the three units."""
    paths = [f"{UNIT_DIR}/{name}" for name in UNIT_NAMES]
    done = installed_units.exec(["systemd-analyze", "verify", *paths])
    assert done.returncode == 0, done.stderr
    assert "gitpuppet" not in done.stderr, done.stderr


def test_timer_is_enabled_scheduled_and_splayed(installed_units: Container) -> None:
    """enable --now: enabled, active, listed by list-timers with the substituted interval/splay."""
    box = installed_units
    systemctl(box, "enable", "--now", "gitpuppet.timer")
    assert systemctl(box, "is-enabled", "gitpuppet.timer") == "enabled"
    assert systemctl(box, "is-active", "gitpuppet.timer") == "active"
    listed = systemctl(box, "list-timers", "--all", "--no-legend", "gitpuppet.timer")
    assert re.search(r"gitpuppet\.timer\s+gitpuppet\.service", listed), listed
    props = show(box, "gitpuppet.timer", "RandomizedDelayUSec", "FixedRandomDelay", "Persistent")
    assert props == {"RandomizedDelayUSec": "10min", "FixedRandomDelay": "yes", "Persistent": "yes"}
    timers = systemctl(box, "show", "gitpuppet.timer", "--property=TimersMonotonic")
    assert "OnUnitInactiveUSec=30min" in timers and "OnBootUSec=1min" in timers, timers


def test_service_runs_gitpuppet(installed_units: Container) -> None:
    """The oneshot service runs the bound gitpuppet (here `--version`) and succeeds."""
    box = installed_units
    cursor = journal_cursor(box)
    override(box, "gitpuppet.service", f"ExecStart={box.gitpuppet} --version")
    systemctl(box, "start", "gitpuppet.service")
    log = wait_journal(box, cursor, "gitpuppet, version")
    assert "gitpuppet.service: Deactivated successfully." in log, log


@pytest.mark.parametrize(
    ("code", "success"), [(0, True), (2, True), (3, True), (1, False), (4, False), (6, False)]
)
def test_exit_codes_2_and_3_count_as_success(
    installed_units: Container, code: int, success: bool
) -> None:
    """Changes (2) and skipped (3) are normal runs; nothing applied (1) or failures (4, 6) fail."""
    box = installed_units
    cursor = journal_cursor(box)
    override(box, "gitpuppet.service", f"ExecStart=/bin/sh -c 'echo run-exits-{code}; exit {code}'")
    started = box.exec(["systemctl", "start", "gitpuppet.service"])
    log = wait_journal(box, cursor, f"run-exits-{code}")
    state = systemctl(box, "is-failed", "gitpuppet.service", check=False)
    if success:
        assert started.returncode == 0, started.stderr
        assert "gitpuppet.service: Deactivated successfully." in log, log
        assert state == "inactive"
    else:
        # A failed unit stays loaded, so its runtime properties are there to read (a successful
        # oneshot is unloaded at once, and `show` would print defaults).
        assert started.returncode != 0
        assert "gitpuppet.service: Failed with result 'exit-code'." in log, log
        assert state == "failed"
        props = show(box, "gitpuppet.service", "Result", "ExecMainStatus")
        assert props == {"Result": "exit-code", "ExecMainStatus": str(code)}


def test_background_daemon_outlives_the_run(installed_units: Container) -> None:
    """KillMode=process: a daemon a run starts in the background (an exec resource, a sysvinit
    script) is not killed when the oneshot ends. With the default it would be."""
    box = installed_units
    override(
        box,
        "gitpuppet.service",
        "ExecStart=/bin/sh -c 'sleep 300 & echo $! > /run/gitpuppet/daemon.pid'",
    )
    systemctl(box, "start", "gitpuppet.service")
    assert systemctl(box, "is-active", "gitpuppet.service", check=False) == "inactive"
    pid = box.read_file("/run/gitpuppet/daemon.pid").strip()
    alive = box.exec(["kill", "-0", pid])
    box.exec(["kill", pid])
    assert alive.returncode == 0, "the background process was killed when the run ended"


def test_service_environment_lets_a_root_run_work(installed_units: Container) -> None:
    """The run's process: gentle (nice, fd limit), runtime and state dirs kept, and none of the
    sandboxing that would stop a configuration run (shared /tmp, writable /usr and /root, setuid)."""
    box = installed_units
    script = (
        "ulimit -n; nice; umask; grep NoNewPrivs /proc/self/status; "
        "touch /tmp/from-run /usr/local/from-run /root/from-run"
    )
    override(box, "gitpuppet.service", f"ExecStart=/bin/sh -c '({script}) > /run/gitpuppet/env'")
    systemctl(box, "start", "gitpuppet.service")
    lines = box.read_file("/run/gitpuppet/env").split("\n")
    # PID 1 cannot raise a limit over its own hard limit (the container inherits the host's).
    limits = box.read_file("/proc/1/limits")
    hard = re.search(r"Max open files\s+\S+\s+(\S+)", limits)
    assert hard, limits
    nofile = "65536" if hard[1] == "unlimited" else str(min(65536, int(hard[1])))
    assert lines[:4] == [nofile, "10", "0022", "NoNewPrivs:\t0"], lines
    for path in ("/tmp/from-run", "/usr/local/from-run", "/root/from-run"):
        assert box.exec(["test", "-e", path]).returncode == 0, f"{path} not visible after the run"
    # RuntimeDirectoryPreserve=yes: the lock folder survives the unit's stop.
    assert box.exec(["test", "-d", "/run/gitpuppet"]).returncode == 0
    assert box.exec(["test", "-d", "/var/lib/gitpuppet"]).returncode == 0


def test_agent_replaces_the_timer_and_finishes_its_run_on_stop(installed_units: Container) -> None:
    """Starting the agent stops the timer (Conflicts=); stopping it sends SIGTERM and waits for
    the run in flight to finish instead of killing it."""
    box = installed_units
    systemctl(box, "enable", "--now", "gitpuppet.timer")
    finish = "sleep 1; echo finished > /run/gitpuppet/agent-stopped; exit 0"
    override(
        box,
        "gitpuppet-agent.service",
        f"""ExecStart=/bin/sh -c 'trap "{finish}" TERM; while :; do sleep 0.1; done'""",
    )
    systemctl(box, "start", "gitpuppet-agent.service")
    assert systemctl(box, "is-active", "gitpuppet-agent.service") == "active"
    assert systemctl(box, "is-active", "gitpuppet.timer", check=False) == "inactive"
    props = show(box, "gitpuppet-agent.service", "Restart", "KillMode", "TimeoutStopUSec")
    assert props == {"Restart": "on-failure", "KillMode": "process", "TimeoutStopUSec": "10min"}
    systemctl(box, "stop", "gitpuppet-agent.service")
    assert box.read_file("/run/gitpuppet/agent-stopped") == "finished\n"
    assert show(box, "gitpuppet-agent.service", "Result") == {"Result": "success"}
