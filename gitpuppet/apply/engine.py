"""Walk a catalog in order and converge each resource (STYLE.md, "The resource contract").

The engine owns noop, refresh, skip-on-failure and timing; types only read, diff and change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gitpuppet.errors import ApplyError
from gitpuppet.model import Catalog, Change, EdgeKind, Ref, Resource, Result, Status
from gitpuppet.resources import get_type
from gitpuppet.resources.base import ApplyContext

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


def exit_code_for(results: list[Result], noop: bool) -> int:
    """0 converged, 2 changes (or pending with noop), 4 failures, 6 both."""
    changed = any(r.status in (Status.CHANGED, Status.WOULD_CHANGE) for r in results)
    failed = any(r.status == Status.FAILED for r in results)
    return (2 if changed else 0) | (4 if failed else 0)


def count_results(results: list[Result]) -> dict[str, int]:
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


@dataclass
class _Run:
    catalog: Catalog
    ctx: ApplyContext
    noop: bool
    selected: Callable[[Resource], bool]
    on_result: Callable[[Result], None] | None
    persist_pending: Callable[[set[str]], None] | None
    status: dict[Ref, Status] = field(default_factory=dict)
    due: dict[Ref, list[Ref]] = field(
        default_factory=dict
    )  # refresh target -> sources that changed
    pending: set[str] = field(default_factory=set)


def apply_catalog(
    catalog: Catalog,
    ctx: ApplyContext,
    *,
    noop: bool = False,
    tags: set[str] | None = None,
    pending_refreshes: set[str] | frozenset[str] = frozenset(),
    on_result: Callable[[Result], None] | None = None,
    persist_pending: Callable[[set[str]], None] | None = None,
) -> ApplyOutcome:
    """Converge every (selected) resource of `catalog`, in order.

    `pending_refreshes` are refreshes left over from an earlier run; `persist_pending` is called
    with the new set whenever a refresh becomes due, so a run that dies still remembers it.
    """
    start = time.monotonic()
    selected = (lambda r: True) if not tags else (lambda r: bool(r.tags & tags))
    run = _Run(
        catalog, ctx, noop, selected, on_result, persist_pending, pending=set(pending_refreshes)
    )
    for ref_text in pending_refreshes:
        try:
            run.due.setdefault(Ref.parse(ref_text), [])
        except ValueError:
            continue
    incoming: dict[Ref, list[Ref]] = {}
    refresh_out: dict[Ref, list[Ref]] = {}
    for edge in catalog.edges:
        incoming.setdefault(edge.then, []).append(edge.first)
        if edge.kind == EdgeKind.REFRESH:
            refresh_out.setdefault(edge.first, []).append(edge.then)
    results: list[Result] = []
    for res in catalog.resources:
        if not selected(res):
            continue
        result = _converge(run, res, incoming.get(res.ref, ()))
        run.status[res.ref] = result.status
        _deliver_refresh(run, res, result)
        if result.status == Status.CHANGED:
            added = False
            for target in refresh_out.get(res.ref, ()):
                run.due.setdefault(target, []).append(res.ref)
                target_type = get_type(target.type)
                if (
                    target_type is not None
                    and target_type.refreshable
                    and str(target) not in run.pending
                ):
                    run.pending.add(str(target))
                    added = True
            if added and persist_pending is not None:
                persist_pending(set(run.pending))
        elif result.status == Status.WOULD_CHANGE:
            targets = refresh_out.get(res.ref, ())
            if targets:
                result.message = _join(
                    result.message, "would refresh " + ", ".join(map(str, targets))
                )
        results.append(result)
        if on_result is not None:
            on_result(result)
    return ApplyOutcome(
        results,
        run.pending,
        count_results(results),
        exit_code_for(results, noop),
        time.monotonic() - start,
        noop,
    )


def _converge(run: _Run, res: Resource, deps: Iterable[Ref]) -> Result:
    """current → diff → apply → read again, or skip when a dependency failed."""
    failed = [d for d in deps if run.status.get(d) in (Status.FAILED, Status.SKIPPED)]
    if failed:
        return Result(
            res.ref,
            Status.SKIPPED,
            message=f"skipped: dependency {failed[0]} "
            f"{'failed' if run.status[failed[0]] == Status.FAILED else 'was skipped'}",
            resource=res,
        )
    rtype = get_type(res.type)
    if rtype is None:
        return Result(
            res.ref, Status.FAILED, message=f"type '{res.type}' is not supported yet", resource=res
        )
    t0 = time.monotonic()
    result = Result(res.ref, Status.UNCHANGED, resource=res)
    try:
        cur = rtype.current(res, run.ctx)
        changes = rtype.diff(cur, res, run.ctx)
        result.changes = changes
        if changes:
            if run.noop or res.noop:
                result.status = Status.WOULD_CHANGE
            else:
                rtype.apply(res, cur, changes, run.ctx)
                result.status = Status.CHANGED
                if rtype.verify_after_apply:
                    left = rtype.diff(rtype.current(res, run.ctx), res, run.ctx)
                    if left:
                        result.status = Status.FAILED
                        result.message = (
                            "did not converge: " + ", ".join(c.attr for c in left) + " still differ"
                        )
    except ApplyError as exc:
        result.status = Status.FAILED
        result.message = str(exc)
        result.output = exc.output
    except Exception as exc:  # noqa: BLE001 - a bug in one type must not end the run
        result.status = Status.FAILED
        result.message = f"{type(exc).__name__}: {exc}"
    result.seconds = time.monotonic() - t0
    return result


def _deliver_refresh(run: _Run, res: Resource, result: Result) -> None:
    """Refresh `res` once if a source changed (now or in an earlier run that could not deliver)."""
    if res.ref not in run.due:
        return
    sources = run.due.pop(res.ref)
    rtype = get_type(res.type)
    if rtype is None or not rtype.refreshable:
        run.pending.discard(str(res.ref))
        return
    why = (
        f" (notified by {', '.join(map(str, sources))})"
        if sources
        else " (left over from an earlier run)"
    )
    if result.status == Status.CHANGED:
        # Started or run by this very run: a refresh on top would restart it twice.
        run.pending.discard(str(res.ref))
        return
    if result.status in (Status.FAILED, Status.SKIPPED):
        return  # stays pending for the next run
    if run.noop or res.noop:
        result.message = _join(result.message, "would refresh" + why)
        if result.status == Status.UNCHANGED:
            result.status = Status.WOULD_CHANGE
            result.changes = result.changes or [Change("refresh", None, "due")]
        return
    t0 = time.monotonic()
    try:
        message = rtype.refresh(res, run.ctx)
        result.refreshed = True
        result.status = Status.CHANGED
        result.message = _join(result.message, (message or "refreshed") + why)
        run.pending.discard(str(res.ref))
    except ApplyError as exc:
        result.status = Status.FAILED
        result.message = f"refresh failed: {exc}"
        result.output = exc.output
    except Exception as exc:  # noqa: BLE001
        result.status = Status.FAILED
        result.message = f"refresh failed: {type(exc).__name__}: {exc}"
    result.seconds += time.monotonic() - t0
    if result.status == Status.CHANGED and run.persist_pending is not None:
        run.persist_pending(set(run.pending))


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b
