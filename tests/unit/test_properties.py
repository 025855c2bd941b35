"""Properties: the deep merge, and the apply order (every edge respected, declaration order
kept where no edge decides)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gitpuppet.compile.data import deep_merge, unique_merge
from gitpuppet.compile.graph import order
from gitpuppet.errors import SourcePos
from gitpuppet.model import Edge, EdgeKind, Ref, Resource

keys = st.sampled_from(list("abcdef"))
scalars = st.one_of(st.integers(-3, 3), st.sampled_from(["x", "y", "z"]))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(scalars, max_size=4), st.dictionaries(keys, inner, max_size=4)
    ),
    max_leaves=10,
)
mappings = st.dictionaries(keys, values, max_size=5)


@given(high=mappings, low=mappings)
def test_deep_merge_keys_and_precedence(high: dict[str, Any], low: dict[str, Any]) -> None:
    merged = deep_merge(high, low)
    assert set(merged) == set(high) | set(low)
    for key, value in merged.items():
        if key not in low:
            assert value == high[key]
        elif key not in high:
            assert value == low[key]
        elif isinstance(high[key], dict) and isinstance(low[key], dict):
            assert set(value) == set(high[key]) | set(low[key])
        elif isinstance(high[key], list) and isinstance(low[key], list):
            assert value == unique_merge([high[key], low[key]])
            assert value[: len(set(map(repr, high[key])))] == unique_merge(
                [high[key]]
            )  # highest first
        else:
            assert value == high[key]  # scalars: the higher level wins


@given(st.lists(st.lists(scalars, max_size=4), max_size=4))
def test_unique_merge_has_no_duplicates_and_keeps_first(levels: list[list[Any]]) -> None:
    merged = unique_merge(levels)
    assert len(merged) == len(set(merged))
    flat = [v for level in levels for v in level]
    assert merged == sorted(set(flat), key=flat.index)


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[Resource], list[Edge]]:
    n = draw(st.integers(1, 25))
    resources = [Resource("exec", f"r{i}", None, SourcePos("c.yaml", i + 1)) for i in range(n)]
    rank = draw(st.permutations(range(n)))  # a hidden order the edges agree with: never a cycle
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40))
    edges = []
    for a, b in pairs:
        if a != b:
            first, then = (a, b) if rank[a] < rank[b] else (b, a)
            edges.append(Edge(Ref("exec", f"r{first}"), Ref("exec", f"r{then}"), EdgeKind.ORDER))
    return resources, edges


@settings(max_examples=200)
@given(dags())
def test_order_respects_every_edge_and_keeps_declaration_order(
    dag: tuple[list[Resource], list[Edge]],
) -> None:
    resources, edges = dag
    result, _ = order(resources, edges, [])
    position = {r.ref: i for i, r in enumerate(result)}
    assert sorted(position) == sorted(r.ref for r in resources)
    for e in edges:
        assert position[e.first] < position[e.then]
    # Where no path decides, declaration order is kept.
    succ: dict[Ref, set[Ref]] = {r.ref: set() for r in resources}
    for e in edges:
        succ[e.first].add(e.then)

    def reaches(a: Ref, b: Ref) -> bool:
        stack, seen = [a], set()
        while stack:
            node = stack.pop()
            if node == b:
                return True
            if node not in seen:
                seen.add(node)
                stack.extend(succ[node])
        return False

    declared = [r.ref for r in resources]
    for i, a in enumerate(declared):
        for b in declared[i + 1 :]:
            if not reaches(a, b) and not reaches(b, a) and position[b] < position[a]:
                # b jumped ahead of a only because a was still waiting for one of its own
                # dependencies, placed after b.
                waiting = [
                    p for p in declared if p != a and reaches(p, a) and position[p] > position[b]
                ]
                assert waiting, (a, b)
