"""The line type's spec: its parameters, checks and automatic edges (pure)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from gitpuppet.model import Ref
from gitpuppet.resources.checks import command_problem
from gitpuppet.resources.coerce import BOOL, STR
from gitpuppet.resources.schema import EdgeIndex, Params, Problems, attr


@dataclass(slots=True)
class LineParams(Params):
    # The title is the line itself: `- line: "PermitRootLogin no"`, or, with `text:`, only a
    # name (`- line: set the db password` + `text: "password=..."`), so that a sensitive line
    # need not be its own title. (A `line:` attribute beside the `line:` type key would be a
    # duplicate YAML key, hence `text`.)
    type_name = "line"
    namevar = "line"
    path_attrs = ("path",)
    path: str = attr(STR, doc="the absolute path of the file edited")
    line: str | None = attr(STR, doc="the line to ensure (the title, unless `text` is given)")
    text: str | None = attr(STR, doc="the line, when the title is only a name")
    match: str | None = attr(
        STR,
        doc="a regex: the last matching line is replaced (absent: all are removed)",
    )
    after: str | None = attr(
        STR, doc="a regex: a new line goes after the last matching line (else at the end)"
    )
    ensure: str = attr(STR, "present", ("present", "absent"), doc="present or absent")
    follow: bool = attr(BOOL, False, doc="edit the file a link at `path` points to")
    validate: str | None = attr(
        STR, doc="a command run on the new text before it replaces the old; % is its temp file"
    )

    @property
    def wanted(self) -> str | None:
        """The line to ensure: `text` when given (the title is then a name), else the title."""
        return self.text if self.text is not None else self.line

    def check(self) -> list[tuple[str, str]]:
        errs = []
        key = "text" if self.text is not None else "line"
        if not self.path:
            errs.append(("path", "line needs a path"))
        elif not os.path.isabs(self.path):
            errs.append(("path", f"path '{self.path}' is not absolute"))
        if self.ensure == "present" and self.wanted is None:
            errs.append(("line", "line needs `line:` (the text to ensure)"))
        if self.ensure == "absent" and self.wanted is None and self.match is None:
            errs.append(("ensure", "ensure: absent needs `line:` or `match:`"))
        if self.wanted is not None and "\n" in self.wanted:
            errs.append((key, "line must be a single line"))
        for key in ("match", "after"):
            pattern = getattr(self, key)
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    errs.append((key, f"{key} is not a valid regular expression: {exc}"))
        return errs

    def text_rules(self) -> Problems:
        if self.validate is None:
            return []
        problem = command_problem(self.validate, split=True)
        return [("validate", f"validate command {problem}")] if problem else []

    def auto_edges(self, ref: Ref, index: EdgeIndex) -> None:
        index.need_path(self.path, ref, "automatic: its file")

    def paths_written(self) -> tuple[list[str], bool]:
        return [self.path], False
