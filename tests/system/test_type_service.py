"""The `service` type against a really booted systemd (a throwaway nspawn container, see
container.py): `gitpuppet apply` runs inside the container on a small control repo, and
systemctl says what happened.

Test units count their starts and reloads in /run/<unit>.starts and /run/<unit>.reloads
(ExecStartPre=, ExecReload=), so "restarted exactly once" is a count, not a guess.

The sysvinit provider runs in the same container, in a mount namespace where /run/systemd is
hidden under an empty tmpfs: there `service` runs the init scripts itself (it only hands them
to systemctl when /run/systemd/system exists), update-rc.d only edits rc links, and the `init`
fact says sysvinit, so the provider is chosen from the facts as on a real sysvinit machine.
"""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from gitpuppet.errors import ApplyError
from gitpuppet.model import Change
from gitpuppet.types.service.common import ServiceState
from gitpuppet.types.service.spec import ServiceParams
from gitpuppet.types.service.systemd import parse_show, state_of, unit_name
from gitpuppet.types.service.sysvinit import rc_links, script_name
from gitpuppet.types.service.type import (
    TYPE,
    choose_provider,
    enable_satisfied,
    service_changes,
)

from .container import Container

pytestmark = pytest.mark.system

UNIT_DIR = "/etc/systemd/system"
# Where packages put their units; only these can be masked (a mask is a /dev/null link in
# /etc/systemd/system, which a unit file of the admin's own there would have to make way for).
PACKAGE_UNIT_DIR = "/usr/lib/systemd/system"
PACKAGED = ("gp-mask", "gp-conflict")
# Runs a command with /run/systemd hidden: a machine without systemd, as far as it can tell.
NO_SYSTEMD = ["unshare", "-m", "/bin/sh", "-c", 'mount -t tmpfs gp-nosd /run/systemd && "$@"']


def counted_unit(name: str, install: bool = True, reload: bool = True, extra: str = "") -> str:
    """A `sleep infinity` service that counts its starts (and reloads) under /run."""
    lines = [
        "[Unit]",
        f"Description=gitpuppet test unit {name}",
        "[Service]",
        f"ExecStartPre=/bin/sh -c 'echo start >> /run/{name}.starts'",
        "ExecStart=/bin/sleep infinity",
    ]
    if reload:
        lines.append(f"ExecReload=/bin/sh -c 'echo reload >> /run/{name}.reloads'")
    lines += [line for line in extra.splitlines() if line]
    if install:
        lines += ["[Install]", "WantedBy=multi-user.target"]
    return "\n".join(lines) + "\n"


UNITS = {
    "gp-run": counted_unit("gp-run"),
    "gp-stop": counted_unit("gp-stop"),
    "gp-mask": counted_unit("gp-mask"),
    "gp-conflict": counted_unit("gp-conflict"),
    "gp-noop": counted_unit("gp-noop"),
    "gp-refresh": counted_unit("gp-refresh"),
    "gp-reload": counted_unit("gp-reload"),
    "gp-noreload": counted_unit("gp-noreload", reload=False),
    "gp-fresh": counted_unit("gp-fresh"),
    "gp-idle": counted_unit("gp-idle"),
    "gp-enrefresh": counted_unit("gp-enrefresh"),
    "gp-etcmask": counted_unit("gp-etcmask"),
    "gp-static": counted_unit("gp-static", install=False),
    "gp-broken": counted_unit(
        "gp-broken", extra="ExecStartPre=/bin/sh -c 'echo gp-broken-says-no >&2; exit 3'"
    ),
    "gp-oneshot": "[Service]\nType=oneshot\nExecStart=/bin/true\n"
    "[Install]\nWantedBy=multi-user.target\n",
}

