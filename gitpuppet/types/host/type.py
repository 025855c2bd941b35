"""`host`: an entry in /etc/hosts (or `target`): `ip name aliases…`, comments kept."""

from __future__ import annotations

from typing import Any

from gitpuppet.model import Resource
from gitpuppet.resources.textfile import TextEditType
from gitpuppet.types.host.spec import HostParams


def edit_hosts(text: str, p: HostParams) -> str:
    """The hosts file with the entry for `p.name` set or removed (pure)."""
    lines = text.splitlines()
    wanted = "\t".join([p.ip or "", p.name, *p.aliases]) if p.ensure == "present" else None
    out: list[str] = []
    placed = False
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and fields[1] == p.name:
            if wanted is not None and not placed:
                current = fields[:]
                comment = "\t#" + line.split("#", 1)[1] if "#" in line else ""
                out.append(line if current == wanted.split("\t") else wanted + comment)
                placed = True
            continue
        out.append(line)
    if wanted is not None and not placed:
        out.append(wanted)
    if out == lines:
        return text  # unchanged, down to a missing final newline
    return "\n".join(out) + ("\n" if out else "")


class HostType(TextEditType):
    name = "host"
    create_missing = True

    def path(self, res: Resource) -> str:
        return str(res.params.target)

    def edit(self, text: str, res: Resource) -> str:
        return edit_hosts(text, res.params)


TYPE: Any = HostType()
