"""The pip provider: Python packages for the system's `python3`, through `python3 -m pip`.

Reading: `pip list --format=json` once per run; what the index offers, per name, with
`pip index versions`. pip's own configuration applies (/etc/pip.conf, PIP_* variables: an index
mirror, `no-index` with `find-links` for an offline wheel folder).

Changing: `pip install a b==1.2` in one call, `pip uninstall -y` for removals (`purged` is the
same as `absent`). A Python that its distribution marks as externally managed (PEP 668: Debian
12, Ubuntu 23.04 and later) is not overridden: pip there would overwrite files apt owns. The
resource fails and says to use the distribution's package (python3-NAME) or a virtualenv; a
site that wants it anyway sets `break-system-packages = true` in /etc/pip.conf.
"""

from __future__ import annotations

import json
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

PYTHON = "python3"
INSTALL_TIMEOUT = 1800
QUERY_TIMEOUT = 120
NAME_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
VERSION_RE = re.compile(r"[A-Za-z0-9.+!_-]+")
PIP = [PYTHON, "-m", "pip", "--disable-pip-version-check", "--no-input"]


@dataclass(slots=True)
class PipCache(PackageCache):
    """What pip read this run: `pip list` (canonical name -> version), None until read; plus
    `pip index versions` answers (PackageCache)."""

    config_paths = ("/etc/pip.conf/", "/etc/xdg/pip/")

    installed: dict[str, str] | None = None

    def forget_installed(self) -> None:
        self.installed = None


def canonical(name: str) -> str:
    """A distribution name as the index compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pip_list(text: str) -> dict[str, str]:
    """canonical name -> version from `pip list --format=json`."""
    try:
        rows = json.loads(text or "[]")
    except ValueError:
        raise ApplyError("pip list printed something that is not JSON", output=text) from None
    return {canonical(r["name"]): str(r["version"]) for r in rows if "name" in r}


def parse_index_versions(text: str) -> Available | None:
    """What `pip index versions NAME` says: `NAME (1.2)` then `Available versions: 1.2, 1.1`."""
    match = re.search(r"^\S+ \(([^)]+)\)\s*$", text, re.MULTILINE)
    if match is None:
        return None
    listed = re.search(r"^Available versions: (.*)$", text, re.MULTILINE)
    versions = tuple(v.strip() for v in listed.group(1).split(",")) if listed else ()
    return Available(match.group(1), versions or (match.group(1),))


def explain_failure(output: str, what: str) -> ApplyError:
    """An ApplyError a person can act on, from what a failed pip printed."""
    if "externally-managed-environment" in output:
        return ProviderBlocked(
            f"{what}: {PYTHON} is managed by the distribution's package manager (PEP 668)",
            output=output,
            hint="install python3-NAME with provider apt, or use a virtualenv "
            "(or set break-system-packages = true in /etc/pip.conf)",
        )
    if m := re.search(r"No matching distribution found for (\S+)", output):
        return ApplyError(
            f"no such package '{m.group(1)}' on the Python package index",
            output=output,
            hint="check the name and version, and pip's index settings",
        )
    return ApplyError(f"{what} failed: {last_error_line(output) or 'no message'}", output=output)


class PipProvider(Provider):
    name = "pip"
    commands = (PYTHON,)  # never a default: only where a resource names it
    sources = "the Python package index"
    unknown_hint = "check the name, and pip's index settings"
    cache_type = PipCache
    batches_available = False  # `pip index versions` takes one name

    name_re = NAME_RE
    name_is = "a Python package name"
    version_re = VERSION_RE
    version_is = "a Python version"

    def confine(self) -> str | None:
        if run_tool([PYTHON, "-m", "pip", "--version"], timeout=QUERY_TIMEOUT).returncode != 0:
            return f"pip is not installed for {PYTHON} (python3-pip)"
        return None

    def installed(self, name: str, ctx: ApplyContext) -> Installed:
        cache = ctx.caches.get(PipCache)
        if cache.installed is None:
            result = run_tool([*PIP, "list", "--format=json"], timeout=QUERY_TIMEOUT)
            if result.returncode != 0:
                raise explain_failure(result.output, "pip list")
            cache.installed = parse_pip_list(result.stdout)
        return Installed(cache.installed.get(canonical(name)))

    def available(self, names: list[str], ctx: ApplyContext) -> dict[str, Available | None]:
        known = ctx.caches.get(PipCache).available
        for name in names:
            if name not in known:
                result = run_tool([*PIP, "index", "versions", name], timeout=QUERY_TIMEOUT)
                known[name] = (
                    parse_index_versions(result.stdout) if result.returncode == 0 else None
                )
        return {n: known[n] for n in names}

    def install(self, specs: list[Spec], ctx: ApplyContext) -> None:
        words = [f"{s.name}=={s.version}" if s.version else s.name for s in specs]
        what = "installing " + ", ".join(words)
        try:
            result = run_tool([*PIP, "install", "-q", *words], timeout=INSTALL_TIMEOUT)
            if result.returncode != 0:
                raise explain_failure(result.output, what)
        finally:
            self.forget(ctx)

    def remove(self, names: list[str], purge: bool, ctx: ApplyContext) -> None:
        what = "removing " + ", ".join(names)
        try:
            result = run_tool([*PIP, "uninstall", "-y", "-q", *names], timeout=INSTALL_TIMEOUT)
            if result.returncode != 0:
                raise explain_failure(result.output, what)
        finally:
            self.forget(ctx)


PROVIDER = PipProvider()
