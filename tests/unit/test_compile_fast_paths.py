"""The compiler's shortcuts give what the long way gives: a bare-name expression is a scope
lookup, YAML strings come straight from their nodes, cyclic GC pauses only during a compile."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from gitpuppet.compile import DirTree, compile_catalog
from gitpuppet.compile.loader import parse_yaml
from gitpuppet.compile.template import Templates
from gitpuppet.errors import GitpuppetError, SourceError, SourcePos

POS = SourcePos("classes/a.yaml", 3)

SCOPE: dict[str, Any] = {
    "facts": {"os": {"family": "Debian"}},
    "node": {"name": "n1", "vars": {}},
    "lookup": lambda key, default=None: default,
    "x": 1,
    "items": [1, 2],
    "mapping": {"a": 1},
    "if": 3,  # a keyword-looking name
    "result": 9,  # the name the single-expression form assigns to
    "self": "not the template reference",
    "loop": "outer",
    "nothing": None,
    "missing_value": jinja2.StrictUndefined(name="zz"),
}

EXPRESSIONS = [
    "{{ x }}",
    "{{x}}",
    "{{\n  items\n}}",
    "{{ mapping }}",
    "{{ if }}",
    "{{ result }}",
    "{{ self }}",
    "{{ loop }}",
    "{{ nothing }}",
    "{{ missing_value }}",
    "{{ undefined_name }}",
    "{{ range }}",
    "{{ true }}",
    "{{ none }}",
    "{{ None }}",
    "{{ caller }}",
    "{{ kwargs }}",
    "{{ x|nosuchfilter }}",
    "{{ x + }}",
    "{{ facts.os.family }}",
    "{{ facts.os.nope }}",
    "{{ x }}{{ x }}",
    "{{ x }} ",
    "{{ 'a' ~ x }}",
    "{% if x %}yes{% endif %}",
]


def _reference(env: jinja2.Environment, text: str, scope: dict[str, Any]) -> Any:
    """What Jinja itself gives, through its public entry points only."""
    full = {**env.globals, **scope}
    stripped = text.strip()
    single = (
        text.startswith("{{")
        and text.endswith("}}")
        and "{{" not in text[2:-2]
        and "}}" not in text[2:-2]
    )
    if not single:
        return env.from_string(text).render(full)
    template = env.from_string("{% set result = " + stripped[2:-2] + " %}")
    module = template.make_module(full)
    result = vars(module)["result"]
    if isinstance(result, jinja2.Undefined):
        str(result)
    return result


@pytest.mark.parametrize("text", EXPRESSIONS)
@pytest.mark.parametrize("with_globals", [True, False])
def test_render_string_matches_plain_jinja(text: str, with_globals: bool, tmp_path: Path) -> None:
    templates = Templates(DirTree(tmp_path))
    # The compiler's scopes carry Jinja's globals; other callers' do not.
    scope = {**templates.env.globals, **SCOPE} if with_globals else dict(SCOPE)
    try:
        expected: Any = ("value", _reference(templates.env, text, SCOPE))
    except Exception as exc:  # noqa: BLE001 - any Jinja error: ours must fail too
        expected = ("error", type(exc).__name__)
    for _ in range(2):  # first render compiles, the second uses the cache
        try:
            got: Any = ("value", templates.render_string(text, scope, POS))
        except SourceError as exc:
            assert exc.pos == POS
            got = ("error", expected[1] if expected[0] == "error" else str(exc))
        if callable(expected[1]):
            assert got[0] == "value" and got[1] is expected[1]
        elif isinstance(expected[1], jinja2.runtime.TemplateReference):  # `self`: one per render
            assert got[0] == "value" and type(got[1]) is type(expected[1])
        else:
            assert got == expected


def test_bare_name_keeps_the_object(tmp_path: Path) -> None:
    templates = Templates(DirTree(tmp_path))
    items = [1, 2]
    assert templates.render_string("{{ items }}", {"items": items}, POS) is items


def test_undefined_bare_name_is_named(tmp_path: Path) -> None:
    templates = Templates(DirTree(tmp_path))
    with pytest.raises(SourceError) as info:
        templates.render_string("{{ workers }}", {"worker": 1}, POS)
    assert str(info.value) == (
        "classes/a.yaml:3: undefined name 'workers' in template (did you mean 'worker'?)"
    )


YAML_DOCUMENTS = [
    "a: 1\nb: yes\nc: ~\nd: 1.5\ne: '2'\nf: \"x\"\n",
    "base: &b {x: 1, y: [a, b]}\nother:\n  <<: *b\n  z: 3\n",
    "s: &s hello\nt: *s\nlist: [*s, *s]\n",
    "2: int key\nnull: null key\n'2': str key\n",
    "nested:\n  - {a: [1, {b: c}]}\n  - - x\n    - y\n",
    '{"json": {"files": {"d0/f0.conf": "app.conf.j2"}, "n": [1, 2]}}\n',
    "= : value key\n",
]


@pytest.mark.parametrize("text", YAML_DOCUMENTS)
def test_yaml_values_match_pyyaml(text: str) -> None:
    assert parse_yaml(text, "data/common.yaml") == yaml.load(text, Loader=yaml.CSafeLoader)


def test_yaml_lines_are_kept() -> None:
    data = parse_yaml("a: 1\nb:\n  - x\n  - y\nc: {d: e}\n", "data/common.yaml")
    assert data.lines == {"a": 1, "b": 2, "c": 5}
    assert data["b"].lines == [3, 4]
    assert str(data["c"].pos("d")) == "data/common.yaml:5"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\nb: 2\na: 3\n", "data/x.yaml:3: duplicate key 'a' (first at line 1)"),
        ("? [a, b]\n: 1\n", "data/x.yaml:1: a mapping key must be a plain value"),
    ],
)
def test_yaml_key_errors(text: str, message: str) -> None:
    with pytest.raises(SourceError) as info:
        parse_yaml(text, "data/x.yaml")
    assert str(info.value).startswith(message)


def _repo(tmp_path: Path, resources: str) -> DirTree:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "nodes.yaml").write_text("test.example.com: {classes: [a]}\n")
    (tmp_path / "classes").mkdir()
    (tmp_path / "classes" / "a.yaml").write_text(resources)
    return DirTree(tmp_path)


@pytest.mark.parametrize("broken", [False, True])
def test_gc_state_is_restored(tmp_path: Path, broken: bool) -> None:
    content = "'{{ nope }}'" if broken else "x"
    tree = _repo(tmp_path, f"resources:\n  - file: /a\n    content: {content}\n")
    assert gc.isenabled()
    if broken:
        with pytest.raises(GitpuppetError):
            compile_catalog(tree, "test.example.com", {})
    else:
        compile_catalog(tree, "test.example.com", {})
    assert gc.isenabled()
    gc.disable()
    try:
        compile_catalog(_repo(tmp_path / "other", "resources: []\n"), "test.example.com", {})
        assert not gc.isenabled()  # a caller's choice is left alone
    finally:
        gc.enable()


def test_define_entry_checked_at_its_first_use(tmp_path: Path) -> None:
    tree = _repo(tmp_path, "resources:\n  - d: '{{ item }}'\n    for_each: [one, two]\n")
    (tmp_path / "defines").mkdir()
    (tmp_path / "defines" / "d.yaml").write_text(
        "resources:\n  - file: '/srv/{{ title }}'\n    contnet: x\n"
    )
    with pytest.raises(SourceError) as info:
        compile_catalog(tree, "test.example.com", {})
    assert str(info.value) == (
        "defines/d.yaml:3: unknown attribute 'contnet' for file (did you mean 'content'?)"
    )


def test_define_uses_share_nothing_mutable(tmp_path: Path) -> None:
    tree = _repo(tmp_path, "resources:\n  - d: '{{ item }}'\n    for_each: [one, two]\n")
    (tmp_path / "defines").mkdir()
    (tmp_path / "defines" / "d.yaml").write_text(
        "resources:\n  - file: '/srv/{{ title }}'\n    content: x\n    mode: '0600'\n"
    )
    cat = compile_catalog(tree, "test.example.com", {})
    one, two = cat.resources
    assert one.attr_pos == two.attr_pos and one.attr_pos is not two.attr_pos
    assert str(one.attr_pos["mode"]) == "defines/d.yaml:4"
    assert one.tags == two.tags == {"file", "a", "d"}


class _CountingTree(DirTree):
    """A directory repo that counts how often each file is read."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads: dict[str, int] = {}

    def read_bytes(self, path: str) -> bytes:
        self.reads[path] = self.reads.get(path, 0) + 1
        return super().read_bytes(path)