SYSV_SCRIPT = """\
#!/bin/sh
### BEGIN INIT INFO
# Provides:          {name}
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: gitpuppet test daemon
### END INIT INFO
. /lib/lsb/init-functions
PIDFILE=/run/{name}.pid
case "$1" in
  start)
    echo start >> /run/{name}.starts
    {start}
    ;;
  stop)
    start-stop-daemon --stop --quiet --oknodo --pidfile $PIDFILE --remove-pidfile --retry 5
    ;;
  status) status_of_proc -p $PIDFILE /bin/sleep {name} ;;
  reload) echo reload >> /run/{name}.reloads ;;
  restart|force-reload) "$0" stop && "$0" start ;;
  *) echo "Usage: $0 {{start|stop|status|restart|reload}}"; exit 3 ;;
esac
"""
SSD_START = (
    "start-stop-daemon --start --quiet --oknodo --background --make-pidfile "
    "--pidfile $PIDFILE --startas /bin/sleep -- infinity"
)
# A daemon that keeps the init script's stdout open (no redirect, no daemonizing).
STICKY_START = "/bin/sleep 600 & echo $! > $PIDFILE"


@dataclass
class Run:
    """One `gitpuppet apply --json` inside the container."""

    code: int
    report: dict[str, Any]
    stderr: str
    seconds: float

    def res(self, ref: str) -> dict[str, Any]:
        for entry in self.report.get("resources", []):
            if entry["ref"] == ref:
                return dict(entry)
        raise AssertionError(f"{ref} not in the report: {self.report}")

    def changes(self, ref: str) -> dict[str, tuple[Any, Any]]:
        return {c["attribute"]: (c["old"], c["new"]) for c in self.res(ref)["changes"]}


def apply(box: Container, name: str, resources: str, *flags: str, no_systemd: bool = False) -> Run:
    """Write a control repo whose one class declares `resources` (YAML list items) and apply
    it inside the container; `name` keeps the repo and state dir of each test apart."""
    repo = f"/root/cr-{name}"
    box.write_file(f"{repo}/nodes.yaml", "box.example.com:\n  classes: [main]\n")
    body = textwrap.indent(textwrap.dedent(resources).strip(), "  ")
    box.write_file(f"{repo}/classes/main.yaml", f"resources:\n{body}\n")
    argv = [str(box.gitpuppet), "apply", repo, "--node", "box.example.com", "--json"]
    argv += ["--state-dir", f"/var/lib/gp-test/{name}", *flags]
    if no_systemd:
        argv = [*NO_SYSTEMD, "sh", *argv]
    start = time.monotonic()
    done = box.exec(argv, timeout=120)
    seconds = time.monotonic() - start
    try:
        report = json.loads(done.stdout) if done.stdout.strip() else {}
    except json.JSONDecodeError:
        raise AssertionError(f"not a report:\n{done.stdout}\n{done.stderr}") from None
    return Run(done.returncode, report, done.stderr, seconds)


def prop(box: Container, unit: str, name: str) -> str:
    return box.exec(["systemctl", "show", f"--property={name}", "--value", unit]).stdout.strip()


def active(box: Container, unit: str) -> str:
    return box.exec(["systemctl", "is-active", unit]).stdout.strip()


def enabled(box: Container, unit: str) -> str:
    return box.exec(["systemctl", "is-enabled", unit]).stdout.strip()


def count(box: Container, path: str) -> int:
    done = box.exec(["cat", path])
    return len(done.stdout.splitlines()) if done.returncode == 0 else 0


def starts(box: Container, unit: str) -> int:
    return count(box, f"/run/{unit}.starts")


def reloads(box: Container, unit: str) -> int:
    return count(box, f"/run/{unit}.reloads")


def systemctl(box: Container, *args: str) -> None:
    box.exec(["systemctl", *args], check=True)


@pytest.fixture(scope="module")
def box(container: Container) -> Iterator[Container]:
    """The module's container with every test unit installed (one daemon-reload)."""
    for name, text in UNITS.items():
        folder = PACKAGE_UNIT_DIR if name in PACKAGED else UNIT_DIR
        container.write_file(f"{folder}/{name}.service", text)
    systemctl(container, "daemon-reload")
    yield container


