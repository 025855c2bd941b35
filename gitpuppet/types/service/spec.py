"""The service type's spec: its parameters, checks and automatic edges (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from gitpuppet.model import Ref
from gitpuppet.resources.checks import name_rules
from gitpuppet.resources.coerce import ANY, STR
from gitpuppet.resources.schema import EdgeIndex, Params, Problems, attr


@dataclass(slots=True)
class ServiceParams(Params):
    type_name = "service"
    name: str = attr(STR, doc="the service (unit) name (the title)")
    ensure: str | None = attr(
        STR,
        None,
        ("running", "stopped"),
        doc="not given: left as it is",
    )
    enable: bool | str | None = attr(ANY, None, doc="true, false or mask")
    provider: str | None = attr(
        STR,
        None,
        ("systemd", "sysvinit"),
        doc="the init system (default: from the facts)",
    )
    restart: str = attr(
        STR, "restart", ("restart", "reload"), doc="what a refresh does to a running service"
    )

    def check(self) -> list[tuple[str, str]]:
        if self.enable not in (None, True, False, "mask"):
            return [("enable", f"enable must be true, false or mask, not {self.enable!r}")]
        if self.enable == "mask" and self.ensure == "running":
            return [
                (
                    "enable",
                    "enable: mask and ensure: running contradict each other (a masked unit "
                    "cannot start); use enable: false",
                )
            ]
        return []

    def text_rules(self) -> Problems:
        return name_rules(self.name)

    def auto_edges(self, ref: Ref, index: EdgeIndex) -> None:
        for installer in index.software:
            if installer.title in (ref.title, self.name):
                index.add(installer.ref, ref, "automatic: the service's package")
