"""One way to choose a provider, for every type that has several (package, service).

A provider declares where it can work (`commands` it needs on PATH, then `confine()` for what
else: Puppet's `commands` and `confine`) and where it is the default (`default_for`: a fact and
the values for which it is, Puppet's `defaultfor`). A type lists its providers once, in a
`Providers`, and asks `choose` for a resource's provider:

1. the one the resource names (`provider:`);
2. else the default the facts point to: `facts` are asked in order (the most telling first),
   and the first one a provider is the default for decides;
3. else, when none of those facts is known (a type used without facts), the first provider
   with defaults that works on this machine.

Whichever it is must be usable here, or `choose` raises an ApplyError saying why. The answer
is kept for the run (ProviderChecks); a package change drops the "unusable" ones, as it may have
brought the missing tool.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from gitpuppet.contract import Caches
from gitpuppet.errors import ApplyError


class Provider:
    """Base of every provider: its name, where it works and where it is the default."""

    name: ClassVar[str] = ""
    # Tools that must be on PATH (the first missing one is the reason it is not usable).
    commands: ClassVar[tuple[str, ...]] = ()
    # Fact (dotted: "os.family") -> the values for which this is the default provider.
    default_for: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    def unusable(self) -> str | None:
        """Why this provider cannot work on this machine, or None when it can."""
        for tool in self.commands:
            if shutil.which(tool) is None:
                return f"{tool} is not installed"
        return self.confine()

    def confine(self) -> str | None:
        """What else keeps it from working here (a file, a running daemon), or None."""
        return None


P = TypeVar("P", bound=Provider)


@dataclass(slots=True)
class ProviderChecks:
    """What `unusable()` said in this run (ApplyContext.caches), by (type, provider): None for
    usable, else why not."""

    answers: dict[tuple[str, str], str | None] = field(default_factory=dict)

    def forget_unusable(self) -> None:
        """Ask the unusable ones again (after a change that may have installed their tools)."""
        self.answers = {k: v for k, v in self.answers.items() if v is None}


@dataclass(frozen=True, slots=True)
class Wording:
    """The messages of a type's provider choice. Fields: {kind} {name} {source} {why} {fact}
    {value} {names}; a hint naming {default} is given only when the default is another one."""

    unusable: str = "provider {name} is not usable on this system: {why}"
    named_hint: str = "this system's facts point to provider {default}"  # named by `provider:`
    default_hint: str = "this system's facts point to provider {default}"  # from the facts
    no_default: str = "no {kind} provider for this system ({fact} {value})"


def fact_value(facts: Mapping[str, Any], dotted: str) -> str | None:
    """The fact at a dotted path ("os.family"), as text, or None when it is not there."""
    value: Any = facts
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return None if value is None or isinstance(value, Mapping) else str(value)


@dataclass(frozen=True)
class Providers(Generic[P]):
    """The providers of one type, in order, and how its choice is worded."""

    kind: str
    members: tuple[P, ...]
    facts: tuple[str, ...]  # the facts that point to a default, the most telling first
    wording: Wording = Wording()

    def named(self, name: str) -> P | None:
        """The provider called `name`, or None."""
        return next((p for p in self.members if p.name == name), None)

    def names(self) -> str:
        """'provider: a or provider: b', for hints."""
        return " or ".join(f"provider: {p.name}" for p in self.members)

    def default(self, facts: Mapping[str, Any]) -> tuple[P | None, str, str] | None:
        """(the default provider or None, the fact that decided, its value), or None when no
        fact of `facts` is known."""
        known = [(f, v) for f in self.facts if (v := fact_value(facts, f)) is not None]
        for fact, value in known:
            for provider in self.members:
                if value in provider.default_for.get(fact, ()):
                    return provider, fact, value
        return (None, *known[0]) if known else None

    def choose(self, wanted: str | None, facts: Mapping[str, Any], caches: Caches | None) -> P:
        """The provider for a resource that names `wanted` (or None), usable here; else an
        ApplyError saying why not and what to do."""
        checks = (caches or Caches()).get(ProviderChecks)
        found = self.default(facts)
        default = found[0] if found else None
        if wanted is not None:
            provider = self.named(wanted)
            if provider is None:
                raise ApplyError(
                    f"no {self.kind} provider named '{wanted}'", hint=f"set {self.names()}"
                )
            return self._usable(provider, "provider", default, checks)
        if found is None:
            return self._probe(checks)
        if default is None:
            fact, value = found[1], found[2]
            words = {"kind": self.kind, "fact": fact.replace(".", " "), "value": value}
            raise ApplyError(self.wording.no_default.format(**words), hint=f"set {self.names()}")
        return self._usable(default, f"the {found[1]} fact", default, checks)

    def _usable(self, provider: P, source: str, default: P | None, checks: ProviderChecks) -> P:
        why = self._why(provider, checks)
        if why is None:
            return provider
        words = {"kind": self.kind, "name": provider.name, "source": source, "why": why}
        template = self.wording.named_hint if source == "provider" else self.wording.default_hint
        hint: str | None = template.format(**words, default=default.name if default else "")
        if "{default}" in template and default in (None, provider):
            hint = None
        raise ApplyError(self.wording.unusable.format(**words), hint=hint)

    def _probe(self, checks: ProviderChecks) -> P:
        """No facts to go by: the first provider with defaults that works here."""
        reasons = []
        for provider in self.members:
            if provider.default_for:
                why = self._why(provider, checks)
                if why is None:
                    return provider
                reasons.append(f"{provider.name}: {why}")
        raise ApplyError(
            f"no {self.kind} provider works on this system ({'; '.join(reasons)})",
            hint=f"set {self.names()}",
        )

    def _why(self, provider: P, checks: ProviderChecks) -> str | None:
        key = (self.kind, provider.name)
        if key not in checks.answers:
            checks.answers[key] = provider.unusable()
        return checks.answers[key]
