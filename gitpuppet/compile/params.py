"""Typed parameters of classes and defines (SPEC §2.2, issue 9 item 3).

A parameter is declared as `name: default` or `name: {type: T, default: D, doc: text}`:

- `name: ~` is required, of any type; `name: default` takes its type from the default: str, int,
  bool, list or map (a templated string default, or a number with a point, is `any`).
- The typed form is recognised when the value is a mapping that has a `type` key and no keys but
  type, default and doc; `type` must then be one of str, int, bool, list, map, any, or an optional
  form of one (`optional[str]` or `str?`: either spelling, ~ is then a value). The one exception,
  so that a genuine map default such as `{type: web}` still works: a mapping whose only key is
  `type` with a value that is no type name is a map default. A map default whose keys look like
  the typed form is written `{type: map, default: {type: str}}`.
- Typed without a default: required, unless optional.

A value of the wrong type (from the node declaration, the define use, data or the default) is a
compile error at the place the value is written, naming the parameter's own place as well. The
value itself is never printed (a parameter may hold a secret): only what kind of value it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gitpuppet.compile.loader import PosDict
from gitpuppet.compile.template import renders_to_itself
from gitpuppet.errors import SourceError, SourcePos, did_you_mean

TYPE_NAMES = ("str", "int", "bool", "list", "map", "any")
SPEC_KEYS = frozenset(("type", "default", "doc"))
_OPTIONAL = re.compile(r"^optional\[\s*(\w+)\s*\]$|^(\w+)\s*\?$")
_CHECKS: dict[str, Any] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, (list, tuple)),
    "map": lambda v: isinstance(v, dict),
    "any": lambda v: True,
}
_WANTS = {
    "str": ("a string", "quote it"),
    "int": ("an integer", "write an unquoted whole number"),
    "bool": ("true or false", "write true or false, unquoted"),
    "list": ("a list", "write a YAML list, e.g. [a, b] (a string is not a list of one)"),
    "map": ("a mapping", "write a YAML mapping, e.g. {key: value}"),
}


@dataclass(frozen=True, slots=True)
class ParamType:
    """A parameter's type: a base name of TYPE_NAMES, and whether ~ is allowed too."""

    name: str
    optional: bool = False

    def __str__(self) -> str:
        return f"optional[{self.name}]" if self.optional else self.name

    def accepts(self, value: Any) -> bool:
        """Whether `value` (rendered) is of this type."""
        if value is None:
            return self.optional or self.name == "any"
        return bool(_CHECKS[self.name](value))


ANY = ParamType("any")


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One declared parameter: its type, its default (None: none) and where it is written."""

    name: str
    type: ParamType
    default: Any
    pos: SourcePos  # the parameter's line in the class or define file
    required: bool
    doc: str | None = None


def parse_type(text: Any) -> ParamType | None:
    """`str`, `str?` or `optional[str]` as a ParamType; None when `text` is no type name."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    if text in TYPE_NAMES:
        return ParamType(text)
    match = _OPTIONAL.match(text)
    if match:
        base = match.group(1) or match.group(2)
        if base in TYPE_NAMES:
            return ParamType(base, optional=True)
    return None


def is_typed_form(value: Any) -> bool:
    """Whether a parameter's declared value is the typed form (see the module docstring)."""
    if not isinstance(value, dict) or "type" not in value or not set(value) <= SPEC_KEYS:
        return False
    return len(value) > 1 or parse_type(value["type"]) is not None


def inferred_type(default: Any) -> ParamType:
    """The type a plain default gives its parameter."""
    if isinstance(default, bool):
        return ParamType("bool")
    if isinstance(default, int):
        return ParamType("int")
    if isinstance(default, str):
        return ParamType("str") if renders_to_itself(default) else ANY
    if isinstance(default, list):
        return ParamType("list")
    if isinstance(default, dict):
        return ParamType("map")
    return ANY


def param_specs(declared: PosDict, what: str) -> dict[str, ParamSpec]:
    """Every parameter of a class or define body's `params:`, with its type."""
    specs = {}
    for key, raw in declared.items():
        pos = declared.pos(key)
        name = str(key)
        if is_typed_form(raw):
            specs[name] = _typed_spec(name, raw, pos, what)
        else:
            specs[name] = ParamSpec(name, inferred_type(raw), raw, pos, raw is None)
    return specs


def _typed_spec(name: str, raw: dict[str, Any], pos: SourcePos, what: str) -> ParamSpec:
    spelled = raw["type"]
    ptype = parse_type(spelled)
    if ptype is None:
        known = [*TYPE_NAMES, *(f"{t}?" for t in TYPE_NAMES)]
        hint = did_you_mean(str(spelled), known) if isinstance(spelled, str) else None
        raise SourceError(
            pos,
            f"{what} parameter '{name}': unknown type {spelled!r} "
            f"(types: {', '.join(TYPE_NAMES)}; optional: str? or optional[str])",
            hint or "for a map default with these keys write {type: map, default: {...}}",
        )
    doc = raw.get("doc")
    if doc is not None and not isinstance(doc, str):
        raise SourceError(pos, f"{what} parameter '{name}': doc must be a string")
    default = raw.get("default")
    spec = ParamSpec(name, ptype, default, pos, default is None and not ptype.optional, doc)
    if default is not None and not (isinstance(default, str) and "{" in default):
        # A list or mapping stays one whatever its items render to: check it now.
        check_value(spec, default, what, "its default", _pos_in(raw, "default", pos))
    return spec


def _pos_in(raw: Any, key: str, fallback: SourcePos) -> SourcePos:
    return raw.pos(key) if isinstance(raw, PosDict) and key in raw.lines else fallback


def kind_of(value: Any) -> str:
    """What a value is, in words, without showing it."""
    if value is None:
        return "~ (nothing)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a point"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def check_value(spec: ParamSpec, value: Any, what: str, source: str, where: SourcePos) -> None:
    """A SourceError at `where` (the value's place) when `value` is not of the spec's type;
    the message names the parameter's own place too."""
    if spec.type.accepts(value):
        return
    wants, hint = _WANTS.get(spec.type.name, ("a value", None))
    if spec.type.optional:
        wants += " or ~"
    raise SourceError(
        where,
        f"{what} parameter '{spec.name}' must be {wants} (type {spec.type}, declared at "
        f"{spec.pos}), but {source} gives {kind_of(value)}",
        hint,
    )


def data_pos(data: Any, key: str) -> SourcePos | None:
    """Where the highest data level that has `key` writes it (the innermost line of a dotted
    path such as ntp: {servers: …}); None when no level has it."""
    for level in data.levels:
        node = level.data
        if node is None:
            continue
        if key in node:
            return node.pos(key)  # type: ignore[no-any-return]
        pos = None
        for part in key.split("."):
            if not (isinstance(node, PosDict) and part in node):
                pos = None
                break
            pos, node = node.pos(part), node[part]
        if pos is not None:
            return pos
    return None
