"""Building a type's parameters from a YAML mapping, checked at compile time (pure).

`build_params` turns the attributes of a declaration into the type's `Params` dataclass or
raises a SourceError naming the attribute, its line, and the likely fix.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gitpuppet.errors import SourceError, SourcePos, did_you_mean
from gitpuppet.resources import checks
from gitpuppet.resources.coerce import coerce
from gitpuppet.resources.schema import Params
from gitpuppet.types import schemas

# Attributes that every type accepts; the compiler handles them, not the type.
METAPARAMS = (
    "require",
    "before",
    "notify",
    "subscribe",
    "noop",
    "tags",
    "sensitive",
    "when",
    "for_each",
)
# What each metaparameter means (for the generated reference, gitpuppet.reference).
METAPARAM_DOCS: dict[str, str] = {
    "require": "references applied before this resource",
    "before": "references applied after this resource",
    "notify": "references refreshed when this resource changes (ordered after it)",
    "subscribe": "references whose change refreshes this resource (ordered before it)",
    "noop": "true: never change this resource, only report what would change",
    "tags": "extra tags (every resource has its type, class and define as tags)",
    "sensitive": "true: the title, values and diffs are redacted everywhere",
    "when": "a Jinja2 expression: the resource is declared only when it is true",
    "for_each": "a list or mapping: the resource is declared once per item",
}


_FIELDS: dict[type[Params], dict[str, dataclasses.Field[Any]]] = {}


def _fields(cls: type[Params]) -> dict[str, dataclasses.Field[Any]]:
    """The attributes of a type settable from YAML (not its internal fields), by name."""
    found = _FIELDS.get(cls)
    if found is None:
        found = _FIELDS[cls] = {
            f.name: f
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if f.metadata.get("kind") != "internal"
        }
    return found


def attribute_names(type_name: str) -> list[str]:
    """The attributes a type accepts (without metaparameters)."""
    return list(_fields(schemas()[type_name]))


def check_attribute_names(type_name: str, names: dict[str, SourcePos]) -> None:
    """An error for the first attribute that is neither the type's nor a metaparameter."""
    fields = _fields(schemas()[type_name])
    for key, where in names.items():
        if key not in fields and key not in METAPARAMS:
            raise SourceError(
                where,
                f"unknown attribute '{key}' for {type_name}",
                did_you_mean(key, list(fields) + list(METAPARAMS)),
            )


def build_params(
    type_name: str,
    title: str,
    attrs: dict[str, Any],
    pos: SourcePos,
    attr_pos: dict[str, SourcePos],
    check_names: bool = True,
    resolved: dict[str, Any] | None = None,
) -> Params:
    """Check `attrs` against the type's schema and build its params dataclass.

    `check_names=False` when the caller has run `check_attribute_names` on them already;
    `resolved` are the internal fields the spec's `resolve` hook computed."""
    cls = schemas()[type_name]
    fields = _fields(cls)
    values: dict[str, Any] = {}
    paths = cls.path_attrs
    if check_names:
        check_attribute_names(type_name, {key: attr_pos.get(key, pos) for key in attrs})
    for key, raw in attrs.items():
        where = attr_pos.get(key, pos)
        spec = fields.get(key)
        if spec is None:
            continue  # a metaparameter: the compiler handles it
        if raw is None:
            continue  # ~ means "use the default"
        value, problem = coerce(spec.metadata["kind"], raw)
        if problem:
            raise SourceError(where, f"{type_name} attribute '{key}' {problem}")
        choices = spec.metadata["choices"]
        if choices and value not in choices:
            raise SourceError(
                where,
                f"{type_name} attribute '{key}' must be one of {', '.join(choices)}, not '{value}'",
                did_you_mean(str(value), choices),
            )
        values[key] = _normal_path(type_name, key, value, where) if key in paths else value
    namevar = cls.namevar
    if namevar not in values:
        values[namevar] = (
            _normal_path(type_name, namevar, title, pos) if namevar in paths else title
        )
    params = cls(**values, **(resolved or {}))
    for key, message in params.check():
        raise SourceError(attr_pos.get(key, pos), f"{type_name}:{title}: {message}")
    # After the type's own checks (their words are more precise), before the shared rules on
    # names (a newline is better reported as a newline than as "not a host name").
    _check_text(cls, title, values, attr_pos, pos)
    for key, message in params.text_rules():
        raise SourceError(attr_pos.get(key, pos), f"{type_name}:{title}: {message}")
    return params


def _check_text(
    cls: type[Params],
    title: str,
    values: dict[str, Any],
    attr_pos: dict[str, SourcePos],
    pos: SourcePos,
) -> None:
    """No NUL byte anywhere, and one line of text where a line-based file needs one."""
    if checks.all_clean(cls.multiline, cls.multiline_title, title, values):
        return  # nearly always: one scan of every string, no per-value work
    type_name = cls.type_name
    problem = checks.text_problem(title, multiline=cls.multiline_title)
    if problem:
        raise SourceError(pos, f"the title of a {type_name} {problem}")
    for key, value in values.items():
        problem = checks.value_problem(key in cls.multiline, value)
        if problem:
            raise SourceError(attr_pos.get(key, pos), f"{type_name} attribute '{key}' {problem}")


def _normal_path(type_name: str, key: str, value: Any, where: SourcePos) -> Any:
    """A path attribute in its normal form (a value that is not a string as it is)."""
    if isinstance(value, str):
        try:
            return checks.normal_path(value)
        except checks.PathError as exc:
            raise SourceError(where, f"{type_name} attribute '{key}': {exc}") from None
    return value