# --- pure pieces: names, parsing, the difference ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("nginx", "nginx.service"),
        ("nginx.service", "nginx.service"),
        ("php8.2-fpm", "php8.2-fpm.service"),
        ("getty@tty1", "getty@tty1.service"),
        ("apt-daily.timer", "apt-daily.timer"),
        ("docker.socket", "docker.socket"),
    ],
)
def test_unit_name_adds_service_suffix(name: str, unit: str) -> None:
    assert unit_name(name) == unit


@pytest.mark.parametrize("bad", ["", "-x", "a/b", "two words"])
def test_unit_name_rejects_what_is_no_unit(bad: str) -> None:
    with pytest.raises(ApplyError, match="not a systemd unit name"):
        unit_name(bad)


def test_script_name() -> None:
    assert script_name("ssh.service") == "ssh"
    assert script_name("ssh") == "ssh"
    with pytest.raises(ApplyError, match="not an init script name"):
        script_name("../x")


def test_parse_show_keeps_order_and_empty_values() -> None:
    text = (
        "MainPID=0\nId=a.service\nLoadState=loaded\nActiveState=inactive\nUnitFileState=disabled"
        "\n\nMainPID=0\nId=b.service\nLoadState=not-found\nActiveState=inactive\nUnitFileState=\n"
    )
    a, b = parse_show(text, 2)
    assert a["Id"] == "a.service" and b["LoadState"] == "not-found" and b["UnitFileState"] == ""
    with pytest.raises(ApplyError, match="2 blocks for 3 units"):
        parse_show(text, 3)


@pytest.mark.parametrize(
    ("props", "active", "enable", "found"),
    [
        ({"ActiveState": "active", "UnitFileState": "enabled"}, "running", "true", True),
        ({"ActiveState": "reloading", "UnitFileState": "enabled-runtime"}, "running", "true", True),
        ({"ActiveState": "failed", "UnitFileState": "disabled"}, "stopped", "false", True),
        ({"ActiveState": "activating", "UnitFileState": "indirect"}, "activating", "false", True),
        (
            {"LoadState": "masked", "ActiveState": "inactive", "UnitFileState": "masked"},
            "stopped",
            "mask",
            True,
        ),
        ({"ActiveState": "inactive", "UnitFileState": "static"}, "stopped", "static", True),
        ({"LoadState": "not-found", "ActiveState": "inactive"}, "stopped", "unknown", False),
    ],
)
def test_state_of_maps_systemd_words(
    props: dict[str, str], active: str, enable: str, found: bool
) -> None:
    state = state_of("x.service", {"LoadState": "loaded", **props})
    assert (state.active, state.enabled, state.found) == (active, enable, found)


def params(**kw: Any) -> ServiceParams:
    return ServiceParams(name="x", **kw)


def st(active: str = "stopped", enabled: str = "false", found: bool = True) -> ServiceState:
    return ServiceState("x.service", found, active, enabled)


@pytest.mark.parametrize(
    ("cur", "p", "expected"),
    [
        (
            st(),
            params(ensure="running", enable=True),
            [("enable", "false", "true"), ("ensure", "stopped", "running")],
        ),
        (st("running", "true"), params(ensure="running", enable=True), []),
        (
            st("running", "true"),
            params(ensure="stopped", enable=False),
            [("enable", "true", "false"), ("ensure", "running", "stopped")],
        ),
        (st("running", "true"), params(), []),
        (st(enabled="mask"), params(enable="mask"), []),
        (st(enabled="true"), params(enable="mask"), [("enable", "true", "mask")]),
        (st(enabled="static"), params(enable=False), []),
        (st(enabled="static"), params(enable=True), [("enable", "static", "true")]),
        (st("activating"), params(ensure="running"), [("ensure", "activating", "running")]),
        (st(found=False), params(ensure="stopped", enable=False), []),
        (st(found=False), params(ensure="running"), [("ensure", "missing", "running")]),
        (st(found=False), params(enable="mask"), [("enable", "missing", "mask")]),
    ],
)
def test_service_changes(cur: ServiceState, p: ServiceParams, expected: list[tuple]) -> None:
    assert [(c.attr, c.old, c.new) for c in service_changes(cur, p)] == expected


