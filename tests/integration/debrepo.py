"""A throwaway apt repository for tests: tiny .deb packages, a flat repository on disk, and an
apt configuration (APT_CONFIG) that sees only it.

The configuration moves apt's sources, lists, caches, extended states and logs into a temporary
folder, so the host's sources and lists are untouched and nothing reaches the network; dpkg's
database is the real one, so packages are really installed. Every package name starts with
PREFIX, and `purge_test_packages` removes exactly those.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

PREFIX = "gitpuppet-test-"
LOCK_FILE = Path("/tmp/gitpuppet-tests-apt.lock")
# Teardown must work even while a test has PATH pointing elsewhere.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _run(
    argv: list[str], *, check: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = env or {**os.environ, "PATH": SYSTEM_PATH}
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=check)


@dataclass
class DebPackage:
    """What goes into one .deb: control fields, files under / and maintainer scripts."""

    name: str
    version: str
    depends: str | None = None
    conflicts: str | None = None
    conffile: bool = False  # ship /etc/gitpuppet-test/<name>.conf as a configuration file
    scripts: dict[str, str] = field(default_factory=dict)  # preinst, postinst ... -> body


def build_deb(work: Path, pkg: DebPackage) -> Path:
    """Build `pkg` with dpkg-deb into `work`; returns the .deb's path."""
    root = work / f"build-{pkg.name}-{pkg.version}"
    (root / "DEBIAN").mkdir(parents=True)
    control = [
        f"Package: {pkg.name}",
        f"Version: {pkg.version}",
        "Architecture: all",
        "Maintainer: gitpuppet tests <tests@example.invalid>",
        "Section: misc",
        "Priority: optional",
    ]
    if pkg.depends:
        control.append(f"Depends: {pkg.depends}")
    if pkg.conflicts:
        control.append(f"Conflicts: {pkg.conflicts}")
    control.append(f"Description: throwaway package for gitpuppet's tests ({pkg.name})")
    (root / "DEBIAN" / "control").write_text("\n".join(control) + "\n")
    share = root / "usr" / "share" / "gitpuppet-test"
    share.mkdir(parents=True)
    (share / pkg.name).write_text(pkg.version + "\n")
    if pkg.conffile:
        etc = root / "etc" / "gitpuppet-test"
        etc.mkdir(parents=True)
        (etc / f"{pkg.name}.conf").write_text(f"# {pkg.name} {pkg.version}\n")
        (root / "DEBIAN" / "conffiles").write_text(f"/etc/gitpuppet-test/{pkg.name}.conf\n")
    for script, body in pkg.scripts.items():
        path = root / "DEBIAN" / script
        path.write_text("#!/bin/sh\n" + body + "\n")
        path.chmod(0o755)
    out = work / f"{pkg.name}_{pkg.version}_all.deb"
    _run(["dpkg-deb", "-Zgzip", "--root-owner-group", "--build", str(root), str(out)], check=True)
    return out


def write_index(repo: Path) -> None:
    """Packages and Release for the flat repository `repo` (every .deb in it)."""
    stanzas = []
    for deb in sorted(repo.glob("*.deb")):
        fields = _run(["dpkg-deb", "--field", str(deb)], check=True).stdout.rstrip("\n")
        data = deb.read_bytes()
        stanzas.append(
            f"{fields}\nFilename: ./{deb.name}\nSize: {len(data)}\n"
            f"MD5sum: {hashlib.md5(data).hexdigest()}\n"
            f"SHA256: {hashlib.sha256(data).hexdigest()}\n"
        )
    packages = "\n".join(stanzas).encode()
    (repo / "Packages").write_bytes(packages)
    (repo / "Release").write_text(
        "Origin: gitpuppet-tests\nLabel: gitpuppet-tests\n"
        f"Date: {formatdate(usegmt=True)}\nSHA256:\n"
        f" {hashlib.sha256(packages).hexdigest()} {len(packages)} Packages\n"
    )


