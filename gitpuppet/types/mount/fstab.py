"""fstab lines and /proc/self/mountinfo (pure): parsing, the line a mount wants, editing.

Both files escape a blank, a tab, a newline and a backslash in a field as octal (`\\040`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitpuppet.types.mount.spec import MountParams

_ESCAPED = re.compile(r"\\([0-7]{3})")


def escape(field: str) -> str:
    return "".join(f"\\{ord(ch):03o}" if ch in " \t\n\\" else ch for ch in field)


def unescape(field: str) -> str:
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 8)), field)


@dataclass(frozen=True, slots=True)
class Mounted:
    """One line of mountinfo: what is mounted where."""

    point: str
    source: str
    fstype: str
    options: str


def parse_mountinfo(text: str) -> list[Mounted]:
    """Every mount, in mount order (a later one over the same point hides the earlier)."""
    found = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 6 or len(tail) < 2:
            continue
        found.append(Mounted(unescape(fields[4]), unescape(tail[1]), tail[0], fields[5]))
    return found


def mounted_at(text: str, point: str) -> Mounted | None:
    """The mount on top at `point`, or None."""
    hits = [m for m in parse_mountinfo(text) if m.point == point]
    return hits[-1] if hits else None


def fstab_line(p: MountParams) -> str:
    fields = [p.device or "", p.name, p.fstype or "", p.options, str(p.dump), str(p.passno)]
    return "\t".join(escape(f) for f in fields)


def entry_of(line: str) -> list[str] | None:
    """The fields of an fstab line, or None for a comment or a blank line."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    return [unescape(f) for f in text.split()]


def find_entry(text: str, point: str) -> str | None:
    """The (first) fstab line for `point`, or None."""
    for line in text.splitlines():
        fields = entry_of(line)
        if fields is not None and len(fields) >= 2 and fields[1] == point:
            return line
    return None


def edit_fstab(text: str, p: MountParams) -> str:
    """fstab with the entry for `p.name` as `p` wants it (removed with ensure: absent), in
    the place of the first line for that point; comments and other lines kept."""
    wanted = None if p.ensure == "absent" else fstab_line(p)
    lines = text.splitlines()
    out: list[str] = []
    placed = False
    for line in lines:
        fields = entry_of(line)
        if fields is None or len(fields) < 2 or fields[1] != p.name:
            out.append(line)
            continue
        if wanted is not None and not placed:
            # The same fields written another way (spaces, a missing dump/pass) stay as written.
            same = fields + ["0"] * (6 - len(fields)) == [unescape(f) for f in wanted.split("\t")]
            out.append(line if same else wanted)
            placed = True
    if wanted is not None and not placed:
        out.append(wanted)
    if out == lines:
        return text
    return "\n".join(out) + ("\n" if out else "")
