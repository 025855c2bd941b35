"""Typed parameters (issue 9 item 3): the typed-form rule, type names, and that a refused value
is never printed (a parameter may hold a secret)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitpuppet.compile import DirTree, compile_catalog
from gitpuppet.compile.params import ParamType, inferred_type, is_typed_form, parse_type
from gitpuppet.errors import SourceError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "typed"),
    [
        ({"type": "list", "default": []}, True),
        ({"type": "str"}, True),  # alone, but a type name
        ({"type": "web"}, False),  # alone and no type name: a genuine map default
        ({"type": "lst", "default": []}, True),  # typed form with a typo: an error, not a map
        ({"type": "str", "default": "x", "doc": "d"}, True),
        ({"type": "str", "port": 80}, False),  # another key: a map default
        ({"default": 1}, False),  # no type key
        ({}, False),
        ("list", False),
        (["type"], False),
    ],
)
def test_typed_form_rule(raw: Any, typed: bool) -> None:
    assert is_typed_form(raw) is typed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("str", ParamType("str")),
        ("any", ParamType("any")),
        ("int?", ParamType("int", True)),
        ("optional[map]", ParamType("map", True)),
        ("optional[ list ]", ParamType("list", True)),
        ("String", None),
        ("optional[float]", None),
        ("?", None),
        (3, None),
    ],
)
def test_parse_type(text: Any, expected: ParamType | None) -> None:
    assert parse_type(text) == expected


@pytest.mark.parametrize(
    ("default", "name"),
    [
        (True, "bool"),
        (0, "int"),
        ("x", "str"),
        ("{{ x }}", "any"),
        ([], "list"),
        ({}, "map"),
        (1.5, "any"),
    ],
)
def test_inferred_type(default: Any, name: str) -> None:
    assert inferred_type(default).name == name


def test_a_refused_value_is_never_printed(tmp_path: Path) -> None:
    files = {
        "nodes.yaml": "n.example.com: {classes: [db]}\n",
        "classes/db.yaml": "params:\n  password: {type: list}\nresources: []\n",
        "data/common.yaml": "db.password: HUNTER2SECRETVALUE\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    with pytest.raises(SourceError) as info:
        compile_catalog(DirTree(tmp_path), "n.example.com", {})
    text = str(info.value)
    assert text.startswith("data/common.yaml:1: class 'db' parameter 'password' must be a list")
    assert "classes/db.yaml:2" in text and "HUNTER2SECRETVALUE" not in text
