"""Helpers for the unit-tier type tables: build a Resource as the compiler does, build a type's
current state as its `current` would return it, and run the type's `diff` on the two.

Types and their state classes are reached through the registry (`get_type`) and the return
annotation of `current`, never by module path, so the tables do not depend on where a type
lives. No tests here."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

from gitpuppet.contract import ApplyContext, ResourceType
from gitpuppet.errors import SourcePos
from gitpuppet.model import Change, Resource
from gitpuppet.types import get_type
from gitpuppet.types.build import build_params

POS = SourcePos("t.yaml", 1)


def rtype(type_name: str) -> ResourceType:
    """The type's implementation, from the registry."""
    found = get_type(type_name)
    assert found is not None, f"no type {type_name}"
    return found


def make(type_name: str, title: str, data: bytes | None = None, **attrs: Any) -> Resource:
    """A Resource as the compiler would build it; `data` is the file type's rendered content."""
    sensitive = bool(attrs.pop("sensitive", False))
    params = build_params(type_name, title, attrs, POS, {})
    if type_name == "file":
        if data is None and isinstance(attrs.get("content"), str):
            data = attrs["content"].encode()
        params.data = data
    return Resource(type_name, title, params, POS, sensitive=sensitive)


def state_class(type_name: str) -> Any:
    """The class `current` returns for `type_name` (FileState, ServiceState, ...)."""
    return typing.get_type_hints(type(rtype(type_name)).current)["return"]


def field_class(cls: Any, name: str) -> Any:
    """The class of field `name` of dataclass `cls` (`X | None` gives X)."""
    hint = typing.get_type_hints(cls)[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def state(type_name: str, *args: Any, **fields: Any) -> Any:
    """An instance of the type's state class; a dict value for a dataclass-typed field is
    built into that field's class."""
    cls = state_class(type_name)
    if dataclasses.is_dataclass(cls):
        for name, value in fields.items():
            if isinstance(value, dict) and dataclasses.is_dataclass(field_class(cls, name)):
                fields[name] = field_class(cls, name)(**value)
    return cls(*args, **fields)


def diff(type_name: str, cur: Any, res: Resource, want_diff: bool = False) -> list[Change]:
    """The type's diff of `cur` against `res` (with a context that touches nothing)."""
    ctx = ApplyContext(state_dir=Path("/nonexistent/state"), want_diff=want_diff)
    return rtype(type_name).diff(cur, res, ctx)


def summary(changes: list[Change]) -> list[tuple[str, Any, Any]]:
    """(attr, old, new) of each change, the shape the tables compare."""
    return [(c.attr, c.old, c.new) for c in changes]
