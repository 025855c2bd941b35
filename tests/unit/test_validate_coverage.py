"""validate compiles every declaration (SPEC §4, issue 9 items 1 and 2): repos in, errors and
warnings out. Each case is a control repo that the old validate passed with `OK`."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from gitpuppet.compile import DirTree
from gitpuppet.compile.validate import Validation, validate_tree

pytestmark = pytest.mark.unit

FACTS = {"os": {"family": "Debian", "name": "Debian"}, "processors": {"count": 2}}

GOOD_CLASS = "resources:\n  - file: /etc/motd\n    content: hi\n"
# Line 3 has an undefined name, line 4 an unknown type: both must be reported.
TWO_TYPOS = (
    "resources:\n"
    "  - file: /etc/a\n"
    "    content: '{{ nope }}'\n"
    "  - fiel: /etc/b\n"
    "  - file: /etc/c\n"
    "    content: x\n"
    "    require: file:/etc/a\n"
)


def repo(root: Path, files: dict[str, str]) -> DirTree:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return DirTree(root)


def facts_for(name: str) -> dict[str, Any]:
    return {**FACTS, "fqdn": name, "hostname": name.split(".")[0]}


def check(tmp_path: Path, files: dict[str, str], **kw: Any) -> Validation:
    return validate_tree(repo(tmp_path, files), facts_for, **kw)


def text(result: Validation) -> str:
    return "\n".join(result.errors + result.warnings)


# (id, files, strict, errors expected (substrings), warnings expected)
CASES: list[tuple[str, dict[str, str], bool, list[str], list[str]]] = [
    (
        "typo under a regex with examples",
        {
            "nodes.yaml": "'/^web\\d+$/': {classes: [web], examples: [web1]}\n",
            "classes/web.yaml": TWO_TYPOS,
        },
        False,
        [
            "node web1: classes/web.yaml:3: undefined name 'nope'",
            "node web1: classes/web.yaml:4: unknown resource type or define 'fiel'",
        ],
        [],
    ),
    (
        "typo under default with examples",
        {
            "nodes.yaml": "default: {classes: [web], examples: [anything.example.com]}\n",
            "classes/web.yaml": TWO_TYPOS,
        },
        False,
        ["node anything.example.com: classes/web.yaml:4: unknown resource type"],
        [],
    ),
    (
        "a glob nothing compiles is a warning",
        {"nodes.yaml": "'db*': {classes: [web]}\n", "classes/web.yaml": GOOD_CLASS},
        False,
        [],
        ["nodes.yaml:1: glob 'db*': nothing compiled this declaration"],
    ),
    (
        "a glob nothing compiles is an error under strict",
        {"nodes.yaml": "'db*': {classes: [web]}\n", "classes/web.yaml": GOOD_CLASS},
        True,
        ["nodes.yaml:1: glob 'db*': nothing compiled this declaration"],
        [],
    ),
    (
        "an example its own declaration does not match",
        {
            "nodes.yaml": "'/^web/': {classes: [web], examples: [db1]}\ndefault: {classes: []}\n",
            "classes/web.yaml": GOOD_CLASS,
        },
        False,
        ["nodes.yaml:1: example 'db1' of regex '/^web/' at nodes.yaml:1 is matched by default"],
        [],
    ),
    (
        "an example an earlier pattern takes",
        {
            "nodes.yaml": "'web*': {classes: []}\n'/^web1/': {classes: [], examples: [web1]}\n",
        },
        False,
        ["example 'web1' of regex '/^web1/' at nodes.yaml:2 is matched by glob 'web*'"],
        [],
    ),
    (
        "one typo in a shared class is one line naming its nodes",
        {
            "nodes.yaml": "a: {classes: [web]}\nb: {classes: [web]}\nc: {classes: [web]}\n"
            "d: {classes: [web]}\n",
            "classes/web.yaml": "resources:\n  - fiel: /etc/b\n",
        },
        False,
        ["nodes a, b, c and 1 more: classes/web.yaml:2: unknown resource type"],
        [],
    ),
    (
        "a hierarchy level with a typo is a warning",
        {
            "gitpuppet.yaml": "hierarchy: ['roles/{{ node.vars.rolee }}.yaml', common.yaml]\n",
            "nodes.yaml": "a: {classes: [], vars: {role: web}}\n",
        },
        False,
        [],
        [
            "node a: gitpuppet.yaml:1: hierarchy level 'roles/{{ node.vars.rolee }}.yaml' "
            "cannot render: 'dict object' has no attribute 'rolee' (did you mean 'role'?)"
        ],
    ),
    (
        "a hierarchy level with a typo is an error under strict",
        {
            "gitpuppet.yaml": "hierarchy:\n  - common.yaml\n  - 'os/{{ facts.oss.family }}.yaml'\n",
            "nodes.yaml": "a: {classes: []}\n",
        },
        True,
        ["gitpuppet.yaml:3: hierarchy level 'os/{{ facts.oss.family }}.yaml' cannot render"],
        [],
    ),
    (
        "a data key for a parameter the class lacks",
        {
            "nodes.yaml": "a: {classes: [web]}\n",
            "classes/web.yaml": "params: {workers: 2}\n" + GOOD_CLASS,
            "data/common.yaml": "answer: 1\nweb.worker: 4\nweb.workers: 3\n",
        },
        True,
        [
            "data/common.yaml:2: data key 'web.worker': class 'web' has no parameter 'worker' "
            "(did you mean 'workers'?)"
        ],
        [],
    ),
    (
        "the nested form of a data key",
        {
            "nodes.yaml": "a: {classes: [web.vhost]}\n",
            "classes/web/vhost.yaml": "params: {port: 80}\n",
            "data/common.yaml": "web:\n  vhost:\n    port: 8080\n    prot: 1\n",
        },
        False,
        [],
        ["data/common.yaml:4: data key 'web.vhost.prot': class 'web.vhost' has no parameter"],
    ),
    (
        "keys under a class name that no parameter could be named are data (paths, say)",
        {
            "nodes.yaml": "a: {classes: [web.vhost]}\n",
            "classes/web/vhost.yaml": "params: {port: 80}\n",
            "data/common.yaml": "web:\n  vhost:\n    /etc/a.conf: 1\n    sites/b.conf: 2\n",
        },
        True,
        [],
        [],
    ),
]


@pytest.mark.parametrize(
    "files,strict,errors,warnings", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_validate_cases(
    tmp_path: Path, files: dict[str, str], strict: bool, errors: list[str], warnings: list[str]
) -> None:
    result = check(tmp_path, files, strict=strict)
    for piece in errors:
        assert any(piece in e for e in result.errors), (piece, result.errors)
    for piece in warnings:
        assert any(piece in w for w in result.warnings), (piece, result.warnings)
    assert result.ok == (not errors), text(result)


def test_typo_in_a_regex_declaration_passed_before(tmp_path: Path) -> None:
    """The issue's report: a typo'd class under a regex passed with OK; now it is compiled."""
    files = {
        "nodes.yaml": "'/^web\\d+$/': {classes: [web], examples: [web1]}\n",
        "classes/web.yaml": "resources:\n  - fiel: /etc/b\n",
    }
    result = check(tmp_path, files)
    assert not result.ok
    assert result.declarations[0].compiled[0].node == "web1"
    assert result.declarations[0].compiled[0].via == "example"
    assert result.declarations[0].compiled[0].resources is None


def test_edge_to_a_failed_entry_is_not_a_second_error(tmp_path: Path) -> None:
    files = {"nodes.yaml": "a: {classes: [web]}\n", "classes/web.yaml": TWO_TYPOS}
    result = check(tmp_path, files)
    assert len(result.errors) == 2, result.errors  # not "require: file:/etc/a is not declared"
    assert not any("is not declared" in e for e in result.errors)


def test_edge_errors_are_all_reported(tmp_path: Path) -> None:
    files = {
        "nodes.yaml": "a: {classes: [web]}\n",
        "classes/web.yaml": "resources:\n  - file: /etc/a\n    content: x\n"
        "    require: file:/etc/nope\n    notify: service:nope\n",
    }
    result = check(tmp_path, files)
    assert [e.split(": ", 2)[1] for e in result.errors] == [
        "classes/web.yaml:4",
        "classes/web.yaml:5",
    ]


def test_examples_on_an_exact_name_are_an_error(tmp_path: Path) -> None:
    result = check(tmp_path, {"nodes.yaml": "a: {classes: [], examples: [b]}\n"})
    assert result.errors == [
        "nodes.yaml:1: node 'a' is an exact name: examples are for patterns and default "
        "(remove examples: validate compiles an exact name as it is)"
    ]


def test_examples_must_be_names(tmp_path: Path) -> None:
    result = check(tmp_path, {"nodes.yaml": "default:\n  classes: []\n  examples: [{a: 1}]\n"})
    assert result.errors == [
        "nodes.yaml:3: examples of node 'default' must be node names (strings)"
    ]


def test_an_example_is_compiled_only_when_nothing_else_reached_it(tmp_path: Path) -> None:
    files = {
        "nodes.yaml": "'web*': {classes: [], examples: [web9]}\n",
    }
    result = validate_tree(repo(tmp_path, files), facts_for, facts_dir_names=["web1"])
    assert list(result.nodes) == ["web1"]
    assert result.declarations[0].compiled[0].via == "facts-dir"


def test_only_nodes_gives_no_coverage_warning(tmp_path: Path) -> None:
    files = {"nodes.yaml": "a: {classes: []}\n'b*': {classes: []}\n"}
    result = check(tmp_path, files, only_nodes=["a"], strict=True)
    assert result.ok and not result.warnings, text(result)
