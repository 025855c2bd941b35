"""Walk a catalog in order and converge each resource (STYLE.md, "The resource contract").

The engine owns noop, refresh, skip-on-failure and timing; types only read, diff and change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gitpuppet import stopping
from gitpuppet.apply.groups import apply_group, commit_batch, must_commit_before, verify
from gitpuppet.apply.tags import select_tagged
from gitpuppet.contract import ApplyContext, RefreshNotNeeded, ResourceType
from gitpuppet.errors import ApplyError
from gitpuppet.managed import managed_paths
from gitpuppet.model import Catalog, Change, EdgeKind, Ref, Resource, Result, Status
from gitpuppet.redact import Redactor
from gitpuppet.resources.fsutil import WriteBatch
from gitpuppet.types import get_type

COUNT_KEYS = ("total", "changed", "failed", "skipped", "out_of_sync", "restarted", "unchanged")

TypeLookup = Callable[[str], ResourceType | None]
# Called before a resource is converged: (1-based position, number selected, resource).
BeginHook = Callable[[int, int, Resource], None]


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


@dataclass
class _Run:
    ctx: ApplyContext
    noop: bool
    types: TypeLookup
    persist_pending: Callable[[set[str]], None] | None
    status: dict[Ref, Status] = field(default_factory=dict)
    # For a failed or skipped resource: the failed resource at the root of it.
    cause: dict[Ref, Ref] = field(default_factory=dict)
    # Refresh target -> the sources that changed ([] for a refresh left over from a past run).
    due: dict[Ref, list[Ref]] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)
    quiet_hooks: bool = False
    # File writes staged but not yet in place, and the resources waiting on them.
    batch: WriteBatch = field(default_factory=WriteBatch)
    parked: dict[Ref, tuple[Resource, ResourceType, Result]] = field(default_factory=dict)
    # Results of resources applied ahead of their turn with others of their type.
    early: dict[Ref, Result] = field(default_factory=dict)
    # Messages name other resources ("dependency X failed"): sensitive ones by their label.
    redactor: Redactor = field(default_factory=lambda: Redactor(()))

    def call_hook(self, hook: Callable[..., None], *args: object) -> None:
        # Output going away (`| head`, a closed terminal) must not leave a machine half
        # converged: stop printing and finish the run; the report still gets everything.
        try:
            hook(*args)
        except OSError:
            self.quiet_hooks = True

    def lookup(self, type_name: str) -> ResourceType | None:
        try:
            return self.types(type_name)
        except Exception:  # noqa: BLE001 - a broken type module fails its resources only
            return None

    def save_pending(self) -> None:
        if self.persist_pending is not None:
            self.persist_pending(set(self.pending))


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
    run = _Run(ctx, noop, types, persist_pending, redactor=Redactor(catalog.resources))
    in_catalog = {str(r.ref): r.ref for r in catalog.resources}
    for ref_text in pending_refreshes:
        # A refresh for a resource that left the catalog can never happen: forget it.
        if ref_text in in_catalog:
            run.pending.add(ref_text)
            run.due.setdefault(in_catalog[ref_text], [])
    if run.pending != set(pending_refreshes):
        run.save_pending()
    incoming: dict[Ref, list[Ref]] = {}
    refresh_out: dict[Ref, list[Ref]] = {}
    for edge in catalog.edges:
        incoming.setdefault(edge.then, []).append(edge.first)
        if edge.kind == EdgeKind.REFRESH:
            refresh_out.setdefault(edge.first, []).append(edge.then)
    chosen = select_tagged(catalog.resources, tags)
    by_type: dict[str, list[Resource]] = {}
    for r in chosen:
        by_type.setdefault(r.type, []).append(r)
    results: list[Result] = []
    emitted = 0
    stopped: str | None = None
    cut_short = False

    def settle(r: Resource, result: Result) -> None:
        _settle(run, r, result, refresh_out)

    try:
        for index, res in enumerate(chosen, 1):
            deps = incoming.get(res.ref, ())
            if run.parked and must_commit_before(run, res, deps):
                commit_batch(run, settle)
            if on_begin is not None and not run.quiet_hooks:
                run.call_hook(on_begin, index, len(chosen), res)
            stopped = stopped or stop_reason()
            if res.ref in run.early:
                result = run.early.pop(res.ref)
            elif stopped:
                result = Result(
                    res.ref, Status.SKIPPED, message=f"skipped: {stopped}", resource=res
                )
                cut_short = True
            elif _applies_together(run, res, deps):
                result = apply_group(run, res, by_type[res.type], incoming)
            else:
                result = _converge(run, res, deps)
            results.append(result)
            if res.ref in run.parked:
                continue  # settled when the batch is committed
            settle(res, result)
            if not run.parked:
                emitted = _emit(run, results, emitted, on_result)
        if run.parked:
            commit_batch(run, settle)
        _emit(run, results, emitted, on_result)
    finally:
        run.batch.abort()  # only when interrupted: a committed batch is empty
    return ApplyOutcome(
        results,
        run.pending,
        count_results(results),
        exit_code_for(results, noop) | (4 if cut_short else 0),
        time.monotonic() - start,
        noop,
        stopped if cut_short else None,
    )


def _emit(
    run: _Run, results: list[Result], emitted: int, on_result: Callable[[Result], None] | None
) -> int:
    """Hand the settled results from `emitted` on to `on_result`, in apply order."""
    if on_result is not None:
        for result in results[emitted:]:
            if not run.quiet_hooks:
                run.call_hook(on_result, result)
    return len(results)


def _settle(run: _Run, res: Resource, result: Result, refresh_out: dict[Ref, list[Ref]]) -> None:
    """A resource's result is final: deliver its refresh, record its status, notify."""
    _deliver_refresh(run, res, result)
    run.status[res.ref] = result.status
    if result.status == Status.CHANGED:
        _notify(run, res, refresh_out.get(res.ref, ()))
    elif result.status == Status.WOULD_CHANGE and refresh_out.get(res.ref):
        # A simulated change triggers no refresh; say which ones a real run would do.
        targets = ", ".join(map(str, refresh_out[res.ref]))
        result.message = _join(result.message, f"would refresh {targets}")
    result.message = run.redactor.message(res, result.message)