def test_only_a_start_or_stop_absorbs_a_refresh() -> None:
    absorbed = TYPE.refresh_absorbed
    assert absorbed([Change("ensure", "stopped", "running")])
    assert absorbed([Change("enable", "false", "true"), Change("ensure", "running", "stopped")])
    assert not absorbed([Change("enable", "false", "true")])


def test_enable_satisfied() -> None:
    assert enable_satisfied("true", "true") and enable_satisfied("static", "false")
    assert not enable_satisfied("static", "true") and not enable_satisfied("mask", "false")


def test_provider_for_unknown_init_says_what_to_do() -> None:
    with pytest.raises(ApplyError, match="no service provider for init system 'openrc'") as exc:
        choose_provider(params(), {"init": "openrc"})
    assert "provider: systemd or provider: sysvinit" in str(exc.value)


def test_rc_links(tmp_path: Any) -> None:
    for folder, link in (("rc2.d", "S01gp"), ("rc0.d", "K01gp"), ("rc3.d", "S01gpx")):
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / link).symlink_to("../init.d/gp")
    assert rc_links("gp", tmp_path) == (True, True)
    assert rc_links("gpx", tmp_path) == (True, True)
    (tmp_path / "rc2.d/S01gp").rename(tmp_path / "rc2.d/K01gp")
    assert rc_links("gp", tmp_path) == (True, False)
    assert rc_links("other", tmp_path) == (False, False)


# --- systemd, for real ------------------------------------------------------------------------


def test_start_and_enable_then_rerun_changes_nothing(box: Container) -> None:
    decl = "- service: gp-run\n  ensure: running\n  enable: true"
    run = apply(box, "run", decl)
    assert run.code == 2, run.report
    assert run.changes("service:gp-run") == {
        "enable": ("false", "true"),
        "ensure": ("stopped", "running"),
    }
    assert active(box, "gp-run") == "active" and enabled(box, "gp-run") == "enabled"
    again = apply(box, "run", decl)
    assert again.code == 0, again.report
    # Unchanged resources are counted, not listed, in reports since issue 8.
    assert again.report["counts"] == {**again.report["counts"], "total": 1, "unchanged": 1}
    assert starts(box, "gp-run") == 1


def test_stop_and_disable(box: Container) -> None:
    systemctl(box, "enable", "--now", "gp-stop")
    decl = "- service: gp-stop.service\n  ensure: stopped\n  enable: false"
    run = apply(box, "stop", decl)
    assert run.code == 2, run.report
    assert run.changes("service:gp-stop.service") == {
        "enable": ("true", "false"),
        "ensure": ("running", "stopped"),
    }
    assert active(box, "gp-stop") == "inactive" and enabled(box, "gp-stop") == "disabled"
    assert apply(box, "stop", decl).code == 0


def test_mask_then_unmask(box: Container) -> None:
    systemctl(box, "enable", "--now", "gp-mask")
    masked = "- service: gp-mask\n  ensure: stopped\n  enable: mask"
    run = apply(box, "mask", masked)
    assert run.code == 2, run.report
    assert run.changes("service:gp-mask") == {
        "enable": ("true", "mask"),
        "ensure": ("running", "stopped"),
    }
    assert enabled(box, "gp-mask") == "masked" and active(box, "gp-mask") == "inactive"
    assert apply(box, "mask", masked).code == 0
    unmasked = "- service: gp-mask\n  ensure: running\n  enable: true"
    run = apply(box, "mask", unmasked)
    assert run.code == 2, run.report
    assert run.changes("service:gp-mask") == {
        "enable": ("mask", "true"),
        "ensure": ("stopped", "running"),
    }
    assert enabled(box, "gp-mask") == "enabled" and active(box, "gp-mask") == "active"
    assert apply(box, "mask", unmasked).code == 0


