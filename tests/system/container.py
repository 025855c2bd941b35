"""A throwaway, really booted systemd for the system tier (see the project notes on systemd in tests).

A Debian bookworm minbase image is built once with debootstrap and cached under
/var/cache/gitpuppet-tests/ (rebuilt when missing or incomplete); each test module boots a fresh
`systemd-nspawn --volatile=overlay` container from it, so every boot starts pristine and its
changes are thrown away. The repo (with its .venv) and, if it is not under /usr, the interpreter
prefix the venv was made from are bound read-only at the same paths, so the gitpuppet under test
runs inside as `Container.gitpuppet`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .image import (  # noqa: F401  (re-exported: the harness's whole API is importable from here)
    CACHE,
    IMAGE_PACKAGES,
    SUITE,
    ImageBuildError,
    Log,
    Unavailable,
    _stderr,
    ensure_image,
    host_mirror,
    timed,
)

REPO = Path(__file__).resolve().parents[2]
CGROUP = Path("/sys/fs/cgroup")
UNITS = REPO / "systemd"
UNIT_NAMES = ("gitpuppet.service", "gitpuppet.timer", "gitpuppet-agent.service")
# A clean environment for commands inside: nothing of the host's (venv PATH, pytest vars) leaks in.
INSIDE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
    "SYSTEMD_PAGER": "",
    "SYSTEMD_COLORS": "0",
}


def unavailable_reason() -> str | None:
    """Why a container cannot be booted here, or None when it can."""
    if os.geteuid() != 0:
        return "system tier needs root (systemd-nspawn, cgroups, nsenter); run tests/run as root"
    for tool in ("systemd-nspawn", "debootstrap", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} not found: apt-get install systemd-container debootstrap util-linux"
    if not cgroup_roots():
        return f"no writable cgroup hierarchy under {CGROUP} (name=systemd or cgroup2)"
    return None


def cgroup_roots() -> list[Path]:
    """The hierarchies a container's cgroup is made in: systemd's v1 and the v2 one (hybrid), or
    the v2 root alone (unified)."""
    if (CGROUP / "cgroup.controllers").exists():
        return [CGROUP]
    return [p for p in (CGROUP / "systemd", CGROUP / "unified") if (p / "cgroup.procs").exists()]


def gitpuppet_executable() -> Path:
    """The gitpuppet console script of the environment running the tests."""
    return Path(sysconfig.get_path("scripts")) / "gitpuppet"


def python_binds() -> list[Path]:
    """Host paths bound read-only into the container so gitpuppet runs there at the same paths:
    the repo, the venv when it is outside the repo, the interpreter prefix unless it is /usr."""
    binds = [REPO]
    for prefix in (Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()):
        usr = prefix == Path("/usr") or prefix.is_relative_to("/usr")
        if not usr and not any(prefix.is_relative_to(b) for b in binds):
            binds.append(prefix)
    return binds


def render_unit(name: str, *, gitpuppet: Path, interval: str = "1800s", splay: str = "600s") -> str:
    """A unit file of systemd/ with its placeholders substituted, as bootstrap installs it."""
    text = (UNITS / name).read_text()
    for placeholder, value in (
        ("@GITPUPPET@", str(gitpuppet)),
        ("@INTERVAL@", interval),
        ("@SPLAY@", splay),
    ):
        text = text.replace(placeholder, value)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise ValueError(f"systemd/{name}: unknown placeholders {sorted(set(left))}")
    return text


_counter = itertools.count()


@dataclass
class Container:
    """One booted container: `start()`, `exec()`, `write_file()`, `stop()` (or use `with`)."""

    image: Path
    binds_ro: list[Path] = field(default_factory=python_binds)
    name: str = field(default_factory=lambda: f"gp-{os.getpid()}-{next(_counter)}")
    log: Log = _stderr
    proc: subprocess.Popen[bytes] | None = None
    leader: int | None = None
    gitpuppet: Path = field(default_factory=gitpuppet_executable)
    keep_console: bool = False  # set when the boot failed: the console log is the post-mortem

    @property
    def console_log(self) -> Path:
        """The container's console output (boot messages), kept after stop for post-mortems."""
        return CACHE / "logs" / f"{self.name}.console"

    @property
    def root(self) -> Path:
        """The container's root as the host sees it (the overlay, while it runs)."""
        return Path(f"/proc/{self.leader}/root")

    def start(self, timeout: float = 30) -> None:
        """Boot the container and wait until systemd reports running (or degraded)."""
        try:
            with timed(f"boot {self.name}", self.log):
                self._spawn()
                self.leader = self._find_leader(timeout)
            state = self.wait_running(timeout)
        except BaseException:
            # Never leave a half-booted container behind; its console log stays for a look.
            self.keep_console = True
            self.stop()
            raise
        self.log(f"{self.name}: leader {self.leader}, system {state}")

    def _spawn(self) -> None:
        cgroups = [root / self.name for root in cgroup_roots()]
        for cg in cgroups:
            cg.mkdir(exist_ok=True)

        def join_cgroups() -> None:
            # Runs in the child before exec: the container gets cgroups of its own instead of
            # sharing (and littering) the cgroup of whoever started pytest.
            for cg in cgroups:
                (cg / "cgroup.procs").write_text(str(os.getpid()))

        argv = ["systemd-nspawn", "-q", "-D", str(self.image), "-M", self.name, "-b"]
        argv += ["--register=no", "--keep-unit", "--volatile=overlay", "--link-journal=no"]
        argv += ["--console=read-only"]
        argv += [f"--bind-ro={path}" for path in self.binds_ro]
        self.console_log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.console_log, "wb") as console:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # setsid: the container outlives no terminal of ours
                preexec_fn=join_cgroups,
            )

    def _find_leader(self, timeout: float) -> int:
        # nspawn forks a short-lived intermediate child first; the container's PID 1 is the
        # child of nspawn whose executable is systemd.
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self._died("exited during boot"))
            for pid in _children(self.proc.pid):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/exe").endswith("/lib/systemd/systemd"):
                        return pid
            time.sleep(0.02)
        raise RuntimeError(self._died(f"no systemd leader after {timeout}s"))

    def _died(self, what: str) -> str:
        tail = self.console_log.read_text(errors="replace")[-3000:]
        return f"systemd-nspawn {self.name} {what}; console ({self.console_log}):\n{tail}"

    def wait_running(self, timeout: float = 30) -> str:
        """Poll `systemctl is-system-running` until running or degraded; return the state."""
        with timed(f"{self.name}: wait for running", self.log):
            deadline = time.monotonic() + timeout
            state = ""
            while time.monotonic() < deadline:
                state = self.exec(["systemctl", "is-system-running"], timeout=10).stdout.strip()
                if state in ("running", "degraded"):
                    return state
                time.sleep(0.05)
        failed = self.exec(["systemctl", "--failed", "--no-legend"]).stdout
        raise RuntimeError(
            f"{self.name}: system {state!r} after {timeout}s; failed units:\n{failed}"
        )

    def exec(
        self,
        cmd: Sequence[str] | str,
        *,
        check: bool = False,
        timeout: float = 60,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside (a string goes through /bin/sh -c); output captured as text."""
        if self.leader is None:
            raise RuntimeError(f"{self.name} is not running")
        argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        # -p is needed too, or systemctl says "Transport endpoint is not connected".
        nsenter = [
            "nsenter",
            "-t",
            str(self.leader),
            "-m",
            "-u",
            "-i",
            "-n",
            "-p",
            "-C",
            "-r",
            "-w",
        ]
        done = subprocess.run(
            [*nsenter, "--", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            env=INSIDE_ENV,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"in {self.name}: {argv} exited {done.returncode}\n"
                f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
            )
        return done

    def write_file(self, path: str, text: str, mode: int = 0o644) -> None:
        """Write a file inside, through /proc/LEADER/root (the overlay, never the cached image)."""
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)

    def read_file(self, path: str) -> str:
        """Read a file inside the container."""
        return (self.root / path.lstrip("/")).read_text()

    def stop(self, timeout: float = 20) -> None:
        """Power off (SIGTERM to nspawn), wait, then remove its cgroups and runtime files."""
        with timed(f"stop {self.name}", self.log):
            if self.proc is not None and self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.log(
                        f"{self.name}: no poweroff after {timeout}s, SIGKILL to {self.proc.pid}"
                    )
                    os.kill(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(10)
            self.leader = None
            for root in cgroup_roots():
                _remove_cgroup(root / self.name)
            # Only this machine's entries: other workers' containers may be running.
            nspawn_run = Path("/run/systemd/nspawn")
            for entry in nspawn_run.glob(f"*/{self.name}"):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
            for folder in [*nspawn_run.glob("*"), nspawn_run]:
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only when empty
            if not self.keep_console:
                self.console_log.unlink(missing_ok=True)

    def __enter__(self) -> Container:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # The field after the ")" that closes the command name: state, then ppid.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                kids.append(int(stat.parent.name))
    return kids


def _remove_cgroup(path: Path) -> None:
    if not path.exists():
        return
    # Deepest first: a cgroup folder can only be removed once its children are.
    for sub in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            sub.rmdir()
    with contextlib.suppress(OSError):
        path.rmdir()
