"""Resources the applier finishes together rather than one by one.

- File writes staged in a WriteBatch (types with `batch_writes`): committed at once before
  anything that could see them, then each resource is read again and settled.
- Types with `apply_together` (a package manager): the resources of that type that are ready
  (every dependency settled) are read, diffed and handed to `apply_many` in one call, ahead of
  their turn; each result is reported in its own place in the walk.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from gitpuppet.contract import ApplyContext, ResourceType
from gitpuppet.errors import ApplyError
from gitpuppet.model import Change, Ref, Resource, Result, Status

if TYPE_CHECKING:
    from gitpuppet.apply.engine import _Run

# Staged file writes committed together at most (see fsutil.WriteBatch).
BATCH_MAX = 512

Settle = Callable[[Resource, Result], None]


def verify(ctx: ApplyContext, res: Resource, rtype: ResourceType, result: Result) -> None:
    """Read the state again after applying: anything left to change is a failure."""
    try:
        left = rtype.diff(rtype.current(res, ctx), res, ctx)
    except ApplyError as exc:
        _fail(result, str(exc), exc.output)
        return
    except Exception as exc:  # noqa: BLE001 - a bug in one type must not end the run
        _fail(result, f"{type(exc).__name__}: {exc}")
        return
    if left:
        _fail(result, "did not converge: " + ", ".join(c.attr for c in left))


def _fail(result: Result, message: str, output: str | None = None) -> None:
    result.status = Status.FAILED
    result.message = message
    if output:
        result.output = output


def must_commit_before(run: _Run, res: Resource, deps: Iterable[Ref]) -> bool:
    """Staged writes go in place before anything that is not a batching file write, anything
    that depends on a staged resource, and when the batch is full."""
    if len(run.batch) >= BATCH_MAX:
        return True
    rtype = run.lookup(res.type)
    if rtype is None or not rtype.batch_writes:
        return True
    return any(dep in run.parked for dep in deps)


def commit_batch(run: _Run, settle: Settle) -> None:
    """Commit the staged writes, read each parked resource again, and settle it."""
    failed = run.batch.commit()
    for ref, (res, rtype, result) in run.parked.items():
        t0 = time.monotonic()
        if ref in failed:
            _fail(result, failed[ref])
        elif rtype.verify_after_apply:
            verify(run.ctx, res, rtype, result)
        result.seconds += time.monotonic() - t0
        settle(res, result)
    run.parked.clear()


def apply_group(
    run: _Run, first: Resource, same_type: Sequence[Resource], incoming: dict[Ref, list[Ref]]
) -> Result:
    """Converge `first` together with every not yet converged resource of its type whose
    dependencies have all settled; returns first's result, the others wait in `run.early`."""
    rtype = run.lookup(first.type)
    assert rtype is not None
    group = [first]
    for res in same_type:
        if res is first or res.ref in run.early or res.ref in run.status or res.noop:
            continue
        deps = incoming.get(res.ref, ())
        if all(run.status.get(d) in (Status.UNCHANGED, Status.CHANGED) for d in deps):
            group.append(res)
    results: dict[Ref, Result] = {}
    todo: list[tuple[Resource, object, list[Change]]] = []
    t0 = time.monotonic()
    try:
        rtype.prefetch(group, run.ctx)
    except Exception:  # noqa: BLE001, S110 - only a speed-up: `current` reports the problem
        pass
    for res in group:
        result = results[res.ref] = Result(res.ref, Status.UNCHANGED, resource=res)
        try:
            cur = rtype.current(res, run.ctx)
            result.changes = rtype.diff(cur, res, run.ctx)
        except ApplyError as exc:
            _fail(result, str(exc), exc.output)
            continue
        except Exception as exc:  # noqa: BLE001 - as in verify
            _fail(result, f"{type(exc).__name__}: {exc}")
            continue
        if result.changes:
            todo.append((res, cur, result.changes))
    if todo:
        try:
            errors = rtype.apply_many(todo, run.ctx)
        except Exception as exc:  # noqa: BLE001 - a bug fails the group, not the run
            errors = {res.ref: ApplyError(f"{type(exc).__name__}: {exc}") for res, _, _ in todo}
        for res, _, _ in todo:
            result = results[res.ref]
            if res.ref in errors:
                _fail(result, str(errors[res.ref]), errors[res.ref].output)
                continue
            result.status = Status.CHANGED
            if rtype.verify_after_apply:
                verify(run.ctx, res, rtype, result)
    share = (time.monotonic() - t0) / len(group)
    for res in group:
        results[res.ref].seconds = share
        if res is not first:
            run.early[res.ref] = results[res.ref]
    return results[first.ref]