def test_masked_unit_is_not_started_behind_the_operators_back(box: Container) -> None:
    """A unit masked by hand with only `ensure: running` declared fails with the fix, and
    `ensure: running` with `enable: mask` is a compile error; neither unmasks anything."""
    systemctl(box, "mask", "gp-conflict")
    run = apply(box, "conflict", "- service: gp-conflict\n  ensure: running")
    assert run.code == 4, run.report
    entry = run.res("service:gp-conflict")
    assert entry["message"] == (
        "gp-conflict.service is masked, so it cannot start "
        "(set enable: true or enable: false to unmask it)"
    )
    run = apply(box, "conflict", "- service: gp-conflict\n  ensure: running\n  enable: mask")
    assert run.code == 1 and "contradict each other" in run.stderr, run
    assert enabled(box, "gp-conflict") == "masked" and starts(box, "gp-conflict") == 0


def test_mask_of_a_unit_file_in_etc_says_why_not(box: Container) -> None:
    run = apply(box, "etcmask", "- service: gp-etcmask\n  enable: mask")
    assert run.code == 4, run.report
    message = run.res("service:gp-etcmask")["message"]
    assert message.startswith("cannot mask gp-etcmask.service: its unit file is in /etc"), message
    assert "use enable: false" in message
    assert enabled(box, "gp-etcmask") == "disabled"


def test_noop_changes_nothing(box: Container) -> None:
    run = apply(box, "noop", "- service: gp-noop\n  ensure: running\n  enable: true", "--noop")
    assert run.code == 2, run.report
    entry = run.res("service:gp-noop")
    assert entry["status"] == "would_change"
    assert {c["attribute"] for c in entry["changes"]} == {"ensure", "enable"}
    assert active(box, "gp-noop") == "inactive" and enabled(box, "gp-noop") == "disabled"
    assert starts(box, "gp-noop") == 0


def test_refresh_restarts_exactly_once_per_change(box: Container) -> None:
    systemctl(box, "start", "gp-refresh")

    def decl(content: str) -> str:
        return f"""
            - file: /etc/gp-refresh.conf
              content: "{content}\\n"
            - service: gp-refresh
              ensure: running
              subscribe: file:/etc/gp-refresh.conf
        """

    apply(box, "refresh", decl("one"))  # the file appears: one restart
    assert starts(box, "gp-refresh") == 2
    pid = prop(box, "gp-refresh", "MainPID")
    since = prop(box, "gp-refresh", "ExecMainStartTimestampMonotonic")
    quiet = apply(box, "refresh", decl("one"))
    assert quiet.code == 0, quiet.report
    assert starts(box, "gp-refresh") == 2 and prop(box, "gp-refresh", "MainPID") == pid
    run = apply(box, "refresh", decl("two"))
    assert run.code == 2, run.report
    entry = run.res("service:gp-refresh")
    assert entry["refreshed"] is True
    assert entry["message"] == "restarted (notified by file:/etc/gp-refresh.conf)"
    assert starts(box, "gp-refresh") == 3
    assert prop(box, "gp-refresh", "MainPID") not in (pid, "0")
    assert prop(box, "gp-refresh", "ExecMainStartTimestampMonotonic") != since
    assert run.report["counts"]["restarted"] == 1


def test_restart_reload_reloads(box: Container) -> None:
    systemctl(box, "start", "gp-reload")
    pid = prop(box, "gp-reload", "MainPID")

    def decl(content: str) -> str:
        return f"""
            - file: /etc/gp-reload.conf
              content: "{content}\\n"
              notify: service:gp-reload
            - service: gp-reload
              ensure: running
              restart: reload
        """

    run = apply(box, "reload", decl("one"))
    assert run.code == 2, run.report
    assert run.res("service:gp-reload")["message"] == (
        "reloaded (notified by file:/etc/gp-reload.conf)"
    )
    assert reloads(box, "gp-reload") == 1 and starts(box, "gp-reload") == 1
    assert prop(box, "gp-reload", "MainPID") == pid


