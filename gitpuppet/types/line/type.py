"""`line`: one line in a file, like Ansible's lineinfile."""

from __future__ import annotations

import re
from typing import Any

from gitpuppet.model import Resource
from gitpuppet.resources.textfile import TextEditType
from gitpuppet.types.line.spec import LineParams


def edit_line(text: str, p: LineParams) -> str:
    """The file text with the line ensured present or absent (pure)."""
    lines = text.splitlines()
    trailing = text.endswith("\n") or not text
    match = re.compile(p.match) if p.match else None
    want = p.wanted
    if p.ensure == "absent":
        kept = [ln for ln in lines if not (ln == want or (match and match.search(ln)))]
        if kept == lines:
            return text
        return "\n".join(kept) + ("\n" if kept and trailing else "")
    assert want is not None
    if match:
        hits = [i for i, ln in enumerate(lines) if match.search(ln)]
        if hits:
            if lines[hits[-1]] == want:
                return text
            lines[hits[-1]] = want
            return "\n".join(lines) + ("\n" if trailing else "")
    if want in lines:
        return text
    if p.after:
        after = re.compile(p.after)
        hits = [i for i, ln in enumerate(lines) if after.search(ln)]
        if hits:
            lines.insert(hits[-1] + 1, want)
            return "\n".join(lines) + ("\n" if trailing else "")
    lines.append(want)
    return "\n".join(lines) + "\n"


class LineType(TextEditType):
    name = "line"

    def path(self, res: Resource) -> str:
        return str(res.params.path)

    def edit(self, text: str, res: Resource) -> str:
        return edit_line(text, res.params)

    def follow(self, res: Resource) -> bool:
        return bool(res.params.follow)

    def validate_command(self, res: Resource) -> str | None:
        return res.params.validate  # type: ignore[no-any-return]


TYPE: Any = LineType()
