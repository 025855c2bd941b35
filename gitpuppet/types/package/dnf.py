"""The dnf provider (RHEL, Rocky, Alma, Fedora, Amazon Linux; yum where there is no dnf).

NOT TESTED ON A REAL RPM SYSTEM: gitpuppet's test machines run Debian, where dnf cannot manage
packages. The parsing below is tested against recorded rpm/dnf output; the commands follow the
dnf 4 manual. Treat it as a sketch to prove on a RHEL-family machine before relying on it.

Reading: the installed set is one `rpm -qa` call per run (falling back to one `rpm -q` per
package if its output is too large to capture); what the repositories offer is one
`dnf repoquery` call for the names that need it, the newest version chosen with rpm's ordering.

Changing: `dnf -y install name name-1.2-3.el9 ...` in one call (an explicit version is installed
whatever is installed now, a downgrade included, as dnf's manual says for install); removals
are `dnf -y remove` with `clean_requirements_on_remove` off, after `rpm -e --test` has checked
that nothing else depends on them (no cascading removals, as with apt). Weak dependencies
follow the machine's dnf.conf (`install_weak_deps`). `purged` is the same as `absent`.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass

from gitpuppet.contract import ApplyContext
from gitpuppet.errors import ApplyError
from gitpuppet.types.package.provider import (
    Available,
    Installed,
    PackageCache,
    Provider,
    ProviderBlocked,
    Spec,
    last_error_line,
    run_tool,
)
from gitpuppet.types.package.rpmver import evr_cmp, split_evr

INSTALL_TIMEOUT = 3600
QUERY_TIMEOUT = 300  # repoquery may refresh expired metadata
NAME_RE = re.compile(r"[A-Za-z0-9_.+][A-Za-z0-9_.+-]*")
VERSION_RE = re.compile(r"[A-Za-z0-9_.+~^:-]+")
QUERY_FORMAT = "%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE} %{ARCH}\\n"


@dataclass(slots=True)
class DnfCache(PackageCache):
    """What dnf read this run: `rpm -qa` parsed (name -> [(evr, arch)]), or None when its
    output was too long to keep whole (then each name is asked alone); `read` says whether it
    was read at all. Plus repoquery answers (PackageCache)."""

    config_paths = ("/etc/yum.repos.d/", "/etc/dnf/", "/etc/yum.conf/")

    installed: dict[str, list[tuple[str, str]]] | None = None
    read: bool = False

    def forget_installed(self) -> None:
        self.installed, self.read = None, False


def parse_rpm_query(text: str) -> dict[str, list[tuple[str, str]]]:
    """name -> [(evr, arch)] from `rpm -q --qf QUERY_FORMAT` output; other lines are skipped."""
    out: dict[str, list[tuple[str, str]]] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3 and not line.startswith("package "):
            out.setdefault(fields[0], []).append((fields[1], fields[2]))
    return out


def parse_repoquery(text: str) -> dict[str, list[tuple[str, str]]]:
    """name -> [(evr, arch)] from `dnf repoquery --qf '%{name} %{evr} %{arch}'`."""
    return parse_rpm_query(text)


def _native(entries: list[tuple[str, str]], machine: str) -> list[tuple[str, str]]:
    """The entries for this machine's architecture or noarch (all of them if none is)."""
    return [e for e in entries if e[1] in (machine, "noarch")] or entries


def explain_failure(output: str, what: str) -> ApplyError:
    """An ApplyError a person can act on, from what a failed dnf/yum/rpm printed."""
    if m := re.search(r"No match for argument: (\S+)", output):
        return ApplyError(
            f"no such package '{m.group(1)}' in the dnf repositories",
            output=output,
            hint="check the name, or run dnf makecache",
        )
    if "Failed dependencies" in output:
        needed = re.findall(r"is needed by \(installed\) (\S+)", output)
        return ApplyError(
            f"{what} would also remove {', '.join(sorted(set(needed))) or 'other packages'} "
            "(they depend on it)",
            output=output,
            hint="declare those ensure: absent as well, or keep this package",
        )
    if "Waiting for process with pid" in output or ("lock" in output.lower() and "held" in output):
        return ProviderBlocked(
            f"{what}: the rpm/dnf lock is held by another process",
            output=output,
            hint="the next run tries again",
        )
    if "This command has to be run with superuser privileges" in output:
        return ProviderBlocked(f"{what} needs root", output=output, hint="run gitpuppet as root")
    return ApplyError(f"{what} failed: {last_error_line(output) or 'no message'}", output=output)


