"""`package`: installed (or present), latest, absent, purged, or an exact version (SPEC §3.2).

The provider (apt, dnf, pip) is the `provider` attribute, else chosen from the facts (os family,
then package manager), through the one provider choice of gitpuppet/types/provider.py. Packages that become ready together are changed in one package-manager
call per kind: removals first (so a package being replaced is gone before its successor comes),
then installs. When a combined call fails, each package of it is tried alone, so one bad package
fails only its own resource, with the tool's output attached.

A change is `Change("ensure", old, new)` with versions, None standing for "not installed":
(None, "7.88.1-10") for an install, ("7.88.1-10", None) for a removal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from gitpuppet.contract import ApplyContext, ResourceType
from gitpuppet.errors import ApplyError
from gitpuppet.model import Change, Ref, Resource
from gitpuppet.types.package import apt, dnf, pip
from gitpuppet.types.package.provider import (
    KEYWORDS,
    Available,
    Installed,
    PackageState,
    Provider,
    ProviderBlocked,
    Spec,
)
from gitpuppet.types.package.spec import PackageParams
from gitpuppet.types.provider import Providers

# In order: with no facts at all, the first of these with defaults that works here is taken.
PROVIDERS: Providers[Provider] = Providers(
    "package",
    (apt.PROVIDER, dnf.PROVIDER, pip.PROVIDER),
    facts=("os.family", "package_manager"),
)

Item = tuple[Resource, Any, list[Change]]


@dataclass(slots=True)
class PackageDemand:
    """The package resources the run converges (told by the applier before the walk): the
    first one that needs the sources asks about all of them that do, in one query."""

    resources: list[Resource] = field(default_factory=list)


def load_provider(name: str) -> Provider:
    """The provider called `name` (one of PROVIDERS)."""
    found = PROVIDERS.named(name)
    if found is None:
        raise ApplyError(f"no package provider named '{name}'")
    return found


def default_provider_name(facts: dict[str, Any]) -> str | None:
    """The provider the facts point to (os family, then package manager), or None."""
    found = PROVIDERS.default(facts)
    return found[0].name if found and found[0] else None


def choose_provider(p: PackageParams, ctx: ApplyContext) -> Provider:
    """The provider for a resource, usable on this machine, or an ApplyError that says why not."""
    return PROVIDERS.choose(p.provider, ctx.facts, ctx.caches)


def wanted(p: PackageParams) -> str:
    """`ensure` as one of installed, latest, absent, purged, or the version itself."""
    return "installed" if p.ensure == "present" else p.ensure


def _needs_available(want: str, installed: Installed, provider: Provider) -> bool:
    if want == "latest":
        return True
    if want == "installed":
        return installed.version is None  # to name the version coming, and catch a bad name
    if want in ("absent", "purged"):
        return False
    return installed.version is None or not provider.same_version(installed.version, want)


def _label(installed: Installed) -> str | None:
    """The old value of a change: the version, or what is there short of an installed package."""
    if installed.version is not None:
        return installed.version
    if installed.broken:
        return f"{installed.broken} (broken)"
    if installed.leftovers:
        return "config files"
    return None


class PackageType(ResourceType):
    name = "package"
    apply_together = True

    def plan(self, resources: list[Resource], ctx: ApplyContext) -> None:
        """Keep the run's package resources: the first that needs the sources asks for all."""
        ctx.caches.get(PackageDemand).resources = list(resources)

    def prefetch(
        self, resources: Iterable[Resource], ctx: ApplyContext, only: str | None = None
    ) -> None:
        """Ask each provider (or the one called `only`) once about every package of
        `resources` that needs the sources (latest, versions, installs): the applier may call
        this before reading them one by one. Problems are left for `current` to report,
        resource by resource. The run's other packages that need the sources are asked about
        in the same query (PackageDemand)."""
        names: dict[str, list[str]] = {}
        asked = list(resources)
        refs = {res.ref for res in asked}
        asked += [r for r in ctx.caches.get(PackageDemand).resources if r.ref not in refs]
        for res in asked:
            p: PackageParams = res.params
            try:
                provider = choose_provider(p, ctx)
                if only not in (None, provider.name):
                    continue
                if provider.check_name(p.name) is None and _needs_available(
                    wanted(p), provider.installed(p.name, ctx), provider
                ):
                    names.setdefault(provider.name, []).append(p.name)
            except ApplyError:
                continue
        for provider_name, batch in names.items():
            try:
                load_provider(provider_name).available(batch, ctx)
            except ApplyError:
                continue

    def current(self, res: Resource, ctx: ApplyContext) -> PackageState:
        p: PackageParams = res.params
        provider = choose_provider(p, ctx)
        want = wanted(p)
        problem = provider.check_name(p.name)
        if problem is None and want not in KEYWORDS:
            problem = provider.check_version(want)
        if problem is not None:
            raise ApplyError(problem)
        installed = provider.installed(p.name, ctx)
        state = PackageState(installed)
        if _needs_available(want, installed, provider):
            state.available = self._available(provider, p.name, ctx)
            _check_available(provider, p.name, want, state.available)
        return state

    def _available(self, provider: Provider, name: str, ctx: ApplyContext) -> Available | None:
        """What the sources offer for `name`; when not known yet (first need, or after a change
        made the answers stale), asked together for every package of the run that needs it."""
        if provider.batches_available and name not in provider.cache(ctx).available:
            self.prefetch([], ctx, only=provider.name)
        return provider.available([name], ctx)[name]

    def diff(self, cur: PackageState, res: Resource, ctx: ApplyContext) -> list[Change]:
        p: PackageParams = res.params
        want = wanted(p)
        have = cur.installed
        old = _label(have)
        if want == "absent":
            present = have.version is not None or bool(have.broken)
            return [Change("ensure", old, None)] if present else []
        if want == "purged":
            return [Change("ensure", old, None)] if old is not None else []
        if want == "installed":
            if have.version is not None:
                return []
            candidate = cur.available.candidate if cur.available else None
            return [Change("ensure", old, candidate or "installed")]
        if want == "latest":
            candidate = cur.available.candidate if cur.available else None
            if candidate is None or have.version == candidate:
                return []
            return [Change("ensure", old, candidate)]
        provider = choose_provider(p, ctx)
        if have.version is not None and provider.same_version(have.version, want):
            return []
        return [Change("ensure", old, want)]

    def apply(self, res: Resource, cur: Any, changes: list[Change], ctx: ApplyContext) -> None:
        errors = self.apply_many([(res, cur, changes)], ctx)
        if res.ref in errors:
            raise errors[res.ref]

    def apply_many(self, items: list[Item], ctx: ApplyContext) -> dict[Ref, ApplyError]:
        """Remove, purge, then install, each in one call per provider; a failed call is retried
        package by package so that only the bad ones fail."""
        errors: dict[Ref, ApplyError] = {}
        plans: dict[str, dict[str, list[tuple[Ref, Spec]]]] = {}
        for res, cur, _changes in items:
            try:
                provider = choose_provider(res.params, ctx)
            except ApplyError as exc:
                errors[res.ref] = exc
                continue
            kind, spec = _plan(res.params, cur)
            plans.setdefault(provider.name, {}).setdefault(kind, []).append((res.ref, spec))
        by_ref = {res.ref: res for res, _cur, _changes in items}

        def settled(ref: Ref) -> bool:
            # After a failed combined call: did this one get done anyway?
            res = by_ref[ref]
            try:
                return not self.diff(self.current(res, ctx), res, ctx)
            except ApplyError:
                return False

        for provider_name, by_kind in plans.items():
            provider = load_provider(provider_name)
            for kind in ("remove", "purge", "install"):
                batch = by_kind.get(kind)
                if batch:
                    errors.update(_change(provider, kind, batch, ctx, settled))
        return errors


