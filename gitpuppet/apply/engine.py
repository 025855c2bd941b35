"""Apply a catalog: converge each selected resource in order (STYLE.md, "The resource contract").

The walk (walk.py) owns noop, refresh, skip-on-failure, batching and timing; types only read,
diff and change. This module is the entry point and the outcome: results, counts, exit code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gitpuppet import stopping
from gitpuppet.apply.refresh import Refreshes
from gitpuppet.apply.tags import select_tagged
from gitpuppet.apply.walk import BeginHook, TypeLookup, Walk
from gitpuppet.contract import ApplyContext
from gitpuppet.managed import managed_paths
from gitpuppet.model import Catalog, EdgeKind, Ref, Result, Status
from gitpuppet.redact import Redactor
from gitpuppet.types import get_type

__all__ = [
    "ApplyOutcome",
    "BeginHook",
    "TypeLookup",
    "apply_catalog",
    "count_results",
    "exit_code_for",
]

COUNT_KEYS = ("total", "changed", "failed", "skipped", "out_of_sync", "restarted", "unchanged")


@dataclass
class ApplyOutcome:
    """Results in apply order, refreshes still due, counts, and the exit code (SPEC §4.1)."""

    results: list[Result]
    pending_refreshes: set[str]
    counts: dict[str, int]
    exit_code: int
    seconds: float = 0.0
    noop: bool = False
    # Why the run was cut short ("stopped by SIGTERM"): the resources after it were skipped.
    stopped: str | None = None
    # What each failed resource raised, for a traceback with -vv and for tests.
    errors: dict[Ref, BaseException] = field(default_factory=dict)


def exit_code_for(results: list[Result], noop: bool) -> int:
    """0 converged, 2 changes (or, with noop, changes pending), 4 failures, 6 both."""
    changed = any(r.status in (Status.CHANGED, Status.WOULD_CHANGE) for r in results)
    failed = any(r.status == Status.FAILED for r in results)
    return (2 if changed else 0) | (4 if failed else 0)


def count_results(results: list[Result]) -> dict[str, int]:
    """Counts for the summary: total, changed, failed, skipped, out_of_sync, restarted, unchanged."""
    counts = dict.fromkeys(COUNT_KEYS, 0)
    counts["total"] = len(results)
    for r in results:
        if r.status == Status.CHANGED:
            counts["changed"] += 1
            counts["out_of_sync"] += 1
        elif r.status == Status.WOULD_CHANGE:
            counts["out_of_sync"] += 1
        elif r.status == Status.FAILED:
            counts["failed"] += 1
        elif r.status == Status.SKIPPED:
            counts["skipped"] += 1
        else:
            counts["unchanged"] += 1
        if r.refreshed:
            counts["restarted"] += 1
    return counts


def apply_catalog(
    catalog: Catalog,
    ctx: ApplyContext,
    *,
    noop: bool = False,
    tags: set[str] | None = None,
    pending_refreshes: set[str] | frozenset[str] = frozenset(),
    on_result: Callable[[Result], None] | None = None,
    persist_pending: Callable[[set[str]], None] | None = None,
    on_begin: BeginHook | None = None,
    types: TypeLookup = get_type,
    stop_reason: Callable[[], str | None] = stopping.stop_reason,
) -> ApplyOutcome:
    """Converge every (selected) resource of `catalog`, in order.

    `pending_refreshes` are refreshes left over from an earlier run; `persist_pending` is called
    with the new set whenever it changes, so a run that dies still remembers a due refresh.
    `types` finds a type's implementation (tests pass their own). Once `stop_reason()` gives a
    reason, the resources not yet applied are skipped with it and the exit code carries 4.
    """
    start = time.monotonic()
    ctx.managed = managed_paths(catalog.resources)  # all of them, whatever --tags selects
    walk = Walk(ctx, noop, types, Refreshes(persist_pending), Redactor(catalog.resources))
    walk.refreshes.carry_over(pending_refreshes, {str(r.ref): r.ref for r in catalog.resources})
    for edge in catalog.edges:
        walk.incoming.setdefault(edge.then, []).append(edge.first)
        if edge.kind == EdgeKind.REFRESH:
            walk.refresh_out.setdefault(edge.first, []).append(edge.then)
    stopped = walk.run(select_tagged(catalog.resources, tags), on_begin, on_result, stop_reason)
    results = walk.results
    return ApplyOutcome(
        results,
        walk.refreshes.pending,
        count_results(results),
        exit_code_for(results, noop) | (4 if stopped else 0),
        time.monotonic() - start,
        noop,
        stopped,
        walk.errors,
    )
