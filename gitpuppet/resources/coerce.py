"""Coercion of YAML values to the kinds of schema attributes (pure).

Each kind turns a loaded (and rendered) YAML value into what the type's dataclass holds, or
says what is wrong with it, in words that follow "attribute 'x' …".
"""

from __future__ import annotations

import re
from typing import Any

from gitpuppet.resources import checks

# Kinds of attribute values. Each coerces a YAML value or returns an error message.
STR, INT, BOOL, STRLIST, INTLIST, MAP, STR_OR_INT, MODE, ANY = (
    "str",
    "int",
    "bool",
    "strlist",
    "intlist",
    "map",
    "str_or_int",
    "mode",
    "any",
)


_INT_RE = re.compile(r"-?\d+")
_MODE_RE = re.compile(r"0?[0-7]{3,4}")


def coerce(kind: str, value: Any) -> tuple[Any, str | None]:
    """(coerced value, None) or (None, what is wrong)."""
    if kind == ANY:
        return value, None
    if value.__class__ is not str and kind in (STR, STR_OR_INT):
        wrong = checks.not_text(value)
        if wrong:
            return None, wrong
    if kind == STR:
        if isinstance(value, (bool, dict, list)) or value is None:
            return None, f"must be a string, not {_describe(value)}"
        return str(value), None
    if kind == INT:
        if isinstance(value, bool):
            return None, f"must be an integer, not {_describe(value)}"
        if isinstance(value, int):
            return value, None
        if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
            return int(value), None
        return None, f"must be an integer, not {_describe(value)}"
    if kind == BOOL:
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
            return value.lower() in ("true", "yes"), None
        return None, f"must be true or false, not {_describe(value)}"
    if kind == STR_OR_INT:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            return None, f"must be a name or a number, not {_describe(value)}"
        return value, None
    if kind == MODE:
        if isinstance(value, int) and not isinstance(value, bool):
            return None, f'must be a quoted octal string such as "0644", not the number {value}'
        if not isinstance(value, str) or not _MODE_RE.fullmatch(value):
            return None, f'must be an octal string such as "0644", not {_describe(value)}'
        return value.zfill(4)[-4:], None
    if kind == STRLIST:
        items = value if isinstance(value, list) else [value]
        out = []
        for item in items:
            if isinstance(item, (dict, list, bool)) or item is None:
                return None, f"must be a string or a list of strings, not {_describe(value)}"
            wrong = checks.not_text(item)
            if wrong:
                return None, f"has an item that {wrong}"
            out.append(str(item))
        return out, None
    if kind == INTLIST:
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in items):
            return None, f"must be an integer or a list of integers, not {_describe(value)}"
        return list(items), None
    if kind == MAP:
        if isinstance(value, dict):
            for k, v in value.items():
                wrong = checks.not_text(v) or (
                    "is a list or a mapping, not a string" if isinstance(v, (list, dict)) else None
                )
                if wrong:
                    return None, f"has a value for {k} that {wrong}"
            return {str(k): "" if v is None else str(v) for k, v in value.items()}, None
        if isinstance(value, list) and all(isinstance(i, str) and "=" in i for i in value):
            return dict(i.split("=", 1) for i in value), None
        return None, f"must be a mapping (or a list of KEY=VALUE), not {_describe(value)}"
    raise AssertionError(kind)


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (~)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"'{value}'"
