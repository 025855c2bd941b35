"""Simple template strings are evaluated from their syntax tree (compile/quick.py), with no
Python compiled for them: the value, the error and every sandbox limit are the ones Jinja's
generated code gives for the same string (the same scope rendered with the plans turned off)."""

from __future__ import annotations

from typing import Any

import jinja2
import pytest

from gitpuppet.compile import limits
from gitpuppet.compile import template as template_module
from gitpuppet.compile.source import DirTree
from gitpuppet.compile.template import Templates
from gitpuppet.errors import SourceError, SourcePos

POS = SourcePos("classes/a.yaml", 3)


def lookup(key: str, default: Any = None, merge: str | None = None) -> Any:
    if key == "missing":
        raise KeyError(key)
    return {"root": "/srv", "list": [1, 2], "merge": merge}.get(key, default)


def scope_of(templates: Templates) -> dict[str, Any]:
    return {
        **templates.env.globals,
        "facts": {"os": {"family": "Debian", "release": {"major": "12"}}, "n": 2},
        "node": {"name": "n1", "vars": {"role": "web"}, "match": ["n1", "1"]},
        "lookup": lookup,
        "title": "f00.conf",
        "items": [1, "two", 3.5, True, None],
        "mapping": {"a": 1, "keys": "k", "items": "i"},
        "big": 12345678901234567890,
        "ratio": 0.5,
        "text": "é\nx",
        "none": None,
    }


SIMPLE = [
    "{{ title }}",
    "/etc/{{ title }}",
    "{{ node.name }}/{{ node.vars.role }}.conf",
    "{{ facts['os']['release'].major }}",
    "{{ facts.os.release['major'] }}!",
    "{{ items[0] }} {{ items[1] }} {{ items[2] }} {{ items[3] }} {{ items[4] }}",
    "{{ items.1 }}",
    "{{ node.match[1] }}",
    "{{ mapping['keys'] }} {{ mapping.a }} {{ mapping['items'] }}",
    "a {# a comment #} {{ title }}",
    "{{ big }} {{ ratio }} {{ none }} {{ items }} {{ mapping }}",
    "{{ lookup('root') }}/{{ title }}",
    "{{ lookup('list') }}",
    "{{ lookup('merge', merge='hash') }}",
    "{{ lookup('nothing', default='d') }}",
    "{{ title.upper() }} {{ title.endswith('.conf') }}",
    "{{ range(3) }}",
    "{{ 5 }}",
    "{{ '0640' }}",
    "{{ true }}",
    "a\r\nb {{ title }}\rc",
    "{{ text }}\n\n",
    "x {{- title -}} y",
    "{{ items }}",
    "{{ facts }}",
]
NOT_SIMPLE = [
    "{{ title | upper }}",
    "{{ items[1:] }}",
    "{{ items[facts.n] }}",
    "{{ ratio * 2 }}",
    "{{ title ~ '!' }}",
    "{% if title %}y{% endif %}",
    "{{ lookup(title) }}",
    "{{ lookup(*items) }}",
    "{{ [title] }}",
    "x{{ self }}",
]
FAILING = [
    "{{ nosuch }}",
    "x {{ nosuch }} y",
    "{{ node.nosuch }}",
    "{{ node.vars.nosuch.deeper }}",
    "{{ items[9] }}",
    "{{ mapping['nosuch'] }} x",
    "{{ nosuch() }}",
    "{{ lookup('missing') }}",
    "{{ title.__class__ }}",
    "x {{ title.__class__.__mro__ }}",
    "{{ mapping.update() }}",
    "{{ items.append(1) }}",
    "{{ lookup.__globals__ }}",
]


def _both(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, text: str) -> tuple[Any, Any, Templates]:
    """(result with plans, result with Jinja's generated code, the Templates with plans);
    a result is the value or the (type, message) of the error."""
    quick = Templates(DirTree(tmp_path))
    fast = _outcome(quick, text)
    with monkeypatch.context() as m:
        m.setattr(template_module, "plan_output", lambda tree: None)
        m.setattr(template_module, "plan_single", lambda tree: None)
        slow = Templates(DirTree(tmp_path))
        slow_result = _outcome(slow, text)
        assert slow._compiled[text][0] is not None  # the long way, truly
    return fast, slow_result, quick


def _outcome(templates: Templates, text: str) -> Any:
    try:
        return templates.render_string(text, scope_of(templates), POS)
    except SourceError as exc:
        return (type(exc).__name__, str(exc))


@pytest.mark.parametrize("text", SIMPLE)
def test_a_simple_string_renders_as_jinja_does_without_compiling(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    fast, slow, quick = _both(tmp_path, monkeypatch, text)
    assert fast == slow
    assert type(fast) is type(slow)
    assert quick._compiled[text][0] is None  # no template compiled for it


@pytest.mark.parametrize("text", NOT_SIMPLE)
def test_other_strings_go_to_jinja(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    fast, slow, quick = _both(tmp_path, monkeypatch, text)
    assert fast == slow
    compiled = quick._compiled[text]
    assert compiled[0] is not None or compiled[2] is not None  # a template, or a bare name


@pytest.mark.parametrize("text", FAILING)
def test_a_failing_simple_string_fails_as_jinja_does(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    fast, slow, _ = _both(tmp_path, monkeypatch, text)
    assert isinstance(fast, tuple) and fast[0] == "SourceError", fast
    assert fast == slow
    assert str(POS) in fast[1]


def test_printed_values_count_against_the_emit_limit(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_EMIT", 100)
    templates = Templates(DirTree(tmp_path))
    scope = {**scope_of(templates), "chunk": "x" * 60}
    assert templates.render_string("{{ chunk }}", scope, POS) == "x" * 60  # a value, not output
    assert len(templates.render_string("a{{ chunk }}", scope, POS)) == 61
    with pytest.raises(SourceError, match="template refused: the render wrote over 100"):
        templates.render_string("{{ chunk }} {{ chunk }}", scope, POS)
    assert templates._compiled["{{ chunk }} {{ chunk }}"][0] is None


def test_calls_count_as_steps(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_STEPS", 3)
    templates = Templates(DirTree(tmp_path))
    scope = scope_of(templates)
    assert templates.render_string("{{ title.upper() }}" * 3, scope, POS) == "F00.CONF" * 3
    with pytest.raises(SourceError, match="over 3 loop iterations and calls"):
        templates.render_string("{{ title.upper() }}" * 4, scope, POS)


def test_a_call_result_is_held_to_the_size_limit(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_SIZE", 10)
    templates = Templates(DirTree(tmp_path))
    scope = {**scope_of(templates), "make": lambda: list(range(50))}
    with pytest.raises(SourceError, match="a call's result would be 50 long"):
        templates.render_string("x{{ make() }}", scope, POS)
    with pytest.raises(SourceError, match="a call's result would be 50 long"):
        templates.render_string("{{ make() }}", scope, POS)


def test_a_str_method_call_is_checked_before_it_runs(tmp_path: Any) -> None:
    templates = Templates(DirTree(tmp_path))
    with pytest.raises(SourceError, match="template refused"):
        templates.render_string("{{ title.ljust(100000000000) }}", scope_of(templates), POS)


def test_an_undefined_value_stays_strict(tmp_path: Any) -> None:
    templates = Templates(DirTree(tmp_path))
    scope = {**scope_of(templates), "u": jinja2.StrictUndefined(name="u")}
    with pytest.raises(SourceError, match="undefined name 'u'"):
        templates.render_string("{{ u.x }}", scope, POS)
