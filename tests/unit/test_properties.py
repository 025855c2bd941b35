"""Properties of the compiler, through its public entry points on generated control repos:
the deep and unique merges (`lookup_value` over generated hierarchies), and the apply order
(`compile_catalog` over generated classes with require/before edges)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitpuppet.compile import DirTree, compile_catalog, lookup_value

NODE = "test.example.com"
FACTS: dict[str, Any] = {"fqdn": NODE, "hostname": "test", "os": {"family": "Debian"}}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A key's name fixes the type of its value at every level (mapping keys m*, list keys l*,
# scalar keys s*), so the expected merge is never a question of mixed types.
scalars = st.one_of(st.integers(-3, 3), st.sampled_from(["x", "y", "z"]))
lists = st.lists(scalars, max_size=4)


def _mapping(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy[Any]] = {
        "s1": scalars,
        "s2": scalars,
        "l1": lists,
        "l2": lists,
    }
    if depth > 0:
        fields["m1"] = st.deferred(lambda: _mapping(depth - 1))
        fields["m2"] = st.deferred(lambda: _mapping(depth - 1))
    return st.fixed_dictionaries({}, optional=fields)


# One level of the hierarchy: absent file, file without the key, or the key with a mapping.
levels = st.one_of(st.none(), st.just({}), _mapping(3).map(lambda m: {"key": m}))


def _write_repo(root: Path, files: dict[str, Any]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
        )


def _lookup(hierarchy: list[dict[str, Any] | None], merge: str) -> Any:
    files: dict[str, Any] = {
        "gitpuppet.yaml": {"hierarchy": [f"level{i}.yaml" for i in range(len(hierarchy))]},
        "nodes.yaml": {NODE: {"classes": []}},
    }
    for i, data in enumerate(hierarchy):
        if data is not None:
            files[f"data/level{i}.yaml"] = data
    with tempfile.TemporaryDirectory() as tmp:
        _write_repo(Path(tmp), files)
        return lookup_value(DirTree(Path(tmp)), NODE, FACTS, "key", merge=merge, default="<none>")


def _unique(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def _check_deep(result: Any, found: list[Any], path: str) -> None:
    """`found`: the values at `path`, highest level first."""
    first = found[0]
    if isinstance(first, dict):
        assert isinstance(result, dict), path
        assert set(result) == set().union(*found), path  # keys: the union of every level
        for k in result:
            _check_deep(result[k], [f[k] for f in found if k in f], f"{path}.{k}")
    elif isinstance(first, list) and len(found) == 1:
        assert result == first, path  # one level: nothing to merge, kept as written (as Hiera)
    elif isinstance(first, list):
        flat = [v for level in found for v in level]
        assert result == _unique(flat), path  # union, highest level's first, no duplicates
    else:
        assert result == first, path  # scalars: the highest level wins


@SETTINGS
@given(st.lists(levels, min_size=1, max_size=5))
def test_deep_merge_through_lookup(hierarchy: list[dict[str, Any] | None]) -> None:
    """merge=deep: keys are the union, higher levels win on scalars, arrays are unioned
    highest level first without duplicates."""
    found = [level["key"] for level in hierarchy if level and "key" in level]
    result = _lookup(hierarchy, "deep")
    if not found:
        assert result == "<none>"
        return
    _check_deep(result, found, "key")


@SETTINGS
@given(st.lists(st.one_of(st.none(), lists.map(lambda v: {"key": v})), min_size=1, max_size=5))
def test_unique_merge_through_lookup(hierarchy: list[dict[str, Any] | None]) -> None:
    """merge=unique: every level's array, highest level first, duplicates removed."""
    found = [level["key"] for level in hierarchy if level]
    result = _lookup(hierarchy, "unique")
    if not found:
        assert result == "<none>"
        return
    assert result == _unique([v for level in found for v in level])


@st.composite
def ordered_repos(draw: st.DrawFn) -> tuple[list[list[str]], list[tuple[str, str, str]]]:
    """Classes of exec resources, and (kind, a, b) edges that agree with a hidden rank of
    the resources, so the edges never form a cycle."""
    sizes = draw(st.lists(st.integers(0, 6), min_size=1, max_size=4))
    classes, n = [], 0
    for size in sizes:
        classes.append([f"r{n + i}" for i in range(size)])
        n += size
    if n < 2:
        return classes, []
    rank = draw(st.permutations(range(n)))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=30))
    edges = []
    for a, b in pairs:
        if a == b:
            continue
        first, then = (f"r{a}", f"r{b}") if rank[a] < rank[b] else (f"r{b}", f"r{a}")
        kind = draw(st.sampled_from(["require", "before"]))
        edges.append((kind, first, then))
    return classes, _unique(edges)


def _class_files(classes: list[list[str]], edges: list[tuple[str, str, str]]) -> dict[str, Any]:
    files: dict[str, Any] = {
        "nodes.yaml": {NODE: {"classes": [f"c{i}" for i in range(len(classes))]}}
    }
    for i, titles in enumerate(classes):
        resources = []
        for title in titles:
            entry: dict[str, Any] = {"exec": title, "command": "true"}
            # `then` requires `first`; or `first` is before `then`: the same edge either way.
            requires = [f"exec:{a}" for kind, a, b in edges if kind == "require" and b == title]
            befores = [f"exec:{b}" for kind, a, b in edges if kind == "before" and a == title]
            if requires:
                entry["require"] = requires
            if befores:
                entry["before"] = befores
            resources.append(entry)
        files[f"classes/c{i}.yaml"] = {"resources": resources}
    return files


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ordered_repos())
def test_apply_order_respects_edges_and_declaration_order(
    repo: tuple[list[list[str]], list[tuple[str, str, str]]],
) -> None:
    """Every require/before edge holds in the apply order; where no path of edges decides
    between two resources, a later-declared one goes first only because the earlier one was
    still waiting for a dependency."""
    classes, edges = repo
    with tempfile.TemporaryDirectory() as tmp:
        _write_repo(Path(tmp), _class_files(classes, edges))
        catalog = compile_catalog(DirTree(Path(tmp)), NODE, FACTS)
    declared = [t for titles in classes for t in titles]
    order = [r.title for r in catalog.resources]
    assert sorted(order) == sorted(declared)
    position = {t: i for i, t in enumerate(order)}
    catalog_edges = {(e.first.title, e.then.title) for e in catalog.edges}
    succ: dict[str, set[str]] = {t: set() for t in declared}
    for _, first, then in edges:
        assert (first, then) in catalog_edges
        assert position[first] < position[then], (first, then, order)
        succ[first].add(then)

    def reaches(a: str, b: str) -> bool:
        stack, seen = [a], set()
        while stack:
            node = stack.pop()
            if node == b:
                return True
            if node not in seen:
                seen.add(node)
                stack.extend(succ[node])
        return False

    for i, a in enumerate(declared):
        for b in declared[i + 1 :]:
            if position[b] < position[a] and not reaches(a, b) and not reaches(b, a):
                waiting = [p for p in declared if reaches(p, a) and position[p] > position[b]]
                assert waiting, (a, b, order)


def test_apply_order_without_edges_is_declaration_order() -> None:
    """Three classes, no edges: the apply order is the node's class order, then file order."""
    classes = [["r3", "r1"], ["r0"], ["r2", "r4"]]
    with tempfile.TemporaryDirectory() as tmp:
        _write_repo(Path(tmp), _class_files(classes, []))
        catalog = compile_catalog(DirTree(Path(tmp)), NODE, FACTS)
    assert [r.title for r in catalog.resources] == ["r3", "r1", "r0", "r2", "r4"]
