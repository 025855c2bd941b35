"""The apt provider (Debian, Ubuntu and their kin).

Reading: the installed set comes from dpkg's status file, parsed directly (a few milliseconds, no
process), once per run and again only when the file changes. What the sources offer comes from
one `apt-cache policy` call for every name that needs it.

Changing, one `apt-get` call per batch and kind: removals (`ensure: absent` is `apt-get remove`:
the configuration files stay, so a package put back finds its local settings; `ensure: purged`
is `apt-get purge`), then installs (`apt-get install a b=1.2-3 ...`; `latest` names the candidate
version read before, so what is installed is what the change reported). The choices a careful
operator expects:

- noninteractive (DEBIAN_FRONTEND), and on a changed configuration file dpkg keeps the local
  one (`--force-confold`) and takes the package's where the file was not modified
  (`--force-confdef`): configuration is gitpuppet's job, through `file` resources;
- recommends follow the machine's apt configuration (`APT::Install-Recommends`), as a person
  typing `apt-get install` gets: a site that wants none sets it in /etc/apt/apt.conf.d;
- an install never removes another package (`--no-remove`): a conflict fails with a message
  that says to declare the other package absent, instead of silently taking it away;
- a removal that would take packages depending on it along fails and names them (found by a
  simulation first), instead of cascading through the machine;
- a version asked for explicitly may be a downgrade (`--allow-downgrades`); held packages
  and essential packages are never forced;
- `apt-get update` is not run: that is the machine's daily apt timer's job (or an exec's), so a
  run does not depend on the network to converge; `latest` means the newest the lists know;
- the dpkg lock is waited for (`DPkg::Lock::Timeout`, LOCK_WAIT seconds), then the resource fails
  with a message naming the holder; the next run tries again.

The environment is passed through, so APT_CONFIG (tests point apt at a local repository with it)
and proxy settings reach apt.
"""

from __future__ import annotations

import os
import re
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

DPKG_STATUS = "/var/lib/dpkg/status"
LOCK_WAIT = 120  # seconds apt waits for another package manager before giving up
INSTALL_TIMEOUT = 3600  # a hung maintainer script is killed after this (then: dpkg --configure -a)
QUERY_TIMEOUT = 120
POLICY_CHUNK = 200  # names per `apt-cache policy` call (its output is captured whole)

NAME_RE = re.compile(r"[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?")
VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+~:-]*")
# dpkg states where the package's files are in place (triggers only wait to run).
INSTALLED_STATES = ("installed", "triggers-awaited", "triggers-pending")
BROKEN_STATES = ("half-installed", "unpacked", "half-configured")


@dataclass(frozen=True, slots=True)
class DpkgEntry:
    """One package (name and architecture) in dpkg's status file."""

    arch: str
    state: Installed


def parse_dpkg_status(text: str) -> dict[str, list[DpkgEntry]]:
    """name -> its entries (one per architecture) from the text of /var/lib/dpkg/status.

    Packages dpkg only remembers as wanted or purged (state not-installed) are left out.
    """
    out: dict[str, list[DpkgEntry]] = {}
    fields: dict[str, str] = {}
    for line in [*text.splitlines(), ""]:
        if not line:
            if "Package" in fields:
                entry = _entry(fields)
                if entry is not None:
                    out.setdefault(fields["Package"], []).append(entry)
            fields = {}
        elif line[0] not in " \t":
            key, sep, value = line.partition(":")
            if sep and key in ("Package", "Status", "Version", "Architecture"):
                fields[key] = value.strip()
    return out


def _entry(fields: dict[str, str]) -> DpkgEntry | None:
    want, _, state = (fields.get("Status", "").split() + ["", "", ""])[:3]
    version = fields.get("Version")
    arch = fields.get("Architecture", "")
    if state in INSTALLED_STATES:
        return DpkgEntry(arch, Installed(version, held=want == "hold"))
    if state == "config-files":
        return DpkgEntry(arch, Installed(None, leftovers=True))
    if state in BROKEN_STATES:
        return DpkgEntry(arch, Installed(None, held=want == "hold", broken=state))
    return None


_VERSION_LINE = re.compile(r"^ (?:\*\*\*|   ) (\S+) (-?\d+)$")


def parse_policy(text: str) -> dict[str, Available]:
    """Header name -> what `apt-cache policy NAME...` says is available for it.

    Names apt does not know are simply missing from the output.
    """
    out: dict[str, Available] = {}
    name: str | None = None
    candidate: str | None = None
    versions: list[str] = []

    def close() -> None:
        if name is not None:
            out[name] = Available(candidate, tuple(versions))

    for line in text.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            close()
            name, candidate, versions = line[:-1], None, []
        elif name is None:
            continue
        elif line.startswith("  Candidate:"):
            value = line.split(":", 1)[1].strip()
            candidate = None if value == "(none)" else value
        else:
            match = _VERSION_LINE.match(line)
            if match and match.group(1) not in versions:
                versions.append(match.group(1))
    close()
    return out