def _check_available(provider: Provider, name: str, want: str, found: Available | None) -> None:
    """Fail early, before any change, on a name or version the sources do not have."""
    if found is None:
        raise ApplyError(
            f"no such package '{name}' in {provider.sources}",
            hint=provider.unknown_hint,
        )
    if want in ("installed", "latest") and found.candidate is None:
        raise ApplyError(
            f"'{name}' has no installable version in {provider.sources}",
            hint="a virtual or obsolete package: name the package that provides it",
        )
    offered = found.versions
    if (
        want not in KEYWORDS
        and offered
        and not any(provider.same_version(v, want) for v in offered)
    ):
        raise ApplyError(
            f"version {want} of '{name}' is not in {provider.sources}",
            hint="versions there: " + ", ".join(offered[:10]),
        )


def _plan(p: PackageParams, cur: PackageState) -> tuple[str, Spec]:
    """What to do for one resource: (remove | purge | install, what)."""
    want = wanted(p)
    if want in ("absent", "purged"):
        return ("remove" if want == "absent" else "purge"), Spec(p.name)
    if want == "installed":
        return "install", Spec(p.name)
    if want == "latest":
        candidate = cur.available.candidate if cur.available else None
        return "install", Spec(p.name, candidate)
    return "install", Spec(p.name, want, pinned=True)


def _run_kind(provider: Provider, kind: str, specs: list[Spec], ctx: ApplyContext) -> None:
    if kind == "install":
        provider.install(specs, ctx)
    else:
        provider.remove([s.name for s in specs], kind == "purge", ctx)


def _change(
    provider: Provider,
    kind: str,
    batch: list[tuple[Ref, Spec]],
    ctx: ApplyContext,
    settled: Callable[[Ref], bool],
) -> dict[Ref, ApplyError]:
    """One call for the whole batch; if it fails, one call for each package it left undone
    (unless nothing can succeed now, as when the package manager's lock is held)."""
    try:
        _run_kind(provider, kind, [spec for _, spec in batch], ctx)
        return {}
    except ProviderBlocked as exc:
        return {ref: exc for ref, _ in batch}
    except ApplyError as exc:
        if len(batch) == 1:
            return {batch[0][0]: exc}
    errors: dict[Ref, ApplyError] = {}
    for index, (ref, spec) in enumerate(batch):
        if settled(ref):
            continue
        try:
            _run_kind(provider, kind, [spec], ctx)
        except ProviderBlocked as exc:
            errors.update({later: exc for later, _ in batch[index:]})
            break
        except ApplyError as exc:
            errors[ref] = exc
    return errors


TYPE: Any = PackageType()
