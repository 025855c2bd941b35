"""One walk over a catalog in order: read → diff → change → read again, for each resource.

The walk owns noop, refresh, skip-on-failure and timing, and two ways of finishing resources
together rather than one by one:

- file writes staged in a WriteBatch (types with `batch_writes`) are committed at once before
  anything that could see them; each of those resources is then read again and settled;
- types with `apply_together` (a package manager): the resources of that type that are ready
  (every dependency settled) are read, diffed and handed to `apply_many` in one call, ahead of
  their turn; each result is reported in its own place in the walk.

Whatever a type raises becomes a failed result in one place (`Walk.fail`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from gitpuppet.apply.refresh import Refreshes, notified_by
from gitpuppet.contract import ApplyContext, RefreshNotNeeded, ResourceType
from gitpuppet.errors import ApplyError
from gitpuppet.model import Change, Ref, Resource, Result, Status
from gitpuppet.redact import Redactor
from gitpuppet.resources.fsutil import WriteBatch

# Staged file writes committed together at most (see fsutil.WriteBatch).
BATCH_MAX = 512

TypeLookup = Callable[[str], ResourceType | None]
# Called before a resource is converged: (1-based position, number selected, resource).
BeginHook = Callable[[int, int, Resource], None]
ResultHook = Callable[[Result], None]


@dataclass
class Walk:
    """The state of one apply run, and the steps that change it."""

    ctx: ApplyContext
    noop: bool
    types: TypeLookup
    refreshes: Refreshes
    # Redacts each result as it settles: messages name other resources ("dependency X failed"),
    # sensitive ones by their label; a sensitive resource's values are hidden.
    redactor: Redactor
    incoming: dict[Ref, list[Ref]] = field(default_factory=dict)
    refresh_out: dict[Ref, list[Ref]] = field(default_factory=dict)
    status: dict[Ref, Status] = field(default_factory=dict)
    # For a failed or skipped resource: the failed resource at the root of it.
    cause: dict[Ref, Ref] = field(default_factory=dict)
    # What each failed resource raised (its result holds the message).
    errors: dict[Ref, BaseException] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)
    emitted: int = 0  # results handed to on_result so far
    quiet_hooks: bool = False
    # File writes staged but not yet in place, and the resources waiting on them.
    batch: WriteBatch = field(default_factory=WriteBatch)
    parked: dict[Ref, tuple[Resource, ResourceType, Result]] = field(default_factory=dict)
    # Results of resources applied ahead of their turn with others of their type.
    early: dict[Ref, Result] = field(default_factory=dict)

    # -- the walk ---------------------------------------------------------------------------

    def run(
        self,
        chosen: Sequence[Resource],
        on_begin: BeginHook | None,
        on_result: ResultHook | None,
        stop_reason: Callable[[], str | None],
    ) -> str | None:
        """Converge `chosen` in order; the reason the run was cut short, or None."""
        by_type: dict[str, list[Resource]] = {}
        for r in chosen:
            by_type.setdefault(r.type, []).append(r)
        self._plan(by_type)
        stopped: str | None = None
        cut_short = False
        try:
            for index, res in enumerate(chosen, 1):
                deps = self.incoming.get(res.ref, ())
                if self.parked and self._must_commit_before(res, deps):
                    self._commit()
                if on_begin is not None and not self.quiet_hooks:
                    self._call_hook(on_begin, index, len(chosen), res)
                stopped = stopped or stop_reason()
                if res.ref in self.early:
                    result = self.early.pop(res.ref)
                elif stopped:
                    why = f"skipped: {stopped}"
                    result = Result(res.ref, Status.SKIPPED, message=why, resource=res)
                    cut_short = True
                elif self._applies_together(res, deps):
                    result = self._converge_group(res, by_type[res.type])
                else:
                    result = self._converge(res, deps)
                self.results.append(result)
                if res.ref in self.parked:
                    continue  # settled when the batch is committed
                self._settle(res, result)
                if not self.parked:
                    self._emit(on_result)
            if self.parked:
                self._commit()
            self._emit(on_result)
        finally:
            self.batch.abort()  # only when interrupted: a committed batch is empty
        return stopped if cut_short else None

    def _plan(self, by_type: dict[str, list[Resource]]) -> None:
        """Tell each type every resource of its own the walk will converge (nothing is read)."""
        for type_name, resources in by_type.items():
            rtype = self.lookup(type_name)
            if rtype is None:
                continue
            try:
                rtype.plan(resources, self.ctx)
            except Exception:  # noqa: BLE001, S110 - only a speed-up: a bug here fails nothing
                pass

    def _call_hook(self, hook: Callable[..., None], *args: object) -> None:
        # Output going away (`| head`, a closed terminal) must not leave a machine half
        # converged: stop printing and finish the run; the report still gets everything.
        try:
            hook(*args)
        except OSError:
            self.quiet_hooks = True

    def _emit(self, on_result: ResultHook | None) -> None:
        """Hand the settled results not yet handed on to `on_result`, in apply order."""
        if on_result is not None:
            for result in self.results[self.emitted :]:
                if not self.quiet_hooks:
                    self._call_hook(on_result, result)
        self.emitted = len(self.results)

    def lookup(self, type_name: str) -> ResourceType | None:
        """The type's implementation, or None (also when its module is broken: that fails
        its resources only)."""
        try:
            return self.types(type_name)
        except Exception:  # noqa: BLE001 - a broken type module fails its resources only
            return None

    # -- failures ---------------------------------------------------------------------------

    def fail(self, result: Result, exc: BaseException, prefix: str = "") -> None:
        """The one place an exception becomes a failed result: an ApplyError says what to do
        (and carries a command's output); anything else is a bug, named by its class."""
        result.status = Status.FAILED
        if isinstance(exc, ApplyError):
            result.message = prefix + str(exc)
            if exc.output:
                result.output = exc.output
        else:
            result.message = f"{prefix}{type(exc).__name__}: {exc}"
        self.errors[result.ref] = exc

    @contextmanager
    def failing(self, result: Result, prefix: str = "") -> Iterator[None]:
        """Run a step of a type; whatever it raises (short of an interrupt) fails `result`
        instead of ending the run."""
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - a bug in one type must not end the run
            self.fail(result, exc, prefix)

    # -- one resource -----------------------------------------------------------------------

    def _skip_reason(self, res: Resource, deps: Iterable[Ref]) -> str | None:
        """Why `res` must be skipped (a dependency failed or was skipped), or None."""
        for dep in deps:
            status = self.status.get(dep)
            if status == Status.FAILED:
                self.cause[res.ref] = dep
                return f"skipped: dependency {dep} failed"
            if status == Status.SKIPPED:
                root = self.cause.get(dep, dep)
                self.cause[res.ref] = root
                return f"skipped: dependency {dep} was skipped ({root} failed)"
        return None

    def _converge(self, res: Resource, deps: Iterable[Ref]) -> Result:
        """current → diff → apply → read again, or skip when a dependency failed."""
        reason = self._skip_reason(res, deps)
        if reason is not None:
            return Result(res.ref, Status.SKIPPED, message=reason, resource=res)
        rtype = self.lookup(res.type)
        result = Result(res.ref, Status.UNCHANGED, resource=res)
        if rtype is None:
            result.status = Status.FAILED
            result.message = f"type '{res.type}' is not supported yet"
            return result
        t0 = time.monotonic()
        with self.failing(result):
            cur = rtype.current(res, self.ctx)
            result.changes = rtype.diff(cur, res, self.ctx)
            if result.changes:
                if self.noop or res.noop:
                    result.status = Status.WOULD_CHANGE
                else:
                    self._apply(res, rtype, cur, result)
        result.seconds = time.monotonic() - t0
        return result

    def _apply(self, res: Resource, rtype: ResourceType, cur: Any, result: Result) -> None:
        """Apply `result.changes`; writes a batching type staged wait (parked) for the commit,
        anything else is read again now."""
        staged = len(self.batch)
        self.batch.owner = res.ref
        self.ctx.batch = self.batch if rtype.batch_writes else None
        try:
            rtype.apply(res, cur, result.changes, self.ctx)
        except BaseException:
            self.batch.drop(res.ref)
            raise
        finally:
            self.ctx.batch = None
            self.ctx.caches.changed(res)  # even half done: what was read before may be stale
        result.status = Status.CHANGED
        if len(self.batch) > staged:
            self.parked[res.ref] = (res, rtype, result)
        else:
            self._verify(res, rtype, result)

    def _verify(self, res: Resource, rtype: ResourceType, result: Result) -> None:
        """Read the state again after applying: anything left to change is a failure."""
        if not rtype.verify_after_apply:
            return
        with self.failing(result):
            left = rtype.diff(rtype.current(res, self.ctx), res, self.ctx)
            if left:
                result.status = Status.FAILED
                result.message = "did not converge: " + ", ".join(c.attr for c in left)

    # -- the write batch --------------------------------------------------------------------

    def _must_commit_before(self, res: Resource, deps: Iterable[Ref]) -> bool:
        """Staged writes go in place before anything that is not a batching file write,
        anything that depends on a staged resource, and when the batch is full."""
        if len(self.batch) >= BATCH_MAX:
            return True
        rtype = self.lookup(res.type)
        if rtype is None or not rtype.batch_writes:
            return True
        return any(dep in self.parked for dep in deps)

    def _commit(self) -> None:
        """Commit the staged writes, read each parked resource again, and settle it."""
        failed = self.batch.commit()
        for ref, (res, rtype, result) in self.parked.items():
            t0 = time.monotonic()
            if ref in failed:
                self.fail(result, ApplyError(failed[ref]))
            else:
                self._verify(res, rtype, result)
            result.seconds += time.monotonic() - t0
            self._settle(res, result)
        self.parked.clear()

    # -- resources applied together ---------------------------------------------------------

    def _applies_together(self, res: Resource, deps: Iterable[Ref]) -> bool:
        """Whether `res` is converged with others of its type (not in noop, nor when it is to
        be skipped: _converge says why)."""
        if self.noop or res.noop:
            return False
        if any(self.status.get(d) in (Status.FAILED, Status.SKIPPED) for d in deps):
            return False
        rtype = self.lookup(res.type)
        return rtype is not None and rtype.apply_together

    def _ready_group(self, first: Resource, same_type: Sequence[Resource]) -> list[Resource]:
        """`first` and every resource of its type not yet converged whose dependencies have
        all settled well."""
        group = [first]
        for res in same_type:
            if res is first or res.ref in self.early or res.ref in self.status or res.noop:
                continue
            deps = self.incoming.get(res.ref, ())
            if all(self.status.get(d) in (Status.UNCHANGED, Status.CHANGED) for d in deps):
                group.append(res)
        return group

    def _converge_group(self, first: Resource, same_type: Sequence[Resource]) -> Result:
        """Converge `first` together with the ready resources of its type in one `apply_many`
        call; returns first's result, the others wait in `early` for their turn."""
        rtype = self.lookup(first.type)
        assert rtype is not None
        group = self._ready_group(first, same_type)
        results: dict[Ref, Result] = {}
        todo: list[tuple[Resource, Any, list[Change]]] = []
        t0 = time.monotonic()
        try:
            rtype.prefetch(group, self.ctx)
        except Exception:  # noqa: BLE001, S110 - only a speed-up: `current` reports the problem
            pass
        for res in group:
            result = results[res.ref] = Result(res.ref, Status.UNCHANGED, resource=res)
            with self.failing(result):
                cur = rtype.current(res, self.ctx)
                result.changes = rtype.diff(cur, res, self.ctx)
                if result.changes:
                    todo.append((res, cur, result.changes))
        if todo:
            self._apply_many(rtype, todo, results)
        share = (time.monotonic() - t0) / len(group)
        for res in group:
            results[res.ref].seconds = share
            if res is not first:
                self.early[res.ref] = results[res.ref]
        return results[first.ref]

    def _apply_many(
        self,
        rtype: ResourceType,
        todo: list[tuple[Resource, Any, list[Change]]],
        results: dict[Ref, Result],
    ) -> None:
        errors: dict[Ref, BaseException] = {}
        try:
            errors.update(rtype.apply_many(todo, self.ctx))
        except Exception as exc:  # noqa: BLE001 - a bug fails the group, not the run
            errors = {res.ref: exc for res, _, _ in todo}
        for res, _, _ in todo:
            result = results[res.ref]
            if res.ref in errors:
                self.fail(result, errors[res.ref])
            else:
                result.status = Status.CHANGED
                self._verify(res, rtype, result)  # against what was read before the change
        for res, _, _ in todo:
            self.ctx.caches.changed(res)

    # -- settling and refreshes -------------------------------------------------------------

    def _settle(self, res: Resource, result: Result) -> None:
        """A resource's result is final: deliver its refresh, record its status, notify."""
        self._deliver_refresh(res, result)
        self.status[res.ref] = result.status
        targets = self.refresh_out.get(res.ref, ())
        if result.status == Status.CHANGED:
            self.refreshes.notify(res.ref, targets, self._refreshable)
        elif result.status == Status.WOULD_CHANGE and targets:
            # A simulated change triggers no refresh; say which ones a real run would do.
            would = "would refresh " + ", ".join(map(str, targets))
            result.message = _join(result.message, would)
        self.redactor.result(res, result)  # the one place results are redacted

    def _refreshable(self, ref: Ref) -> bool:
        rtype = self.lookup(ref.type)
        return rtype is not None and rtype.refreshable

    def _deliver_refresh(self, res: Resource, result: Result) -> None:
        """Refresh `res` once if a source changed (now or in an earlier run that could not
        deliver)."""
        sources = self.refreshes.take(res.ref)
        if sources is None:
            return
        rtype = self.lookup(res.type)
        if rtype is None or not rtype.refreshable:
            self.refreshes.delivered(res.ref)
            return
        why = f" ({notified_by(sources)})" if sources else " (left over from an earlier run)"
        if result.status == Status.CHANGED and rtype.refresh_absorbed(result.changes):
            # Started or run by this very run: a refresh on top would restart it twice.
            self.refreshes.delivered(res.ref)
        elif result.status in (Status.FAILED, Status.SKIPPED):
            result.message = _join(result.message, "refresh stays pending")
        elif self.noop or res.noop:
            result.message = _join(result.message, "would refresh" + why)
            if result.status == Status.UNCHANGED:
                result.status = Status.WOULD_CHANGE
                result.changes = result.changes or [Change("refresh", None, "due")]
        else:
            t0 = time.monotonic()
            self._refresh(res, rtype, result, why)
            result.seconds += time.monotonic() - t0

    def _refresh(self, res: Resource, rtype: ResourceType, result: Result, why: str) -> None:
        try:
            message = rtype.refresh(res, self.ctx)
            self.ctx.caches.changed(res)
        except RefreshNotNeeded as exc:
            # Nothing to refresh (a stopped service): said, not counted; the refresh is done.
            result.message = _join(result.message, f"{exc}{why}")
            self.refreshes.delivered(res.ref)
        except Exception as exc:  # noqa: BLE001 - as in _converge
            self.fail(result, exc, "refresh failed: ")
        else:
            result.refreshed = True
            result.status = Status.CHANGED
            result.message = _join(result.message, (message or "refreshed") + why)
            self.refreshes.delivered(res.ref)


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b
