"""The git type's spec: its parameters, checks and automatic edges (pure)."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass

from gitpuppet.model import Ref
from gitpuppet.resources.checks import account_rules, option_like
from gitpuppet.resources.coerce import STR, STR_OR_INT
from gitpuppet.resources.schema import EdgeIndex, Params, Problems, attr, owner_edges


@dataclass(slots=True)
class GitParams(Params):
    type_name = "git"
    namevar = "path"
    path_attrs = ("path",)
    path: str = attr(STR, doc="the absolute path of the checkout (the title)")
    source: str | None = attr(STR, doc="the repository URL")
    revision: str = attr(STR, "HEAD", doc="a branch, tag or commit to check out")
    ensure: str = attr(
        STR,
        "present",
        ("present", "latest", "absent"),
        doc="present clones once, latest follows the revision",
    )
    owner: str | int | None = attr(STR_OR_INT, doc="owning user of the checkout")
    group: str | int | None = attr(STR_OR_INT, doc="owning group of the checkout")

    def check(self) -> list[tuple[str, str]]:
        errs = []
        if not os.path.isabs(self.path):
            errs.append(("path", f"path '{self.path}' is not absolute"))
        if self.ensure != "absent" and not self.source:
            errs.append(("source", "git needs a source URL"))
        return errs

    def text_rules(self) -> Problems:
        errs = account_rules("owner", self.owner, "user") + account_rules(
            "group", self.group, "group"
        )
        problem = option_like("revision", self.revision)
        return errs + ([("revision", problem)] if problem else [])

    def auto_edges(self, ref: Ref, index: EdgeIndex) -> None:
        index.need_path(posixpath.dirname(self.path), ref, "automatic: parent directory")
        owner_edges(ref, self.owner, self.group, index)

    def paths_written(self) -> tuple[list[str], bool]:
        return [self.path], True