def removed_by_simulation(text: str) -> list[str]:
    """The packages an `apt-get -s remove|purge` run would remove ("Remv name [1.0]")."""
    out = []
    for line in text.splitlines():
        if line.startswith(("Remv ", "Purg ")):
            out.append(line.split()[1])
    return out


def explain_failure(output: str, what: str, lock_wait: float = LOCK_WAIT) -> ApplyError:
    """An ApplyError a person can act on, from what a failed apt-get printed."""
    hint: str | None = None
    blocked = False
    if m := re.search(r"Unable to locate package (\S+)", output):
        message = f"no such package '{m.group(1)}' in the apt sources"
        hint = "check the name or run apt-get update"
    elif m := re.search(r"Version '([^']+)' for '([^']+)' was not found", output):
        message = f"version {m.group(1)} of '{m.group(2)}' is not in the apt sources"
        hint = f"apt-cache policy {m.group(2)} lists the versions there; or run apt-get update"
    elif m := re.search(r"Package '?([^' ]+?)'? has no installation candidate", output):
        message = f"'{m.group(1)}' has no installable version in the apt sources"
        hint = "a virtual or obsolete package: name the package that provides it"
    elif re.search(r"^E: .*(are you root|Permission denied)", output, re.MULTILINE):
        message = f"{what} needs root"
        hint = "run gitpuppet as root"
        blocked = True
    elif "Could not get lock" in output or "Unable to acquire the dpkg" in output:
        message = _lock_message(output, lock_wait)
        hint = (
            "another package manager is at work (unattended-upgrades, a person); "
            "the next run tries again"
        )
        blocked = True
    elif "dpkg was interrupted" in output:
        message = "an earlier dpkg run was interrupted and must be finished first"
        hint = "run dpkg --configure -a"
        blocked = True
    elif "remove is disabled" in output:
        message = (
            f"{what} would remove other packages (a conflict); "
            "gitpuppet does not remove packages it was not told to"
        )
        hint = "declare the conflicting packages ensure: absent"
    elif "Held packages were changed" in output:
        message = f"{what} would change a held package"
        hint = "release it with apt-mark unhold, or leave its version alone"
    elif (
        "Essential packages were removed" in output
        or "essential packages will be removed" in output
    ):
        message = f"{what} would remove an essential package; gitpuppet never forces that"
    elif reason := _dpkg_reason(output):
        message = f"{what} failed: dpkg: {reason}"
    else:
        message = f"{what} failed: {last_error_line(output) or 'no message'}"
    cls = ProviderBlocked if blocked else ApplyError
    return cls(message, output=output, hint=hint)


def _lock_message(output: str, lock_wait: float) -> str:
    """`the dpkg lock (/var/lib/dpkg/lock-frontend) is held by process 42 (apt-get); ...`."""
    path = re.search(
        r"(?:Could not get lock|dpkg frontend lock \()\s*(/[^\s),]+?)\.?[\s),]", output
    )
    where = path.group(1) if path else ""
    kind = "apt" if "/dpkg/" not in where and where else "dpkg"
    message = f"the {kind} lock" + (f" ({where})" if where else "") + " is held"
    holder = re.search(r"It is held by process (\d+)(?: \(([^)]*)\))?", output)
    if holder:
        message += f" by process {holder.group(1)}"
        message += f" ({holder.group(2)})" if holder.group(2) else ""
    if "Waiting for cache lock" in output:
        message += f"; gave up after waiting {lock_wait:g} s"
    return message


