"""What every package provider implements, and the data the package type exchanges with it.

A provider reads (`installed`, `available`) and changes (`install`, `remove`) packages. Reads are
kept for the run in the provider's own cache object (`cache_type`, in `ctx.caches`); a provider
drops its installed set after every change. Where a provider works and where it is the default
is declared as for every provider (gitpuppet/types/provider.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from gitpuppet.command import CommandResult, run_command
from gitpuppet.contract import ApplyContext, RunCache
from gitpuppet.errors import ApplyError
from gitpuppet.model import Resource
from gitpuppet.types import provider as base

# `ensure` values that are not versions; `present` is `installed`, `purged` is `absent` plus the
# package's configuration files (apt), the same as `absent` elsewhere.
KEYWORDS = ("installed", "present", "latest", "absent", "purged")


@dataclass(frozen=True, slots=True)
class Installed:
    """One installed package: its version, and what else matters about it."""

    version: str | None  # None: not installed
    held: bool = False  # apt-mark hold / dnf versionlock: the package manager will not move it
    leftovers: bool = False  # removed, but its configuration files are still there (apt)
    broken: str = ""  # dpkg state when half installed or half configured


@dataclass(frozen=True, slots=True)
class Available:
    """What the package sources offer for one name: the version an install would pick, and all
    versions known."""

    candidate: str | None
    versions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Spec:
    """One thing to install: a name, the exact version when one is wanted, and whether that
    version was pinned by the catalog (only then may it be a downgrade)."""

    name: str
    version: str | None = None
    pinned: bool = False


@dataclass(slots=True)
class PackageState:
    """The current state of one package resource (what `current` returns)."""

    installed: Installed
    available: Available | None = None  # read only when the diff needs it


# Resources whose change may change what the package sources offer: a new source and its
# fresh lists, a command that may have run the package manager's update, a package (its own
# entry, and what it ships: a repository file, apt preferences).
CHANGES_SOURCES = ("apt_source", "exec", "package")


@dataclass(slots=True)
class PackageCache(RunCache):
    """What one provider read this run: its installed set (each provider's subclass says in
    what form; dropped after a change) and what the sources offer per name (None: no such
    package), forgotten after a change that may make it stale (`after_change`)."""

    # Where the provider's sources and their settings live: a resource writing there (a file
    # in /etc/apt/preferences.d) makes the answers stale, as CHANGES_SOURCES do.
    config_paths: ClassVar[tuple[str, ...]] = ()

    available: dict[str, Available | None] = field(default_factory=dict)

    def forget_installed(self) -> None:
        """Drop the installed set, so that the next read sees a change."""
        raise NotImplementedError

    def after_change(self, res: Resource) -> None:
        if self.available and changes_sources(res, self.config_paths):
            self.available.clear()


def changes_sources(res: Resource, config_paths: tuple[str, ...]) -> bool:
    """Whether changing `res` may change what package sources offer (CHANGES_SOURCES, or a
    path written under one of `config_paths`)."""
    if res.type in CHANGES_SOURCES:
        return True
    if not config_paths:
        return False
    written, _whole = res.params.paths_written()
    return any(isinstance(path, str) and (path + "/").startswith(config_paths) for path in written)


class ProviderBlocked(ApplyError):
    """The package manager cannot do anything right now (its lock is held, an earlier run was
    interrupted, no root): trying the batch's packages one by one would not help."""


class Provider(base.Provider):
    """Base of apt, dnf and pip: reading is cached per run, changing is one command a batch."""

    sources = "the package sources"  # where packages come from, for messages
    unknown_hint = "check the name"  # what to do about a name the sources do not have
    cache_type: ClassVar[type[PackageCache]] = PackageCache
    # Whether `available` asks about many names in one call (apt-cache policy, dnf repoquery):
    # then the type asks about every package of the catalog that needs it at the first need.
    batches_available: ClassVar[bool] = True

    # What names and versions look like, and what to call them in a message ("a Debian
    # package name"); None: anything goes.
    name_re: ClassVar[re.Pattern[str] | None] = None
    name_is: ClassVar[str] = "a package name"
    version_re: ClassVar[re.Pattern[str] | None] = None
    version_is: ClassVar[str] = "a version"

    def check_name(self, name: str) -> str | None:
        """What is wrong with a package name, or None."""
        if self.name_re is None or self.name_re.fullmatch(name):
            return None
        return f"'{name}' is not {self.name_is}"

    def check_version(self, version: str) -> str | None:
        """What is wrong with a version string, or None."""
        if self.version_re is None or self.version_re.fullmatch(version):
            return None
        return f"'{version}' is not {self.version_is}"

    def installed(self, name: str, ctx: ApplyContext) -> Installed:
        """The installed state of `name` (the installed set is read once per run)."""
        raise NotImplementedError

    def available(self, names: list[str], ctx: ApplyContext) -> dict[str, Available | None]:
        """What the sources offer for each name (None: no such package); one query for all."""
        raise NotImplementedError

    def same_version(self, installed: str, wanted: str) -> bool:
        """Whether the installed version is the one asked for."""
        return installed == wanted

    def install(self, specs: list[Spec], ctx: ApplyContext) -> None:
        """Install (or upgrade, or downgrade to) these in one command; ApplyError on failure."""
        raise NotImplementedError

    def remove(self, names: list[str], purge: bool, ctx: ApplyContext) -> None:
        """Remove these in one command; ApplyError on failure."""
        raise NotImplementedError

    def cache(self, ctx: ApplyContext) -> PackageCache:
        """This provider's cache object for the run."""
        return ctx.caches.get(self.cache_type)

    def forget(self, ctx: ApplyContext) -> None:
        """Drop what was read about installed packages (after a change), and the providers
        found unusable (the change may have brought their tools)."""
        self.cache(ctx).forget_installed()
        ctx.caches.get(base.ProviderChecks).forget_unusable()


def command_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The agent's environment (so proxies and APT_CONFIG reach the tool), in the C locale so
    that messages can be read, plus `extra`."""
    env = dict(os.environ)
    env["LC_ALL"] = "C.UTF-8"
    env.pop("LANGUAGE", None)
    env.update(extra or {})
    return env


def run_tool(
    argv: list[str], *, timeout: float, env: Mapping[str, str] | None = None
) -> CommandResult:
    """Run a package tool through run_command with the environment above."""
    return run_command(argv, timeout=timeout, env=command_env(env))


def last_error_line(output: str, prefixes: tuple[str, ...] = ("E: ", "Error: ", "ERROR: ")) -> str:
    """The last line of `output` that starts with one of `prefixes`, without the prefix."""
    for line in reversed(output.splitlines()):
        for prefix in prefixes:
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else ""
