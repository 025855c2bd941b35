"""The sandbox's fast paths (attribute reads on mappings and scalars, the call hook) decide
exactly what Jinja2's own ImmutableSandboxedEnvironment decides, and the budget counts
nested renders as one."""

from __future__ import annotations

from typing import Any

import jinja2
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from gitpuppet.compile import limits
from gitpuppet.compile.limits import RenderLimit
from gitpuppet.compile.loader import PosDict, parse_yaml
from gitpuppet.compile.sandbox import LimitedSandbox


class _WithDict(dict):  # type: ignore[type-arg]
    """A mapping whose instances carry attributes of their own (no fast path)."""


class _WithGetattr(dict):  # type: ignore[type-arg]
    __slots__ = ()

    def __getattr__(self, name: str) -> str:
        return f"attr {name}"


def _objects() -> list[Any]:
    loaded = parse_yaml("a: 1\nitems: 2\nlines: 3\n", "data/x.yaml")
    assert isinstance(loaded, PosDict)
    with_dict = _WithDict(a=1)
    with_dict.extra = "own"  # type: ignore[attr-defined]
    return [
        {"a": 1, "items": 2, "keys": 3, "__class__": 4, "_x": 5},
        loaded,
        with_dict,
        _WithGetattr(a=1),
        "text",
        7,
        2.5,
        True,
        [1, 2],
        ("t",),
        {1, 2},
        None,
    ]


NAMES = [
    "a",
    "items",
    "keys",
    "get",
    "lines",
    "pos",
    "file",
    "missing",
    "extra",
    "__class__",
    "_x",
    "__init__",
    "upper",
    "endswith",
    "real",
    "append",
    "pop",
    "mro",
]  # fmt: skip  (str.format is wrapped on purpose: test_sandbox.py covers it)


def _outcome(env: jinja2.Environment, obj: Any, name: str) -> tuple[str, Any]:
    """What reading obj.name gives: a value (bound methods by their name), or how it fails."""
    value = env.getattr(obj, name)
    if isinstance(value, jinja2.Undefined):
        try:
            str(value)
        except Exception as exc:  # noqa: BLE001 - the kind of failure is the outcome
            return "undefined", type(exc).__name__
        return "undefined", None
    if callable(value):
        return "callable", getattr(value, "__name__", type(value).__name__)
    return "value", value


@pytest.mark.parametrize("index", range(len(_objects())))
def test_getattr_decides_as_jinjas_sandbox(index: int) -> None:
    ours = LimitedSandbox(undefined=jinja2.StrictUndefined)
    theirs = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    obj = _objects()[index]
    for name in NAMES:
        assert _outcome(ours, obj, name) == _outcome(theirs, obj, name), (obj, name)
        value = getattr(obj, name, None)
        assert ours.is_safe_attribute(obj, name, value) == theirs.is_safe_attribute(
            obj, name, value
        ), (obj, name)


def test_mapping_fast_path_still_refuses_internals_and_mutation() -> None:
    env = LimitedSandbox(undefined=jinja2.StrictUndefined)
    render = env.from_string
    assert render("{{ d.a }} {{ d['a'] }}").render(d={"a": 1}) == "1 1"
    with pytest.raises(jinja2.exceptions.SecurityError):
        render("{{ d.__class__ }}").render(d={"a": 1})
    with pytest.raises(jinja2.exceptions.SecurityError):
        render("{{ d.update({'b': 2}) }}").render(d={"a": 1})
    with pytest.raises(jinja2.UndefinedError):
        render("{{ d.nothere }}").render(d={"a": 1})


def test_call_hook_still_counts_steps_and_checks_str_methods(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = LimitedSandbox(undefined=jinja2.StrictUndefined)
    with pytest.raises(RenderLimit):
        env.from_string("{{ 'x'.ljust(10**9) }}").render()
    monkeypatch.setattr(limits, "MAX_STEPS", 50)

    def f() -> int:
        return 1

    template = env.from_string("{% for i in range(30) %}{{ f() }}{% endfor %}")
    with pytest.raises(RenderLimit, match="loop iterations and calls"), env.render_budget():
        template.render(f=f)


def test_budget_is_shared_by_nested_renders_and_reset_by_the_next() -> None:
    env = LimitedSandbox()
    budget = env.render_budget()
    with budget:
        budget.steps = 5
        with env.render_budget():
            assert budget.steps == 5  # a nested render shares the counters
        assert budget.depth == 1
    assert budget.depth == 0
    with env.render_budget():
        assert budget.steps == 0  # the next top-level render starts from zero
