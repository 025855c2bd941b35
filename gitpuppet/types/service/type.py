"""`service`: keep a service running or stopped, enabled, disabled or masked, and restart (or
reload) it when something it subscribes to changes (SPEC §3.2).

The provider (systemd.py, sysvinit.py) is the resource's `provider`, else the `init` fact,
else what this machine runs (systemd when /run/systemd/system exists), through the one provider
choice of gitpuppet/types/provider.py. Each resource's state is
read at its own turn, in one call: earlier resources of the same run (a package whose install
script starts its daemon, a unit file, an exec) may change it, so a state read ahead would be
stale. The read after a change doubles as the applier's verification read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitpuppet.contract import ApplyContext, Caches, RefreshNotNeeded, ResourceType
from gitpuppet.errors import ApplyError
from gitpuppet.model import Change, Ref, Resource
from gitpuppet.types.provider import Providers, Wording
from gitpuppet.types.service.common import (
    ENABLE_WORDS,
    MISSING,
    RUNNING,
    STOPPED,
    Provider,
    ServiceState,
)
from gitpuppet.types.service.spec import ServiceParams
from gitpuppet.types.service.systemd import SystemdProvider
from gitpuppet.types.service.sysvinit import SysvinitProvider

PROVIDERS: Providers[Provider] = Providers(
    "service",
    (SystemdProvider(), SysvinitProvider()),
    facts=("init",),
    wording=Wording(
        unusable="provider {name} (from {source}) cannot work here: {why}",
        named_hint="remove provider: {name} to use this machine's init system",
        default_hint="set provider: to this machine's init system",
        no_default="no service provider for init system '{value}' (from the init fact)",
    ),
)


@dataclass(slots=True)
class ServiceStates:
    """Unit states handed from one step of the run to the next (ApplyContext.caches): the state
    `apply` read after its change, taken by the applier's verification read (`current`), and
    the state `current` read, taken by a refresh delivered right after it."""

    after_change: dict[Ref, ServiceState] = field(default_factory=dict)
    seen: dict[Ref, ServiceState] = field(default_factory=dict)


def choose_provider(
    p: ServiceParams, facts: Mapping[str, Any], caches: Caches | None = None
) -> Provider:
    """The resource's provider, else the one the facts name, else this machine's; raises
    ApplyError saying why when it cannot work here."""
    return PROVIDERS.choose(p.provider, facts, caches)


def wanted_enable(p: ServiceParams) -> str | None:
    """`enable` as a word (true, false, mask), or None when it is not managed."""
    return None if p.enable is None else ENABLE_WORDS[p.enable]


def enable_satisfied(have: str, want: str) -> bool:
    """Whether the enable state `have` is what `want` asks for. A static unit (no [Install]
    section) never starts at boot by itself, so it counts as not enabled."""
    return have == want or (have == "static" and want == "false")


def service_changes(cur: ServiceState, p: ServiceParams) -> list[Change]:
    """What differs between the service's state and the declared one (pure)."""
    want_enable = wanted_enable(p)
    changes: list[Change] = []
    if not cur.found:
        # Not there is as good as stopped and disabled; masking works on a missing unit too.
        if want_enable in ("true", "mask"):
            changes.append(Change("enable", MISSING, want_enable))
        if p.ensure == RUNNING:
            changes.append(Change("ensure", MISSING, RUNNING))
        return changes
    if want_enable is not None and not enable_satisfied(cur.enabled, want_enable):
        changes.append(Change("enable", cur.enabled, want_enable))
    if p.ensure is not None and cur.active != p.ensure:
        changes.append(Change("ensure", cur.active, p.ensure))
    return changes


class ServiceType(ResourceType):
    name = "service"
    refreshable = True

    @staticmethod
    def _resolve(res: Resource, ctx: ApplyContext) -> tuple[Provider, str]:
        p: ServiceParams = res.params
        provider = choose_provider(p, ctx.facts, ctx.caches)
        return provider, provider.unit_name(p.name)

    def current(self, res: Resource, ctx: ApplyContext) -> ServiceState:
        p: ServiceParams = res.params
        provider, unit = self._resolve(res, ctx)
        state = ctx.caches.get(ServiceStates).after_change.pop(res.ref, None) or provider.read(unit)
        if not state.found and p.ensure is None and p.enable is None:
            raise provider.not_found(unit)  # nothing declared: only its refresh could need it
        ctx.caches.get(ServiceStates).seen[res.ref] = state
        return state

    def diff(self, cur: Any, res: Resource, ctx: ApplyContext) -> list[Change]:
        return service_changes(cur, res.params)

    def apply(self, res: Resource, cur: Any, changes: list[Change], ctx: ApplyContext) -> None:
        p: ServiceParams = res.params
        for _attr, problem in p.check():  # the spec's check, for params built some other way
            raise ApplyError(problem)
        state: ServiceState = cur
        provider, unit = self._resolve(res, ctx)
        want_enable = wanted_enable(p)
        attrs = {c.attr for c in changes}
        if not state.found and want_enable != "mask":
            raise provider.not_found(unit)
        provider.prepare(state)
        if "ensure" in attrs and p.ensure == STOPPED:
            provider.stop(state)  # before a mask or disable, like `systemctl disable --now`
        if "enable" in attrs and want_enable is not None:
            provider.set_enable(state, want_enable)
        if "ensure" in attrs and p.ensure == RUNNING:
            if state.enabled == "mask" and "enable" not in attrs:
                raise ApplyError(
                    f"{unit} is masked, so it cannot start",
                    hint="set enable: true or enable: false to unmask it",
                )
            provider.start(state)
        after = provider.read(unit)
        if "ensure" in attrs and p.ensure == RUNNING and after.active == STOPPED:
            raise ApplyError(
                f"{unit} started but stopped again at once", output=provider.status_output(unit)
            )
        ctx.caches.get(ServiceStates).after_change[res.ref] = after

    @staticmethod
    def refresh_absorbed(changes: list[Change]) -> bool:
        """Whether applying `changes` already did what a refresh would: a start loads the new
        configuration (and a stop wants none); enabling or masking a running service does not.
        The applier asks it before dropping a refresh due on a changed resource."""
        return any(c.attr == "ensure" for c in changes)

    def refresh(self, res: Resource, ctx: ApplyContext) -> str | None:
        p: ServiceParams = res.params
        provider, unit = self._resolve(res, ctx)
        state = ctx.caches.get(ServiceStates).seen.pop(res.ref, None) or provider.read(unit)
        if not state.found:
            raise provider.not_found(unit)
        if state.active != RUNNING:
            # A refresh restarts what runs; it does not start what is meant to be stopped.
            raise RefreshNotNeeded(f"not restarted: {unit} is {state.active}")
        reload = p.restart == "reload"
        provider.prepare(state)
        provider.restart(state, reload)
        verb = "reloaded" if reload else "restarted"
        after = provider.read(unit)
        if after.active != RUNNING:
            raise ApplyError(
                f"{unit} is {after.active} after it was {verb}",
                output=provider.status_output(unit),
            )
        return verb


TYPE: Any = ServiceType()
