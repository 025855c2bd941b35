"""Reading and editing one key of an INI-style text (pure): comments, blank lines and the
order of everything else are kept as written."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SECTION = re.compile(r"\s*\[([^\]]*)\]\s*(?:[#;].*)?")


@dataclass(frozen=True, slots=True)
class Block:
    """The lines of one section: `start` is its header's index (-1 for the lines before any
    header), `end` one past its last line."""

    name: str
    start: int
    end: int


def blocks(lines: list[str]) -> list[Block]:
    """The file cut into sections, the unnamed one before the first header included."""
    found: list[Block] = []
    name, start = "", -1
    for i, line in enumerate(lines):
        header = _SECTION.fullmatch(line)
        if header:
            found.append(Block(name, start, i))
            name, start = header.group(1).strip(), i
    found.append(Block(name, start, len(lines)))
    return found


def key_of(line: str, delimiter: str) -> str | None:
    """The key a line sets, or None for a comment, a blank line or a header."""
    text = line.strip()
    if not text or text[0] in "#;[" or delimiter not in text:
        return None
    return text.split(delimiter, 1)[0].strip()


def value_of(line: str, delimiter: str) -> str:
    return line.split(delimiter, 1)[1].strip()


def find(text: str, section: str, setting: str, delimiter: str) -> str | None:
    """The value the file gives `setting` in `section` (the first one), or None."""
    lines = text.splitlines()
    for block in blocks(lines):
        if block.name != section:
            continue
        for line in lines[block.start + 1 : block.end]:
            if key_of(line, delimiter) == setting:
                return value_of(line, delimiter)
    return None


def edit_ini(
    text: str, section: str, setting: str, value: str | None, separator: str = " = "
) -> str:
    """The text with `setting` in `section` set to `value` (None: removed). The first
    occurrence is changed in place (its indent kept), later duplicates are removed; a missing
    key goes after the section's last non-blank line, a missing section at the end."""
    delimiter = separator.strip() or "="
    lines = text.splitlines()
    mine = [b for b in blocks(lines) if b.name == section]
    hits = [
        i for b in mine for i in range(b.start + 1, b.end) if key_of(lines[i], delimiter) == setting
    ]
    out = list(lines)
    if value is None:
        out = [ln for i, ln in enumerate(lines) if i not in set(hits)]
    elif hits:
        first = lines[hits[0]]
        if value_of(first, delimiter) != value:
            indent = first[: len(first) - len(first.lstrip())]
            out[hits[0]] = f"{indent}{setting}{separator}{value}"
        drop = set(hits[1:])
        out = [ln for i, ln in enumerate(out) if i not in drop]
    else:
        out = _insert(lines, mine, section, f"{setting}{separator}{value}")
    if out == lines:
        return text  # unchanged, down to a missing final newline
    return "\n".join(out) + ("\n" if out else "")


def _insert(lines: list[str], mine: list[Block], section: str, entry: str) -> list[str]:
    """`lines` with `entry` added to the first block of `section`, or a new section at the end."""
    if not mine:
        if not section:
            return [entry, *lines]
        head = lines + ([""] if lines and lines[-1].strip() else [])
        return [*head, f"[{section}]", entry]
    block = mine[0]
    at = block.end
    while at - 1 > block.start and not lines[at - 1].strip():
        at -= 1  # before the blank lines that separate it from the next section
    return [*lines[:at], entry, *lines[at:]]