def test_reload_without_execreload_fails_and_stays_pending(box: Container) -> None:
    """`restart: reload` on a unit that cannot reload fails with the fix, and does not restart
    instead; the refresh is remembered and done by the next run once the declaration is fixed."""
    systemctl(box, "start", "gp-noreload")
    base = """
        - file: /etc/gp-noreload.conf
          content: "one\\n"
        - service: gp-noreload
          ensure: running
          subscribe: file:/etc/gp-noreload.conf
    """
    run = apply(box, "noreload", base + "      restart: reload\n")
    assert run.code == 6, run.report
    message = run.res("service:gp-noreload")["message"]
    assert "gp-noreload.service cannot reload (it has no ExecReload=)" in message, message
    assert "restart: restart" in message
    assert starts(box, "gp-noreload") == 1
    run = apply(box, "noreload", base)
    assert run.code == 2, run.report
    assert run.res("service:gp-noreload")["message"] == "restarted (left over from an earlier run)"
    assert starts(box, "gp-noreload") == 2


def test_service_started_by_the_run_is_not_restarted_again(box: Container) -> None:
    run = apply(
        box,
        "fresh",
        """
        - file: /etc/gp-fresh.conf
          content: "one\\n"
        - service: gp-fresh
          ensure: running
          subscribe: file:/etc/gp-fresh.conf
        """,
    )
    assert run.code == 2, run.report
    entry = run.res("service:gp-fresh")
    assert entry["status"] == "changed" and not entry.get("refreshed")
    assert starts(box, "gp-fresh") == 1


def test_refresh_does_not_start_a_stopped_service(box: Container) -> None:
    run = apply(
        box,
        "idle",
        """
        - file: /etc/gp-idle.conf
          content: "one\\n"
        - service: gp-idle
          enable: false
          subscribe: file:/etc/gp-idle.conf
        """,
    )
    assert run.code == 2, run.report
    entry = run.res("service:gp-idle")
    assert entry["message"].startswith("not restarted: gp-idle.service is stopped"), entry
    # Nothing was restarted: not counted as a refresh, and the resource did not change.
    assert entry["status"] == "unchanged" and not entry.get("refreshed"), entry
    assert active(box, "gp-idle") == "inactive" and starts(box, "gp-idle") == 0


def test_enabling_a_running_service_does_not_swallow_its_refresh(box: Container) -> None:
    """Enabling a service that already runs does not load the new configuration: the refresh
    that the file change made due must still restart it."""
    systemctl(box, "start", "gp-enrefresh")
    run = apply(
        box,
        "enrefresh",
        """
        - file: /etc/gp-enrefresh.conf
          content: "one\\n"
        - service: gp-enrefresh
          ensure: running
          enable: true
          subscribe: file:/etc/gp-enrefresh.conf
        """,
    )
    assert run.code == 2, run.report
    assert run.changes("service:gp-enrefresh") == {"enable": ("false", "true")}
    assert run.res("service:gp-enrefresh").get("refreshed"), run.report
    assert starts(box, "gp-enrefresh") == 2, "the new configuration was never loaded"


def test_missing_unit_fails_clearly(box: Container) -> None:
    decl = "- service: gp-nope\n  ensure: running"
    run = apply(box, "nope", decl)
    assert run.code == 4, run.report
    assert run.res("service:gp-nope")["message"] == (
        "unit gp-nope.service not found: install its package first (a package resource) "
        "or check the name"
    )
    noop = apply(box, "nope", decl, "--noop")
    assert noop.code == 2 and noop.changes("service:gp-nope") == {"ensure": ("missing", "running")}
    # Not there is as good as stopped and disabled.
    gone = apply(box, "nope", "- service: gp-nope\n  ensure: stopped\n  enable: false")
    assert gone.code == 0, gone.report


