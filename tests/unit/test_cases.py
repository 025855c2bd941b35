"""Table-driven compiler cases: every tests/cases/*.yaml is a list of cases, one test each.

A case: `name`; `files` (repo-relative path -> text, written into a temporary control repo);
optional `node` (default test.example.com), `facts` (merged over FACTS below), `environment`;
then either `error` (substrings that must all appear in the GitpuppetError raised; the first is
usually the exact `file:line:`) or `expect`, whose keys are all optional:
`resources` (exact refs in apply order), `contains`, `absent`, `attrs` (ref -> params subset;
`data` compared as text, `tree` as its sorted paths), `meta` (ref -> Resource fields; `tags` is a
subset check), `edges` / `no_edges` ([first, then] pairs), `before` (apply-order pairs),
`classes`, `match` ({kind, key}), `pos` (ref -> "file:line")."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitpuppet.compile import DirTree, compile_catalog
from gitpuppet.errors import GitpuppetError

CASES_DIR = Path(__file__).resolve().parents[1] / "cases"
FACTS: dict[str, Any] = {
    "fqdn": "test.example.com",
    "hostname": "test",
    "os": {"name": "Debian", "family": "Debian", "release": {"full": "12.5", "major": "12"}},
    "processors": {"count": 2},
}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _load() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text()):
            params.append(pytest.param(case, id=f"{path.stem}: {case['name']}"))
    return params


def _attr(res: Any, name: str) -> Any:
    value = getattr(res.params, name)
    if name == "data" and isinstance(value, bytes):
        return value.decode()
    if name == "tree" and isinstance(value, dict):
        return sorted(value)
    return value


@pytest.mark.parametrize("case", _load())
def test_case(case: dict[str, Any], tmp_path: Path) -> None:
    for rel, text in case["files"].items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    facts = _merge(FACTS, case.get("facts") or {})
    node = case.get("node", "test.example.com")
    environment = case.get("environment")
    if "error" in case:
        with pytest.raises(GitpuppetError) as info:
            compile_catalog(DirTree(tmp_path), node, facts, environment)
        message = str(info.value)
        expected = case["error"] if isinstance(case["error"], list) else [case["error"]]
        for piece in expected:
            assert piece in message, f"{piece!r} not in {message!r}"
        assert "Traceback" not in message
        return
    cat = compile_catalog(DirTree(tmp_path), node, facts, environment)
    expect = case.get("expect", {})
    refs = [str(r.ref) for r in cat.resources]
    by = {str(r.ref): r for r in cat.resources}
    if "resources" in expect:
        assert refs == expect["resources"]
    for ref in expect.get("contains", []):
        assert ref in refs, (ref, refs)
    for ref in expect.get("absent", []):
        assert ref not in refs, (ref, refs)
    for ref, attrs in expect.get("attrs", {}).items():
        for name, value in attrs.items():
            assert _attr(by[ref], name) == value, (ref, name)
    for ref, meta in expect.get("meta", {}).items():
        res = by[ref]
        for name, value in meta.items():
            if name == "tags":
                assert set(value) <= set(res.tags), (ref, res.tags)
            else:
                assert getattr(res, name) == value, (ref, name, getattr(res, name))
    edges = {(str(e.first), str(e.then)) for e in cat.edges}
    for first, then in expect.get("edges", []):
        assert (first, then) in edges, (first, then, sorted(edges))
    for first, then in expect.get("no_edges", []):
        assert (first, then) not in edges, (first, then)
    for first, then in expect.get("before", []):
        assert refs.index(first) < refs.index(then), (first, then, refs)
    if "classes" in expect:
        assert cat.classes == expect["classes"]
    if "match" in expect:
        assert {"kind": cat.match_kind, "key": cat.matched} == expect["match"]
    for ref, where in expect.get("pos", {}).items():
        assert str(by[ref].pos) == where
    assert dataclasses.is_dataclass(cat)
