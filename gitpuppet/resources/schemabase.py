"""The base of every attribute schema: `attr` fields with a kind, and `Params` (pure).

Split from schema.py so that a type's spec (gitpuppet/types/<name>/spec.py) can build on it
while schema.py lists every schema, without an import cycle.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any


def attr(kind: str, default: Any = None, choices: tuple[str, ...] = (), doc: str = "") -> Any:
    """A schema field: its kind, default and allowed values."""
    meta = {"kind": kind, "choices": choices, "doc": doc}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)  # type: ignore[misc]
    return field(default=default, metadata=meta)


def internal(default: Any = None) -> Any:
    """A field the compiler fills in (resolved content), not settable from YAML."""
    return field(default=default, metadata={"kind": "internal"})


class Params:
    """Base of every schema: the namevar and the cross-attribute checks."""

    type_name = ""
    namevar = "name"

    def check(self) -> list[tuple[str, str]]:
        """(attribute, message) pairs for combinations that make no sense."""
        return []
