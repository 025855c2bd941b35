"""The package type's spec: its parameters, checks and automatic edges (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from gitpuppet.resources.checks import name_rules
from gitpuppet.resources.coerce import STR
from gitpuppet.resources.schema import Params, Problems, attr


@dataclass(slots=True)
class PackageParams(Params):
    type_name = "package"
    installs_software = True
    name: str = attr(STR, doc="the package name (the title)")
    ensure: str = attr(
        STR, "installed", doc="installed, present, latest, absent, purged or a version"
    )
    provider: str | None = attr(
        STR,
        None,
        ("apt", "dnf", "pip"),
        doc="the package manager (default: from the facts)",
    )

    def text_rules(self) -> Problems:
        return name_rules(self.name)
