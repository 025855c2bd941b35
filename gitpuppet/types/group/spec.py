"""The group type's spec: its parameters, checks and automatic edges (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from gitpuppet.resources.checks import account_problems, account_rules
from gitpuppet.resources.coerce import BOOL, INT, STR, STRLIST
from gitpuppet.resources.schema import Params, Problems, attr


@dataclass(slots=True)
class GroupParams(Params):
    type_name = "group"
    account_kind = "group"
    name: str = attr(STR, doc="the group name (the title)")
    ensure: str = attr(STR, "present", ("present", "absent"), doc="present or absent")
    gid: int | None = attr(INT, doc="the numeric group id")
    system: bool = attr(BOOL, False, doc="a system group (a gid below 1000) when created")
    members: list[str] | None = attr(STRLIST, doc="the members: the whole list")

    def check(self) -> list[tuple[str, str]]:
        return account_problems("group", self.name, self.gid, "gid")

    def text_rules(self) -> Problems:
        return account_rules("members", self.members or [], "user")
