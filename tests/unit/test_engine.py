"""The applier's walk over hand-built catalogs: convergence, failure, skips, noop, refresh, tags.

The types here are small in-memory test types (a dict as "the machine"), not mocks of a real
component: they let a unit test force what no real type does on demand (an apply that leaves the
state unchanged, a type that raises a bug, a refresh that fails) and record the exact order of
applies and refreshes. The real file/exec types are exercised in tests/integration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from gitpuppet.apply.engine import ApplyOutcome, apply_catalog, count_results, exit_code_for
from gitpuppet.contract import ApplyContext, RefreshNotNeeded, ResourceType
from gitpuppet.errors import ApplyError, SourcePos
from gitpuppet.model import Catalog, Change, Edge, EdgeKind, Ref, Resource, Result, Status
from gitpuppet.resources.schema import Params


@dataclass
class MemParams(Params):  # a real schema's base: the applier asks it for its hooks
    value: str = "v"
    fail: bool = False  # apply raises ApplyError (with command output)
    crash: bool = False  # apply raises a plain exception, as a buggy type would
    stuck: bool = False  # apply does nothing: the resource never converges
    refresh_fails: bool = False
    die: bool = False  # apply raises KeyboardInterrupt: the whole run dies here


class MemType(ResourceType):
    """Keeps `value` per title in a dict; logs every apply and refresh in `events`."""

    name = "mem"
    refreshable = True

    def __init__(self) -> None:
        self.store: dict[str, str] = {}
        self.events: list[str] = []

    def current(self, res: Resource, ctx: ApplyContext) -> Any:
        return self.store.get(res.title)

    def diff(self, cur: Any, res: Resource, ctx: ApplyContext) -> list[Change]:
        return [] if cur == res.params.value else [Change("value", cur, res.params.value)]

    def apply(self, res: Resource, cur: Any, changes: list[Change], ctx: ApplyContext) -> None:
        p: MemParams = res.params
        self.events.append(f"apply {res.title}")
        if p.die:
            raise KeyboardInterrupt
        if p.fail:
            raise ApplyError("command exited 3", output="first line\nsecond line")
        if p.crash:
            raise RuntimeError("bug in type")
        if not p.stuck:
            self.store[res.title] = p.value

    def refresh(self, res: Resource, ctx: ApplyContext) -> str | None:
        if res.params.refresh_fails:
            raise ApplyError("restart failed")
        self.events.append(f"refresh {res.title}")
        return "restarted"


class PlainType(MemType):
    """Like mem, but nothing to refresh (a file, say)."""

    name = "plain"
    refreshable = False


@pytest.fixture
def mem() -> MemType:
    return MemType()


def runner(first: MemType, *others: MemType, tmp_path: Any):  # type: ignore[no-untyped-def]
    """apply_catalog with these test types, all sharing `first`'s store and event log;
    `go(resources, edges, **kw)`."""
    types = {first.name: first}
    for other in others:
        other.store = first.store
        other.events = first.events
        types[other.name] = other

    def go(resources: list[Resource], edges: list[Edge] = (), **kw: Any) -> ApplyOutcome:  # type: ignore[assignment]
        catalog = Catalog("n1", None, resources, list(edges), ["main"])
        return apply_catalog(catalog, ApplyContext(tmp_path), types=types.get, **kw)

    return go


@pytest.fixture
def run(mem: MemType, tmp_path: Any):  # type: ignore[no-untyped-def]
    """apply_catalog with the mem and plain types."""
    return runner(mem, PlainType(), tmp_path=tmp_path)


def r(title: str, kind: str = "mem", **kw: Any) -> Resource:
    noop = kw.pop("noop", False)
    tags = frozenset(kw.pop("tags", ()))
    klass = kw.pop("klass", "main")
    return Resource(
        kind, title, MemParams(**kw), SourcePos("classes/main.yaml", 3), klass, noop=noop, tags=tags
    )


def order(a: str, b: str) -> Edge:
    return Edge(Ref.parse(a), Ref.parse(b), EdgeKind.ORDER)


def notify(a: str, b: str) -> Edge:
    return Edge(Ref.parse(a), Ref.parse(b), EdgeKind.REFRESH)


def statuses(outcome: ApplyOutcome) -> dict[str, str]:
    return {str(x.ref): x.status.value for x in outcome.results}


def test_converge_then_nothing_to_do(run, mem: MemType) -> None:  # type: ignore[no-untyped-def]
    first = run([r("a"), r("b", value="w")])
    assert statuses(first) == {"mem:a": "changed", "mem:b": "changed"}
    assert first.exit_code == 2 and mem.store == {"a": "v", "b": "w"}
    assert first.results[0].changes[0].new == "v"
    second = run([r("a"), r("b", value="w")])
    assert statuses(second) == {"mem:a": "unchanged", "mem:b": "unchanged"}
    assert second.exit_code == 0


def test_not_converging_is_a_failure(run) -> None:  # type: ignore[no-untyped-def]
    out = run([r("a", stuck=True)])
    assert out.results[0].status == Status.FAILED
    assert out.results[0].message == "did not converge: value"
    assert out.exit_code == 4


def test_apply_error_keeps_output_and_a_bug_does_not_end_the_run(run, mem) -> None:  # type: ignore[no-untyped-def]
    out = run([r("a", fail=True), r("b", crash=True), r("c")])
    a, b, c = out.results
    assert (a.status, a.message, a.output) == (
        Status.FAILED,
        "command exited 3",
        "first line\nsecond line",
    )
    assert (b.status, b.message) == (Status.FAILED, "RuntimeError: bug in type")
    assert c.status == Status.CHANGED and mem.store["c"] == "v"
    assert out.exit_code == 6


def test_type_not_built_yet_fails_only_that_resource(run) -> None:  # type: ignore[no-untyped-def]
    out = run([r("nginx", kind="package"), r("a")])
    assert out.results[0].message == "type 'package' is not supported yet"
    assert statuses(out) == {"package:nginx": "failed", "mem:a": "changed"}


def test_a_type_lookup_that_raises_fails_its_resources(tmp_path) -> None:  # type: ignore[no-untyped-def]
    def broken(name: str) -> ResourceType | None:
        raise ImportError("half-installed module")

    catalog = Catalog("n1", None, [r("a")], [], [])
    out = apply_catalog(catalog, ApplyContext(tmp_path), types=broken)
    assert out.results[0].status == Status.FAILED


def test_failure_skips_dependents_transitively_and_names_the_failure(run, mem) -> None:  # type: ignore[no-untyped-def]
    out = run(
        [r("a", fail=True), r("b"), r("c"), r("d")],
        [order("mem:a", "mem:b"), notify("mem:b", "mem:c")],
    )
    assert statuses(out) == {
        "mem:a": "failed",
        "mem:b": "skipped",
        "mem:c": "skipped",
        "mem:d": "changed",
    }
    assert out.results[1].message == "skipped: dependency mem:a failed"
    assert out.results[2].message == "skipped: dependency mem:b was skipped (mem:a failed)"
    assert "b" not in mem.store and "c" not in mem.store
    assert out.counts["skipped"] == 2 and out.exit_code == 6


def test_noop_changes_nothing_and_triggers_no_refresh(run, mem) -> None:  # type: ignore[no-untyped-def]
    mem.store["svc"] = "v"
    out = run([r("conf", value="new"), r("svc")], [notify("mem:conf", "mem:svc")], noop=True)
    assert statuses(out) == {"mem:conf": "would_change", "mem:svc": "unchanged"}
    assert out.results[0].message == "would refresh mem:svc"
    assert mem.events == [] and mem.store == {"svc": "v"}
    assert out.exit_code == 2 and out.pending_refreshes == set()


def test_resource_noop_only_affects_itself(run, mem) -> None:  # type: ignore[no-untyped-def]
    out = run([r("a", noop=True), r("b")])
    assert statuses(out) == {"mem:a": "would_change", "mem:b": "changed"}
    assert mem.store == {"b": "v"}


def test_refresh_once_after_the_target_is_applied(run, mem) -> None:  # type: ignore[no-untyped-def]
    mem.store["svc"] = "v"
    out = run(
        [r("conf1"), r("conf2"), r("svc")],
        [notify("mem:conf1", "mem:svc"), notify("mem:conf2", "mem:svc")],
    )
    assert mem.events == ["apply conf1", "apply conf2", "refresh svc"]
    svc = out.results[2]
    assert svc.status == Status.CHANGED and svc.refreshed
    assert svc.message == "restarted (notified by mem:conf1, mem:conf2)"
    assert out.counts["restarted"] == 1 and out.pending_refreshes == set()


def test_unchanged_source_refreshes_nothing(run, mem) -> None:  # type: ignore[no-untyped-def]
    mem.store.update(conf="v", svc="v")
    out = run([r("conf"), r("svc")], [notify("mem:conf", "mem:svc")])
    assert mem.events == [] and out.exit_code == 0


def test_a_target_changed_by_this_run_is_not_refreshed_again(run, mem) -> None:  # type: ignore[no-untyped-def]
    out = run([r("conf"), r("svc")], [notify("mem:conf", "mem:svc")])
    assert mem.events == ["apply conf", "apply svc"]
    assert not out.results[1].refreshed and out.pending_refreshes == set()


def test_non_refreshable_target_is_not_left_pending(run, mem) -> None:  # type: ignore[no-untyped-def]
    mem.store["f"] = "v"
    out = run([r("conf"), r("f", kind="plain")], [notify("mem:conf", "plain:f")])
    assert out.pending_refreshes == set() and out.results[1].status == Status.UNCHANGED


def test_failed_refresh_stays_pending_and_is_delivered_next_run(run, mem) -> None:  # type: ignore[no-untyped-def]
    mem.store["svc"] = "v"
    saved: list[set[str]] = []
    first = run(
        [r("conf"), r("svc", refresh_fails=True)],
        [notify("mem:conf", "mem:svc")],
        persist_pending=saved.append,
    )
    assert first.results[1].status == Status.FAILED
    assert first.results[1].message == "refresh failed: restart failed"
    assert first.pending_refreshes == {"mem:svc"} and saved == [{"mem:svc"}]
    assert first.exit_code == 6
    # Next run: nothing changes, but the refresh left over is delivered, once.
    second = run(
        [r("conf"), r("svc")],
        [notify("mem:conf", "mem:svc")],
        pending_refreshes={"mem:svc"},
        persist_pending=saved.append,
    )
    assert mem.events[-1] == "refresh svc"
    assert second.results[1].message == "restarted (left over from an earlier run)"
    assert second.pending_refreshes == set() and saved[-1] == set()
    assert second.exit_code == 2
    third = run([r("conf"), r("svc")], [notify("mem:conf", "mem:svc")])
    assert third.exit_code == 0 and mem.events.count("refresh svc") == 1


def test_skipped_target_keeps_its_refresh_pending(run, mem) -> None:  # type: ignore[no-untyped-def]
    mem.store["svc"] = "v"
    out = run(
        [r("conf"), r("broken", fail=True), r("svc")],
        [notify("mem:conf", "mem:svc"), order("mem:broken", "mem:svc")],
    )
    assert out.results[2].status == Status.SKIPPED
    assert out.pending_refreshes == {"mem:svc"}
    assert "refresh stays pending" in out.results[2].message


def test_a_run_that_dies_has_already_saved_the_due_refresh(run, mem) -> None:  # type: ignore[no-untyped-def]
    mem.store["svc"] = "v"
    saved: list[set[str]] = []
    with pytest.raises(KeyboardInterrupt):
        run(
            [r("conf"), r("killer", die=True), r("svc")],
            [notify("mem:conf", "mem:svc")],
            persist_pending=saved.append,
        )
    assert saved == [{"mem:svc"}]


def test_pending_refresh_of_a_removed_resource_is_dropped(run) -> None:  # type: ignore[no-untyped-def]
    saved: list[set[str]] = []
    out = run([r("a")], pending_refreshes={"service:gone"}, persist_pending=saved.append)
    assert out.pending_refreshes == set() and saved == [set()]


def test_pending_refresh_under_noop_is_reported_and_kept(run, mem) -> None:  # type: ignore[no-untyped-def]
    mem.store["svc"] = "v"
    out = run([r("svc")], pending_refreshes={"mem:svc"}, noop=True)
    svc = out.results[0]
    assert svc.status == Status.WOULD_CHANGE
    assert svc.message == "would refresh (left over from an earlier run)"
    assert mem.events == [] and out.pending_refreshes == {"mem:svc"} and out.exit_code == 2


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"web"}, ["mem:a"]),
        ({"plain"}, ["plain:p"]),  # the type is a tag
        ({"db"}, ["mem:c"]),  # the class is a tag
        ({"web", "db"}, ["mem:a", "mem:c"]),
        ({"nothing"}, []),
        (None, ["mem:a", "plain:p", "mem:c"]),
    ],
)
def test_tags_select_resources(run, tags, expected) -> None:  # type: ignore[no-untyped-def]
    resources = [r("a", tags={"web"}), r("p", kind="plain"), r("c", klass="db")]
    out = run(resources, tags=tags)
    assert [str(x.ref) for x in out.results] == expected
    assert out.counts["skipped"] == 0


def test_unselected_failed_dependency_is_not_considered(run, mem) -> None:  # type: ignore[no-untyped-def]
    out = run([r("a", fail=True), r("b", tags={"web"})], [order("mem:a", "mem:b")], tags={"web"})
    assert statuses(out) == {"mem:b": "changed"}


def test_define_type_is_a_tag(run) -> None:  # type: ignore[no-untyped-def]
    res = r("a")
    res.define = "nginx.vhost:shop"
    out = run([res, r("b")], tags={"nginx.vhost"})
    assert [str(x.ref) for x in out.results] == ["mem:a"]


def test_callbacks_see_every_resource_in_order(run) -> None:  # type: ignore[no-untyped-def]
    begun: list[tuple[int, int, str]] = []
    done: list[str] = []
    run(
        [r("a"), r("b"), r("c")],
        on_begin=lambda i, n, res: begun.append((i, n, res.title)),
        on_result=lambda res: done.append(res.ref.title),
    )
    assert begun == [(1, 3, "a"), (2, 3, "b"), (3, 3, "c")] and done == ["a", "b", "c"]


def test_time_is_measured_per_resource(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import time

    class Slow(MemType):
        def apply(self, res: Resource, cur: Any, changes: list[Change], ctx: ApplyContext) -> None:
            time.sleep(0.05)
            super().apply(res, cur, changes, ctx)

    slow = Slow()
    catalog = Catalog("n1", None, [r("a")], [], [])
    out = apply_catalog(catalog, ApplyContext(tmp_path), types={"mem": slow}.get)
    assert 0.05 <= out.results[0].seconds < 5


@pytest.mark.parametrize(
    ("statuses_", "noop", "code"),
    [
        ([], False, 0),
        ([Status.UNCHANGED, Status.SKIPPED], False, 0),
        ([Status.CHANGED], False, 2),
        ([Status.WOULD_CHANGE], True, 2),
        ([Status.FAILED], False, 4),
        ([Status.FAILED, Status.SKIPPED], False, 4),
        ([Status.CHANGED, Status.FAILED], False, 6),
        ([Status.WOULD_CHANGE, Status.FAILED], True, 6),
    ],
)
def test_exit_codes(statuses_: list[Status], noop: bool, code: int) -> None:
    results = [Result(Ref("mem", str(i)), s) for i, s in enumerate(statuses_)]
    assert exit_code_for(results, noop) == code


def test_counts() -> None:
    results = [
        Result(Ref("mem", "a"), Status.CHANGED, refreshed=True),
        Result(Ref("mem", "b"), Status.WOULD_CHANGE),
        Result(Ref("mem", "c"), Status.FAILED),
        Result(Ref("mem", "d"), Status.SKIPPED),
        Result(Ref("mem", "e"), Status.UNCHANGED),
    ]
    assert count_results(results) == {
        "total": 5,
        "changed": 1,
        "failed": 1,
        "skipped": 1,
        "out_of_sync": 2,
        "restarted": 1,
        "unchanged": 1,
    }


def test_output_going_away_does_not_stop_the_run(run, mem) -> None:  # type: ignore[no-untyped-def]
    calls: list[str] = []

    def printer(res: Result) -> None:
        calls.append(res.ref.title)
        raise BrokenPipeError  # `gitpuppet apply | head -1`

    out = run([r("a"), r("b"), r("c")], on_result=printer)
    assert calls == ["a"] and mem.store == {"a": "v", "b": "v", "c": "v"}
    assert len(out.results) == 3


class PickyType(MemType):
    """A mem type whose changes absorb a due refresh only when `value` changed to "started",
    and whose refresh has nothing to do for titles starting with "idle"."""

    name = "picky"

    def refresh_absorbed(self, changes: list[Change]) -> bool:
        return any(c.new == "started" for c in changes)

    def refresh(self, res: Resource, ctx: ApplyContext) -> str | None:
        if res.title.startswith("idle"):
            raise RefreshNotNeeded(f"not restarted: {res.title} is stopped")
        return super().refresh(res, ctx)


@pytest.fixture
def picky_run(mem: MemType, tmp_path: Any):  # type: ignore[no-untyped-def]
    return runner(mem, PickyType(), tmp_path=tmp_path)


def test_a_change_that_does_not_absorb_the_refresh_is_followed_by_it(picky_run, mem) -> None:  # type: ignore[no-untyped-def]
    out = picky_run(
        [r("conf"), r("svc", "picky", value="enabled")], [notify("mem:conf", "picky:svc")]
    )
    svc = out.results[1]
    assert (svc.status, svc.refreshed) == (Status.CHANGED, True)
    assert mem.events == ["apply conf", "apply svc", "refresh svc"]
    assert out.counts["restarted"] == 1 and out.pending_refreshes == set()


def test_a_change_that_absorbs_the_refresh_is_not_refreshed_again(picky_run, mem) -> None:  # type: ignore[no-untyped-def]
    out = picky_run(
        [r("conf"), r("svc", "picky", value="started")], [notify("mem:conf", "picky:svc")]
    )
    assert mem.events == ["apply conf", "apply svc"]
    assert not out.results[1].refreshed and out.pending_refreshes == set()


def test_a_refresh_with_nothing_to_do_is_said_not_counted(picky_run, mem) -> None:  # type: ignore[no-untyped-def]
    mem.store["idle"] = "v"
    out = picky_run([r("conf"), r("idle", "picky")], [notify("mem:conf", "picky:idle")])
    idle = out.results[1]
    assert idle.status == Status.UNCHANGED and not idle.refreshed
    assert idle.message == "not restarted: idle is stopped (notified by mem:conf)"
    assert out.counts["restarted"] == 0 and out.pending_refreshes == set()
    assert out.exit_code == 2  # conf changed
