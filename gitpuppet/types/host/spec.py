"""The host type's spec: its parameters, checks and automatic edges (pure)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from gitpuppet.resources.checks import host_name_problem
from gitpuppet.resources.coerce import STR, STRLIST
from gitpuppet.resources.schema import Params, Problems, attr


@dataclass(slots=True)
class HostParams(Params):
    type_name = "host"
    path_attrs = ("target",)
    name: str = attr(STR, doc="the host name (the title)")
    ensure: str = attr(STR, "present", ("present", "absent"), doc="present or absent")
    ip: str | None = attr(STR, doc="the IP address (v4 or v6)")
    aliases: list[str] = attr(STRLIST, [], doc="other names of the same address")
    target: str = attr(STR, "/etc/hosts", doc="the hosts file edited")

    def check(self) -> list[tuple[str, str]]:
        if self.ensure == "present":
            if not self.ip:
                return [("ip", "host needs an ip")]
            try:
                ipaddress.ip_address(self.ip)
            except ValueError:
                return [("ip", f"'{self.ip}' is not an IP address")]
        return []

    def text_rules(self) -> Problems:
        for key, name in [("name", self.name)] + [("aliases", a) for a in self.aliases]:
            problem = host_name_problem(name)
            if problem:
                return [(key, problem)]
        return []

    def paths_written(self) -> tuple[list[str], bool]:
        return [self.target], False