def _notify(run: _Run, source: Resource, targets: Iterable[Ref]) -> None:
    """`source` changed: make each refresh target due, and remember it until delivered."""
    added = False
    for target in targets:
        run.due.setdefault(target, []).append(source.ref)
        target_type = run.lookup(target.type)
        if target_type is not None and target_type.refreshable and str(target) not in run.pending:
            run.pending.add(str(target))
            added = True
    if added:
        run.save_pending()


def _skip_reason(run: _Run, res: Resource, deps: Iterable[Ref]) -> str | None:
    """Why `res` must be skipped (a dependency failed or was skipped), or None."""
    for dep in deps:
        status = run.status.get(dep)
        if status == Status.FAILED:
            run.cause[res.ref] = dep
            return f"skipped: dependency {dep} failed"
        if status == Status.SKIPPED:
            root = run.cause.get(dep, dep)
            run.cause[res.ref] = root
            return f"skipped: dependency {dep} was skipped ({root} failed)"
    return None


def _applies_together(run: _Run, res: Resource, deps: Iterable[Ref]) -> bool:
    """Whether `res` is converged with others of its type (not in noop, nor when it is to be
    skipped: _converge says why)."""
    if run.noop or res.noop:
        return False
    if any(run.status.get(d) in (Status.FAILED, Status.SKIPPED) for d in deps):
        return False
    rtype = run.lookup(res.type)
    return rtype is not None and rtype.apply_together


def _converge(run: _Run, res: Resource, deps: Iterable[Ref]) -> Result:
    """current → diff → apply → read again, or skip when a dependency failed."""
    reason = _skip_reason(run, res, deps)
    if reason is not None:
        return Result(res.ref, Status.SKIPPED, message=reason, resource=res)
    rtype = run.lookup(res.type)
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
                staged = len(run.batch)
                run.batch.owner = res.ref
                run.ctx.batch = run.batch if rtype.batch_writes else None
                try:
                    rtype.apply(res, cur, changes, run.ctx)
                except BaseException:
                    run.batch.drop(res.ref)
                    raise
                finally:
                    run.ctx.batch = None
                result.status = Status.CHANGED
                if len(run.batch) > staged:
                    run.parked[res.ref] = (res, rtype, result)
                elif rtype.verify_after_apply:
                    verify(run.ctx, res, rtype, result)
    except ApplyError as exc:
        result.status = Status.FAILED
        result.message = str(exc)
        result.output = exc.output
    except Exception as exc:  # noqa: BLE001 - a bug in one type must not end the run
        result.status = Status.FAILED
        result.message = f"{type(exc).__name__}: {exc}"
    result.seconds = time.monotonic() - t0
    return result


NOTIFIERS_SHOWN = 3  # a refresh line names this many of its notifiers, then counts the rest


def notified_by(sources: list[Ref]) -> str:
    """`notified by file:/a, file:/b`, or for many `notified by 1000 resources: file:/a and
    999 more` (one line, whatever the fan-in)."""
    if len(sources) <= NOTIFIERS_SHOWN:
        return f"notified by {', '.join(map(str, sources))}"
    return f"notified by {len(sources)} resources: {sources[0]} and {len(sources) - 1} more"


def _deliver_refresh(run: _Run, res: Resource, result: Result) -> None:
    """Refresh `res` once if a source changed (now or in an earlier run that could not deliver)."""
    if res.ref not in run.due:
        return
    sources = run.due.pop(res.ref)
    key = str(res.ref)
    rtype = run.lookup(res.type)
    if rtype is None or not rtype.refreshable:
        if key in run.pending:
            run.pending.discard(key)
            run.save_pending()
        return
    why = f" ({notified_by(sources)})" if sources else " (left over from an earlier run)"
    if result.status == Status.CHANGED and rtype.refresh_absorbed(result.changes):
        # Started or run by this very run: a refresh on top would restart it twice.
        run.pending.discard(key)
        run.save_pending()
        return
    if result.status in (Status.FAILED, Status.SKIPPED):
        result.message = _join(result.message, "refresh stays pending")
        return
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
        run.pending.discard(key)
        run.save_pending()
    except RefreshNotNeeded as exc:
        # Nothing to refresh (a stopped service): said, not counted; the refresh is done with.
        result.message = _join(result.message, f"{exc}{why}")
        run.pending.discard(key)
        run.save_pending()
    except ApplyError as exc:
        result.status = Status.FAILED
        result.message = f"refresh failed: {exc}"
        result.output = exc.output
    except Exception as exc:  # noqa: BLE001 - as in _converge
        result.status = Status.FAILED
        result.message = f"refresh failed: {type(exc).__name__}: {exc}"
    result.seconds += time.monotonic() - t0


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b