class LocalApt:
    """A flat repository under `base/repo` and an apt.conf that points apt at it alone."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.repo = base / "repo"
        self.conf = base / "apt.conf"
        self.log_dir = base / "log"
        for sub in ("repo", "lists/partial", "cache/archives/partial", "log", "state"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("sources.list.d", "preferences.d"):
            (base / "etc" / sub).mkdir(parents=True, exist_ok=True)
        (base / "etc" / "sources.list").write_text(f"deb [trusted=yes] file:{self.repo} ./\n")
        settings = {
            "Dir::Etc::sourcelist": base / "etc" / "sources.list",
            "Dir::Etc::sourceparts": base / "etc" / "sources.list.d",
            "Dir::Etc::preferencesparts": base / "etc" / "preferences.d",
            "Dir::State::lists": base / "lists",
            "Dir::State::extended_states": base / "state" / "extended_states",
            "Dir::Cache": base / "cache",
            "Dir::Log": self.log_dir,
        }
        lines = [f'{key} "{value}";' for key, value in settings.items()]
        lines.append('Acquire::Languages "none";')
        self.conf.write_text("\n".join(lines) + "\n")

    def env(self) -> dict[str, str]:
        """The environment for apt commands that use this repository."""
        return {
            **os.environ,
            "APT_CONFIG": str(self.conf),
            "LC_ALL": "C.UTF-8",
            "PATH": SYSTEM_PATH,
        }

    def publish(self, packages: list[DebPackage]) -> None:
        """Build the packages into the repository, index it, and run apt-get update on it."""
        work = self.base / "build"
        work.mkdir(exist_ok=True)
        for pkg in packages:
            deb = build_deb(work, pkg)
            deb.rename(self.repo / deb.name)
        write_index(self.repo)
        _run(["apt-get", "update", "-q"], check=True, env=self.env())

    def history(self) -> list[dict[str, str]]:
        """apt's history log, one mapping per apt call that changed something
        (Commandline, Install, Remove, Purge, Upgrade, Downgrade, Error ...)."""
        path = self.log_dir / "history.log"
        if not path.exists():
            return []
        entries = []
        for block in path.read_text().split("\n\n"):
            entry = {}
            for line in block.strip().splitlines():
                key, sep, value = line.partition(": ")
                if sep:
                    entry[key] = value
            if entry:
                entries.append(entry)
        return entries


def installed_version(name: str) -> str | None:
    """The version dpkg has installed, or None."""
    result = _run(["dpkg-query", "-W", "-f", "${Status}|${Version}", name])
    status, _, version = result.stdout.partition("|")
    return version if result.returncode == 0 and status.endswith(" installed") else None


def dpkg_state(name: str) -> str:
    """dpkg's state word for `name` (installed, config-files, not-installed ...)."""
    result = _run(["dpkg-query", "-W", "-f", "${Status}", name])
    words = result.stdout.split()
    return words[-1] if result.returncode == 0 and words else "not-installed"


def purge_test_packages() -> list[str]:
    """Purge every package whose name starts with PREFIX (ours only), including the selection a
    failed install leaves behind (`install ok not-installed`); returns their names."""
    result = _run(["dpkg-query", "-W", "-f", "${Package} ${Status}\n", f"{PREFIX}*"])
    names = []
    for line in result.stdout.splitlines():
        fields = line.split()
        if len(fields) != 4 or not fields[0].startswith(PREFIX):
            continue
        if fields[3] != "not-installed" or fields[1] not in ("unknown", "purge"):
            names.append(fields[0])
    for name in names:
        _run(["apt-mark", "unhold", name])
    if names:
        _run(["dpkg", "--purge", "--force-depends", *names])
    return names


@contextmanager
def apt_lock(timeout: float = 900) -> Iterator[None]:
    """Serialise the tests that install packages, across xdist workers and concurrent sessions
    (they share dpkg's database and the PREFIX names)."""
    fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{LOCK_FILE} stayed locked for {timeout:g} s") from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)