def _three_nodes(tmp_path: Path) -> _CountingTree:
    (tmp_path / "nodes.yaml").write_text(
        "".join(f"n{i}.example.com: {{classes: [a]}}\n" for i in range(3))
    )
    (tmp_path / "classes").mkdir()
    (tmp_path / "classes" / "a.yaml").write_text(
        "params: {port: ~}\nresources:\n  - file: /srv/a\n    content: '{{ port }}'\n"
    )
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "common.yaml").write_text("a: {port: 80, prot: 1}\n")
    return _CountingTree(tmp_path)


def test_validate_parses_each_file_once_for_all_nodes(tmp_path: Path) -> None:
    from gitpuppet.compile.validate import validate_tree

    tree = _three_nodes(tmp_path)
    result = validate_tree(tree, lambda name: {"fqdn": name})
    assert result.ok and sorted(result.nodes) == [f"n{i}.example.com" for i in range(3)]
    assert any("has no parameter 'prot'" in w for w in result.warnings)  # the data check ran
    assert tree.reads["data/common.yaml"] == 1
    assert tree.reads["classes/a.yaml"] == 1


def test_node_data_check_reads_what_the_compile_parsed(tmp_path: Path) -> None:
    from gitpuppet.cli.node import data_warnings
    from gitpuppet.compile import compile_node

    tree = _three_nodes(tmp_path)
    facts = {"fqdn": "n0.example.com"}
    compiled = compile_node(tree, "n0.example.com", facts)
    warnings = data_warnings(tree, compiled, facts)
    assert [w for w in warnings if "has no parameter 'prot'" in w]
    assert tree.reads["data/common.yaml"] == 1
