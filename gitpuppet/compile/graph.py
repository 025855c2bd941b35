"""Ordering (SPEC §3.1): declaration order refined by explicit and automatic edges.

The apply order is the stable topological order: among resources whose dependencies are all
placed, the one declared first goes next. A cycle is an error that prints the cycle.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from gitpuppet.errors import SourceError
from gitpuppet.model import Edge, EdgeKind, Ref, Resource
from gitpuppet.resources.schema import EdgeIndex


def auto_edges(resources: list[Resource]) -> list[Edge]:
    """The automatic edges between declared resources: each type's spec adds its own."""
    # (type, title) pairs, not Refs: a tuple hashes in C, a Ref through Python.
    declared = {(r.type, r.title) for r in resources}
    # By path, not title (`file: motd` with `path: /etc/motd`); paths are in their normal form.
    paths = {
        getattr(r.params, r.params.namevar): r.ref for r in resources if r.params.provides_paths
    }
    by_type: dict[str, list[Resource]] = {}
    for r in resources:
        by_type.setdefault(r.type, []).append(r)
    accounts = {
        (r.params.account_kind, getattr(r.params, r.params.namevar)): r.ref
        for r in resources
        if r.params.account_kind
    }
    software = [r for r in resources if r.params.installs_software]
    index = EdgeIndex(declared, paths, by_type=by_type, accounts=accounts, software=software)
    for res in resources:
        res.params.auto_edges(res.ref, index)
    return index.edges


def order(
    resources: list[Resource], explicit: list[Edge], automatic: list[Edge]
) -> tuple[list[Resource], list[Edge]]:
    """Resources in apply order, and the automatic edges (all of them: an automatic edge is
    never dropped). A cycle, through explicit or automatic edges, is an error that shows it."""
    edges = explicit + automatic
    result, cycle = _toposort(resources, edges)
    if cycle is not None:
        raise _cycle_error(cycle, resources, edges)
    return result, automatic


def _toposort(
    resources: list[Resource], edges: Iterable[Edge]
) -> tuple[list[Resource], list[Ref] | None]:
    index = {(r.type, r.title): i for i, r in enumerate(resources)}
    succ: list[list[int]] = [[] for _ in resources]
    indeg = [0] * len(resources)
    seen: set[tuple[int, int]] = set()
    for e in edges:
        first, then = e.first, e.then
        a, b = index[first.type, first.title], index[then.type, then.title]
        if (a, b) in seen:
            continue
        seen.add((a, b))
        succ[a].append(b)
        indeg[b] += 1
    heap = [i for i, d in enumerate(indeg) if d == 0]
    heapq.heapify(heap)
    out: list[int] = []
    while heap:
        i = heapq.heappop(heap)
        out.append(i)
        for j in succ[i]:
            indeg[j] -= 1
            if indeg[j] == 0:
                heapq.heappush(heap, j)
    if len(out) == len(resources):
        return [resources[i] for i in out], None
    remaining = {i for i, d in enumerate(indeg) if d > 0}
    return [], [resources[i].ref for i in _find_cycle(remaining, succ)]


def _find_cycle(nodes: set[int], succ: list[list[int]]) -> list[int]:
    """One cycle among `nodes` (each has an unresolved predecessor, so a cycle exists)."""
    start = min(nodes)
    # Walk backwards would need preds; walk forward within the set until a node repeats.
    path: list[int] = []
    pos: dict[int, int] = {}
    node = start
    while node not in pos:
        pos[node] = len(path)
        path.append(node)
        nexts = [j for j in succ[node] if j in nodes]
        if not nexts:
            # dead end: this node is not on a cycle; restart from another
            nodes = nodes - {node}
            return _find_cycle(nodes, succ)
        node = min(nexts)
    return path[pos[node] :]


def _cycle_error(cycle: list[Ref], resources: list[Resource], edges: list[Edge]) -> SourceError:
    """The cycle, each step with the edge that makes it: `file:/d (a.yaml:2) -[before]-> …`."""
    by_ref = {r.ref: r for r in resources}
    steps: dict[tuple[Ref, Ref], Edge] = {}
    for e in edges:  # the first edge per step: an explicit one is listed before automatic ones
        steps.setdefault((e.first, e.then), e)
    # A sensitive resource is named by its label: its title may be the secret.
    parts = [f"{by_ref[ref].label} ({by_ref[ref].pos})" for ref in cycle]
    text = parts[0]
    automatic = False
    for i, ref in enumerate(cycle):
        then = cycle[(i + 1) % len(cycle)]
        edge = steps[ref, then]
        automatic = automatic or edge.kind == EdgeKind.AUTO
        text += f" -[{_edge_reason(edge, by_ref)}]-> " + (
            parts[i + 1] if i + 1 < len(cycle) else by_ref[cycle[0]].label
        )
    hint = "remove one of the require/before/notify/subscribe edges in this cycle"
    if automatic:
        hint += " (an automatic edge cannot be removed: reverse the explicit one instead)"
    return SourceError(by_ref[cycle[0]].pos, f"dependency cycle: {text}", hint)


def _edge_reason(edge: Edge, by_ref: dict[Ref, Resource]) -> str:
    """Why `edge.first` goes before `edge.then`, in a word or three."""
    if edge.kind != EdgeKind.AUTO:
        where = f" at {edge.pos}" if edge.pos is not None else ""
        return f"{'refresh' if edge.kind == EdgeKind.REFRESH else 'order'}{where}"
    return edge.reason or "automatic"