class DnfProvider(Provider):
    name = "dnf"
    commands = ("rpm",)
    default_for = {"os.family": ("RedHat",), "package_manager": ("dnf", "yum")}
    sources = "the dnf repositories"
    unknown_hint = "check the name or run dnf makecache"
    cache_type = DnfCache

    def _tool(self) -> str:
        return "dnf" if shutil.which("dnf") else "yum"

    name_re = NAME_RE
    name_is = "an rpm package name"
    version_re = VERSION_RE
    version_is = "an rpm version"

    def confine(self) -> str | None:
        if shutil.which("dnf") is None and shutil.which("yum") is None:
            return "neither dnf nor yum is installed"
        return None

    def same_version(self, installed: str, wanted: str) -> bool:
        """`1.2-3.el9` matches 1.2-3.el9, 0:1.2-3.el9 and 1.2 (a version alone)."""
        if installed == wanted:
            return True
        epoch, version, release = split_evr(installed)
        w_epoch, w_version, w_release = split_evr(wanted)
        if epoch != w_epoch or version != w_version:
            return False
        return not w_release or w_release == release

    def _read_all(self, ctx: ApplyContext) -> dict[str, list[tuple[str, str]]] | None:
        cache = ctx.caches.get(DnfCache)
        if not cache.read:
            result = run_tool(["rpm", "-qa", "--qf", QUERY_FORMAT], timeout=QUERY_TIMEOUT)
            if result.returncode != 0:
                raise explain_failure(result.output, "rpm -qa")
            # Output past run_command's capture limit comes back cut: then ask per package.
            whole = not result.stdout.startswith("[...]")
            cache.installed = parse_rpm_query(result.stdout) if whole else None
            cache.read = True
        return cache.installed

    def installed(self, name: str, ctx: ApplyContext) -> Installed:
        table = self._read_all(ctx)
        if table is None:
            result = run_tool(["rpm", "-q", "--qf", QUERY_FORMAT, name], timeout=QUERY_TIMEOUT)
            entries = parse_rpm_query(result.stdout).get(name, [])
        else:
            entries = table.get(name, [])
        if not entries:
            return Installed(None)
        entries = _native(entries, os.uname().machine)
        newest = entries[0][0]
        for evr, _arch in entries[1:]:
            if evr_cmp(evr, newest) > 0:
                newest = evr
        return Installed(newest)

    def available(self, names: list[str], ctx: ApplyContext) -> dict[str, Available | None]:
        known = ctx.caches.get(DnfCache).available
        missing = sorted({n for n in names if n not in known})
        if missing:
            argv = [self._tool(), "-q", "repoquery", "--qf", "%{name} %{evr} %{arch}\\n"]
            result = run_tool([*argv, *missing], timeout=QUERY_TIMEOUT)
            if result.returncode != 0:
                raise explain_failure(result.output, "dnf repoquery")
            found = parse_repoquery(result.stdout)
            machine = os.uname().machine
            for name in missing:
                entries = _native(found.get(name, []), machine)
                if not entries:
                    known[name] = None
                    continue
                versions = sorted({e[0] for e in entries}, key=_EvrKey)
                known[name] = Available(versions[-1], tuple(reversed(versions)))
        return {n: known[n] for n in names}

    def install(self, specs: list[Spec], ctx: ApplyContext) -> None:
        words = [f"{s.name}-{s.version}" if s.version else s.name for s in specs]
        what = "installing " + ", ".join(words)
        try:
            result = run_tool([self._tool(), "-y", "install", *words], timeout=INSTALL_TIMEOUT)
            if result.returncode != 0:
                raise explain_failure(result.output, what)
        finally:
            self.forget(ctx)

    def remove(self, names: list[str], purge: bool, ctx: ApplyContext) -> None:
        what = "removing " + ", ".join(names)
        test = run_tool(["rpm", "-e", "--test", *names], timeout=QUERY_TIMEOUT)
        if test.returncode != 0:
            raise explain_failure(test.output, what)
        argv = [self._tool(), "-y", "--setopt=clean_requirements_on_remove=False", "remove"]
        try:
            result = run_tool([*argv, *names], timeout=INSTALL_TIMEOUT)
            if result.returncode != 0:
                raise explain_failure(result.output, what)
        finally:
            self.forget(ctx)


class _EvrKey:
    """Sort key ordering `[epoch:]version-release` strings as rpm does."""

    __slots__ = ("evr",)

    def __init__(self, evr: str) -> None:
        self.evr = evr

    def __lt__(self, other: _EvrKey) -> bool:
        return evr_cmp(self.evr, other.evr) < 0


PROVIDER = DnfProvider()