def _dpkg_reason(output: str) -> str:
    """What dpkg said went wrong: the line after `dpkg: error processing ...`."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("dpkg: error processing") and index + 1 < len(lines):
            return lines[index + 1].strip()
    return ""


@dataclass(slots=True)
class AptCache(PackageCache):
    """What apt read this run: dpkg's status file parsed, keyed by the file's identity (inode,
    mtime, size); the native architecture; and `apt-cache policy` answers (PackageCache)."""

    config_paths = ("/etc/apt/",)  # sources, preferences (pins), apt.conf.d

    status: tuple[tuple[int, int, int], dict[str, list[DpkgEntry]]] | None = None
    arch: str | None = None

    def forget_installed(self) -> None:
        self.status = None


class AptProvider(Provider):
    name = "apt"
    commands = ("apt-get", "apt-cache", "dpkg")
    default_for = {"os.family": ("Debian",), "package_manager": ("apt",)}
    sources = "the apt sources"
    unknown_hint = "check the name or run apt-get update"
    cache_type = AptCache
    lock_wait: float = LOCK_WAIT

    name_re = NAME_RE
    name_is = "a Debian package name (lower-case letters, digits, + - .)"
    version_re = VERSION_RE
    version_is = "a Debian version"

    def confine(self) -> str | None:
        if not os.path.exists(DPKG_STATUS):
            return f"{DPKG_STATUS} does not exist"
        return None

    # -- reading ---------------------------------------------------------------------------

    def _status(self, ctx: ApplyContext) -> dict[str, list[DpkgEntry]]:
        # Keyed by the file's identity: dpkg replaces it on every change, so a package installed
        # by someone else mid-run (an exec running apt-get) is seen.
        try:
            st = os.stat(DPKG_STATUS)
        except OSError as exc:
            raise ApplyError(f"cannot read {DPKG_STATUS}: {exc.strerror}") from None
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        cache = ctx.caches.get(AptCache)
        if cache.status is None or cache.status[0] != key:
            with open(DPKG_STATUS, encoding="utf-8", errors="replace") as fh:
                cache.status = (key, parse_dpkg_status(fh.read()))
        return cache.status[1]

    def _native_arch(self, ctx: ApplyContext) -> str:
        cache = ctx.caches.get(AptCache)
        if cache.arch is None:
            result = run_tool(["dpkg", "--print-architecture"], timeout=QUERY_TIMEOUT)
            cache.arch = result.stdout.strip()
        return cache.arch

    def installed(self, name: str, ctx: ApplyContext) -> Installed:
        base, _, arch = name.partition(":")
        entries = self._status(ctx).get(base, [])
        if arch:
            entries = [e for e in entries if e.arch == arch]
        elif len(entries) > 1:
            native = self._native_arch(ctx)
            entries = [e for e in entries if e.arch in (native, "all")] or entries[:1]
        if not entries:
            return Installed(None)
        return entries[0].state

    def available(self, names: list[str], ctx: ApplyContext) -> dict[str, Available | None]:
        known = ctx.caches.get(AptCache).available
        missing = sorted({n for n in names if n not in known})
        for start in range(0, len(missing), POLICY_CHUNK):
            chunk = missing[start : start + POLICY_CHUNK]
            result = run_tool(["apt-cache", "policy", *chunk], timeout=QUERY_TIMEOUT)
            if result.returncode != 0:
                raise explain_failure(result.output, "apt-cache policy")
            found = parse_policy(result.output)
            for name in chunk:
                known[name] = found.get(name) or found.get(name.partition(":")[0])
        return {n: known[n] for n in names}

    # -- changing --------------------------------------------------------------------------

    def _apt_get(self, *args: str) -> list[str]:
        return [
            "apt-get",
            "-y",
            "-q",
            "-o",
            "Dpkg::Options::=--force-confdef",
            "-o",
            "Dpkg::Options::=--force-confold",
            "-o",
            f"DPkg::Lock::Timeout={self.lock_wait:g}",
            *args,
        ]

    def _run(self, argv: list[str], what: str) -> None:
        result = run_tool(
            argv,
            timeout=INSTALL_TIMEOUT + self.lock_wait,
            env={"DEBIAN_FRONTEND": "noninteractive", "APT_LISTCHANGES_FRONTEND": "none"},
        )
        if result.returncode != 0:
            raise explain_failure(result.output, what, self.lock_wait)

    def install(self, specs: list[Spec], ctx: ApplyContext) -> None:
        words = [f"{s.name}={s.version}" if s.version else s.name for s in specs]
        options = ["--no-remove"]
        if any(s.pinned for s in specs):
            options.append("--allow-downgrades")
        try:
            self._run(self._apt_get(*options, "install", *words), f"installing {_names(specs)}")
        finally:
            self.forget(ctx)

    def remove(self, names: list[str], purge: bool, ctx: ApplyContext) -> None:
        verb = "purge" if purge else "remove"
        what = f"{'purging' if purge else 'removing'} {', '.join(names)}"
        simulated = run_tool(["apt-get", "-s", "-q", verb, *names], timeout=QUERY_TIMEOUT)
        if simulated.returncode != 0:
            raise explain_failure(simulated.output, what, self.lock_wait)
        asked = {n.partition(":")[0] for n in names}
        extra = sorted(
            {n for n in removed_by_simulation(simulated.output) if n.partition(":")[0] not in asked}
        )
        if extra:
            raise ApplyError(
                f"{what} would also remove {', '.join(extra)} (they depend on it)",
                output=simulated.output,
                hint="declare those ensure: absent as well, or keep this package",
            )
        try:
            self._run(self._apt_get(verb, *names), what)
        finally:
            self.forget(ctx)


def _names(specs: list[Spec]) -> str:
    return ", ".join(f"{s.name} {s.version}" if s.version else s.name for s in specs)


PROVIDER = AptProvider()