def test_failed_start_carries_status(box: Container) -> None:
    run = apply(box, "broken", "- service: gp-broken\n  ensure: running")
    assert run.code == 4, run.report
    entry = run.res("service:gp-broken")
    assert entry["message"] == "gp-broken.service failed to start (systemctl start exited 1)"
    output = entry["output"]
    assert "Job for gp-broken.service failed" in output, output
    assert "Active: failed" in output and "status=3" in output, output


def test_oneshot_that_exits_is_not_running(box: Container) -> None:
    run = apply(box, "oneshot", "- service: gp-oneshot\n  ensure: running")
    assert run.code == 4, run.report
    entry = run.res("service:gp-oneshot")
    assert entry["message"] == "gp-oneshot.service started but stopped again at once"
    assert "gp-oneshot.service" in entry["output"]


def test_static_unit_cannot_be_enabled(box: Container) -> None:
    run = apply(box, "static", "- service: gp-static\n  enable: true")
    assert run.code == 4, run.report
    message = run.res("service:gp-static")["message"]
    assert message.startswith("gp-static.service is static"), message
    assert "enable: mask" in message
    assert apply(box, "static", "- service: gp-static\n  enable: false").code == 0


def test_changed_unit_file_is_reloaded_before_the_restart(box: Container) -> None:
    """A unit file changed by a file resource: the refresh runs daemon-reload first, so the
    restarted service has the new settings."""

    def decl(version: int) -> str:
        unit = f"[Service]\\nEnvironment=GP_VERSION={version}\\nExecStart=/bin/sleep infinity\\n"
        return f"""
            - file: {UNIT_DIR}/gp-unitfile.service
              content: "{unit}"
              notify: service:gp-unitfile
            - service: gp-unitfile
              ensure: running
        """

    run = apply(box, "unitfile", decl(1))
    assert run.code == 2, run.report
    assert active(box, "gp-unitfile") == "active"
    run = apply(box, "unitfile", decl(2))
    assert run.code == 2, run.report
    assert run.res("service:gp-unitfile")["refreshed"] is True
    assert prop(box, "gp-unitfile", "NeedDaemonReload") == "no"
    pid = prop(box, "gp-unitfile", "MainPID")
    assert "GP_VERSION=2" in box.read_file(f"/proc/{pid}/environ").split("\0")


# --- sysvinit, in a mount namespace that hides systemd ----------------------------------------


def install_script(box: Container, name: str, start: str = SSD_START) -> None:
    box.write_file(f"/etc/init.d/{name}", SYSV_SCRIPT.format(name=name, start=start), 0o755)


def sysv_pid(box: Container, name: str) -> str | None:
    """The pid of the script's daemon when it runs, else None."""
    done = box.exec(f"kill -0 $(cat /run/{name}.pid)")
    return box.read_file(f"/run/{name}.pid").strip() if done.returncode == 0 else None


def rc_link_names(box: Container, name: str) -> list[str]:
    return box.exec(f"cd /etc && ls rc?.d | grep -- '{name}$' || true").stdout.split()


def test_sysvinit_chosen_from_facts(box: Container) -> None:
    """Start, enable, rerun, refresh (restart and reload), stop, disable, and no masking."""
    install_script(box, "gp-sysv")

    def decl(extra: str = "", conf: str = "one") -> str:
        lines = [
            "- file: /etc/gp-sysv.conf",
            f'  content: "{conf}\\n"',
            "- service: gp-sysv",
            "  subscribe: file:/etc/gp-sysv.conf",
        ]
        return "\n".join(lines + [f"  {line}" for line in extra.splitlines()])

    running = "ensure: running\nenable: true\n"
    run = apply(box, "sysv", decl(running), no_systemd=True)
    assert run.code == 2, (run.report, run.stderr)
    assert run.changes("service:gp-sysv") == {
        "enable": ("false", "true"),
        "ensure": ("stopped", "running"),
    }
    pid = sysv_pid(box, "gp-sysv")
    assert pid is not None and starts(box, "gp-sysv") == 1
    assert "S01gp-sysv" in rc_link_names(box, "gp-sysv")
    assert apply(box, "sysv", decl(running), no_systemd=True).code == 0
    run = apply(box, "sysv", decl(running, "two"), no_systemd=True)
    assert run.code == 2 and run.res("service:gp-sysv")["refreshed"] is True
    assert starts(box, "gp-sysv") == 2 and sysv_pid(box, "gp-sysv") not in (pid, None)
    run = apply(box, "sysv", decl(running + "restart: reload\n", "three"), no_systemd=True)
    assert run.code == 2, run.report
    assert reloads(box, "gp-sysv") == 1 and starts(box, "gp-sysv") == 2
    run = apply(box, "sysv", decl("ensure: stopped\nenable: false\n", "three"), no_systemd=True)
    assert run.code == 2, run.report
    assert sysv_pid(box, "gp-sysv") is None
    links = rc_link_names(box, "gp-sysv")
    assert links and all(link.startswith("K") for link in links), links
    run = apply(box, "sysv", decl("enable: mask\n", "three"), no_systemd=True)
    assert run.code == 4
    assert "enable: mask needs systemd" in run.res("service:gp-sysv")["message"]


