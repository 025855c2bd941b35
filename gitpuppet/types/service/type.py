"""`service`: keep a service running or stopped, enabled, disabled or masked, and restart (or
reload) it when something it subscribes to changes (SPEC §3.2).

The provider (systemd.py, sysvinit.py) is the resource's `provider`, else the `init` fact,
else what this machine runs (systemd when /run/systemd/system exists). Each resource's state is
read at its own turn, in one call: earlier resources of the same run (a package whose install
script starts its daemon, a unit file, an exec) may change it, so a state read ahead would be
stale. The read after a change doubles as the applier's verification read.
"""

from __future__ import annotations

import os
from typing import Any

from gitpuppet.contract import ApplyContext, RefreshNotNeeded, ResourceType
from gitpuppet.errors import ApplyError
from gitpuppet.model import Change, Ref, Resource
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

PROVIDERS: dict[str, Provider] = {p.name: p for p in (SystemdProvider(), SysvinitProvider())}
# ctx.cache keys: the state read after a change (taken by the verification read) and the state
# read by current() (used by a refresh delivered right after it).
AFTER_CHANGE = "service.after_change"
SEEN = "service.seen"


def detected_init() -> str:
    """The init system this machine runs, as the `init` fact says it."""
    return "systemd" if os.path.isdir("/run/systemd/system") else "sysvinit"


def choose_provider(p: ServiceParams, facts: dict[str, Any]) -> Provider:
    """The resource's provider, else the one the facts name, else this machine's; raises
    ApplyError saying why when it cannot work here."""
    name = p.provider or facts.get("init") or detected_init()
    source = "provider" if p.provider else "the init fact" if facts.get("init") else "this machine"
    provider = PROVIDERS.get(str(name))
    if provider is None:
        raise ApplyError(
            f"no service provider for init system '{name}' (from {source})",
            hint="set provider: systemd or provider: sysvinit",
        )
    why = provider.unusable()
    if why:
        hint = (
            f"remove provider: {name} to use this machine's init system"
            if p.provider
            else "set provider: to this machine's init system"
        )
        raise ApplyError(f"provider {name} (from {source}) cannot work here: {why}", hint=hint)
    return provider


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
        provider = choose_provider(p, ctx.facts)
        return provider, provider.unit_name(p.name)

    @staticmethod
    def _states(ctx: ApplyContext, key: str) -> dict[Ref, ServiceState]:
        states: dict[Ref, ServiceState] = ctx.cache.setdefault(key, {})
        return states

    def current(self, res: Resource, ctx: ApplyContext) -> ServiceState:
        p: ServiceParams = res.params
        provider, unit = self._resolve(res, ctx)
        state = self._states(ctx, AFTER_CHANGE).pop(res.ref, None) or provider.read(unit)
        if not state.found and p.ensure is None and p.enable is None:
            raise provider.not_found(unit)  # nothing declared: only its refresh could need it
        self._states(ctx, SEEN)[res.ref] = state
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
        self._states(ctx, AFTER_CHANGE)[res.ref] = after

    @staticmethod
    def refresh_absorbed(changes: list[Change]) -> bool:
        """Whether applying `changes` already did what a refresh would: a start loads the new
        configuration (and a stop wants none); enabling or masking a running service does not.
        The applier asks it before dropping a refresh due on a changed resource."""
        return any(c.attr == "ensure" for c in changes)

    def refresh(self, res: Resource, ctx: ApplyContext) -> str | None:
        p: ServiceParams = res.params
        provider, unit = self._resolve(res, ctx)
        state = self._states(ctx, SEEN).pop(res.ref, None) or provider.read(unit)
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
