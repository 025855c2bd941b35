"""The shape of a class or define file: its keys, its `- type: title` entries, its includes.

What can be checked before anything renders is checked here, once per entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitpuppet.compile.loader import PosDict, PosList, refuse_unknown_keys
from gitpuppet.compile.template import Templates, renders_to_itself
from gitpuppet.errors import SourceError, SourcePos
from gitpuppet.types import schemas
from gitpuppet.types.build import check_attribute_names

ABSENT: Any = object()


@dataclass
class EntryShape:
    """What a `- type: title` entry says before anything renders, checked once per entry (a
    define's entries are seen once per use of the define)."""

    entry: PosDict
    type_key: str
    title: Any
    attr_pos: dict[str, SourcePos]  # without for_each and when, as `parts`
    parts: list[tuple[str, Any, SourcePos, bool]]  # name, value, position, needs rendering
    for_each: Any
    when: Any


def entry_shape(entry: Any, pos: SourcePos) -> EntryShape:
    if not isinstance(entry, PosDict) or not entry:
        raise SourceError(
            pos,
            "each resource must be a mapping whose first key is its type, e.g. `- file: /etc/motd`",
        )
    type_key = next(iter(entry))
    if not isinstance(type_key, str):
        raise SourceError(pos, f"resource type must be a name, not {type_key!r}")
    attrs = {k: v for k, v in entry.items() if k != type_key}
    for key in attrs:
        if not isinstance(key, str):
            raise SourceError(entry.pos(key), f"attribute name must be a string, not {key!r}")
    if type_key in schemas():
        # Attribute names are checked before anything renders: a typo such as `foreach`
        # would otherwise surface as a confusing template error.
        check_attribute_names(type_key, {k: entry.pos(k) for k in attrs})
    for_each = attrs.pop("for_each", ABSENT)
    when = attrs.pop("when", None)
    attr_pos = {k: entry.pos(k) for k in attrs}
    parts = [(k, v, attr_pos[k], not renders_to_itself(v)) for k, v in attrs.items()]
    return EntryShape(entry, type_key, entry[type_key], attr_pos, parts, for_each, when)


def check_keys(body: PosDict, allowed: tuple[str, ...], what: str) -> None:
    refuse_unknown_keys(
        body, allowed, f"unknown key '{{key}}' in {what}", f"use {', '.join(allowed)}"
    )


def names_of(
    body: PosDict, key: str, scope: dict[str, Any], templates: Templates
) -> list[tuple[str, SourcePos]]:
    raw = body.get(key)
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for i, item in enumerate(items):
        pos = raw.pos(i) if isinstance(raw, PosList) else body.pos(key)
        name = templates.render_value(item, scope, pos)
        if not isinstance(name, str):
            raise SourceError(pos, f"{key} must list class names")
        out.append((name, pos))
    return out


def entries_of(body: PosDict, path: str) -> list[tuple[Any, SourcePos]]:
    raw = body.get("resources")
    if raw is None:
        return []
    if not isinstance(raw, PosList):
        raise SourceError(
            body.pos("resources"), "resources must be a list of `- type: title` entries"
        )
    return [(entry, raw.pos(i)) for i, entry in enumerate(raw)]