def test_init_script_under_systemd_is_managed_through_its_generated_unit(box: Container) -> None:
    """An init script with no unit of its own (many Debian packages): systemd makes a unit of
    it, and enabling goes through systemd-sysv-install to the rc links."""
    install_script(box, "gp-gen")
    systemctl(box, "daemon-reload")
    decl = "- service: gp-gen\n  ensure: running\n  enable: true"
    run = apply(box, "gen", decl)
    assert run.code == 2, run.report
    assert run.changes("service:gp-gen") == {
        "enable": ("false", "true"),
        "ensure": ("stopped", "running"),
    }
    assert active(box, "gp-gen") == "active" and enabled(box, "gp-gen") == "enabled"
    assert "S01gp-gen" in rc_link_names(box, "gp-gen")
    assert apply(box, "gen", decl).code == 0


def test_sysvinit_disable_with_no_links_records_it(box: Container) -> None:
    install_script(box, "gp-sysv-new")
    run = apply(box, "sysv-new", "- service: gp-sysv-new\n  enable: false", no_systemd=True)
    assert run.code == 0, run.report  # no links: not enabled already, nothing to change
    run = apply(box, "sysv-new", "- service: gp-sysv-new\n  enable: true", no_systemd=True)
    assert run.code == 2, run.report
    run = apply(box, "sysv-new", "- service: gp-sysv-new\n  enable: false", no_systemd=True)
    assert run.code == 2, run.report
    assert all(link.startswith("K") for link in rc_link_names(box, "gp-sysv-new"))


def test_sysvinit_daemon_holding_stdout_does_not_hang_the_run(box: Container) -> None:
    """An init script whose daemon keeps the script's stdout open: the run returns at once."""
    install_script(box, "gp-sticky", start=STICKY_START)
    run = apply(box, "sticky", "- service: gp-sticky\n  ensure: running", no_systemd=True)
    assert run.code == 2, run.report
    assert run.seconds < 20, f"apply took {run.seconds:.1f}s"
    assert sysv_pid(box, "gp-sticky") is not None


def test_sysvinit_missing_script_fails_clearly(box: Container) -> None:
    run = apply(box, "sysv-nope", "- service: gp-nope\n  ensure: running", no_systemd=True)
    assert run.code == 4
    assert run.res("service:gp-nope")["message"] == (
        "init script /etc/init.d/gp-nope not found: install its package first "
        "(a package resource) or check the name"
    )


def test_systemd_provider_says_why_it_cannot_work(box: Container) -> None:
    run = apply(
        box, "nosd", "- service: gp-run\n  ensure: running\n  provider: systemd", no_systemd=True
    )
    assert run.code == 4
    assert run.res("service:gp-run")["message"] == (
        "provider systemd (from provider) cannot work here: systemd is not running on this "
        "machine (there is no /run/systemd/system) (remove provider: systemd to use this "
        "machine's init system)"
    )
