"""The applier's `apply_together` walk: resources of such a type (a package manager) that are
ready together are changed in one `apply_many` call, each reported in its own place.

The types are the in-memory test types of test_engine.py plus one that records every
apply_many call, so a test can count calls: no real package manager is involved here (the
package type's own tests use real apt).
"""

from __future__ import annotations

from typing import Any

import pytest

from gitpuppet.contract import ApplyContext
from gitpuppet.errors import ApplyError
from gitpuppet.model import Change, Ref, Resource, Status
from tests.unit.test_engine import MemType, order, r, runner, statuses


class BulkType(MemType):
    """A mem type whose resources are applied together; `calls` lists each apply_many call."""

    name = "bulk"
    refreshable = False
    apply_together = True

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []
        self.prefetched: list[list[str]] = []

    def prefetch(self, resources: list[Resource], ctx: ApplyContext) -> None:
        self.prefetched.append([res.title for res in resources])

    def apply_many(
        self, items: list[tuple[Resource, Any, list[Change]]], ctx: ApplyContext
    ) -> dict[Ref, ApplyError]:
        self.calls.append([res.title for res, _, _ in items])
        return super().apply_many(items, ctx)


@pytest.fixture
def bulk() -> BulkType:
    return BulkType()


@pytest.fixture
def go(bulk: BulkType, tmp_path: Any):  # type: ignore[no-untyped-def]
    return runner(bulk, MemType(), tmp_path=tmp_path)


def b(title: str, **kw: Any) -> Resource:
    return r(title, "bulk", **kw)


def test_ready_resources_are_applied_in_one_call_and_reported_in_order(go, bulk) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    out = go(
        [b("a"), r("m"), b("c"), b("d")],
        on_result=lambda res: seen.append(str(res.ref)),
    )
    assert bulk.calls == [["a", "c", "d"]]
    assert [str(x.ref) for x in out.results] == ["bulk:a", "mem:m", "bulk:c", "bulk:d"]
    assert seen == ["bulk:a", "mem:m", "bulk:c", "bulk:d"]
    assert set(statuses(out).values()) == {"changed"}
    again = go([b("a"), r("m"), b("c"), b("d")])
    assert bulk.calls == [["a", "c", "d"]]  # nothing to change: no second call
    assert set(statuses(again).values()) == {"unchanged"}


def test_a_resource_waiting_on_something_later_comes_in_a_second_call(go, bulk) -> None:  # type: ignore[no-untyped-def]
    out = go([b("a"), r("m"), b("c"), b("d")], [order("mem:m", "bulk:c")])
    assert bulk.calls == [["a", "d"], ["c"]]
    assert bulk.prefetched == [["a", "d"], ["c"]]  # each group read in one go first
    # c was applied after m, as its edge says.
    assert bulk.events.index("apply m") < bulk.events.index("apply c")
    assert set(statuses(out).values()) == {"changed"}


def test_unchanged_ones_are_not_handed_to_apply_many(go, bulk) -> None:  # type: ignore[no-untyped-def]
    bulk.store["c"] = "v"
    out = go([b("a"), b("c"), b("d")])
    assert bulk.calls == [["a", "d"]]
    assert statuses(out) == {"bulk:a": "changed", "bulk:c": "unchanged", "bulk:d": "changed"}


def test_one_failure_fails_itself_and_skips_only_its_dependents(go, bulk) -> None:  # type: ignore[no-untyped-def]
    out = go(
        [b("a"), b("bad", fail=True), b("c"), r("after-bad"), r("after-a")],
        [order("bulk:bad", "mem:after-bad"), order("bulk:a", "mem:after-a")],
    )
    assert bulk.calls == [["a", "bad", "c"]]
    assert statuses(out) == {
        "bulk:a": "changed",
        "bulk:bad": "failed",
        "bulk:c": "changed",
        "mem:after-bad": "skipped",
        "mem:after-a": "changed",
    }
    bad = out.results[1]
    assert (bad.message, bad.output) == ("command exited 3", "first line\nsecond line")
    assert out.exit_code == 6


def test_a_resource_that_does_not_converge_fails_after_the_call(go, bulk) -> None:  # type: ignore[no-untyped-def]
    out = go([b("a"), b("stuck", stuck=True)])
    assert bulk.calls == [["a", "stuck"]]
    assert out.results[1].status == Status.FAILED
    assert out.results[1].message == "did not converge: value"


def test_a_dependent_of_a_failed_resource_is_skipped_not_grouped(go, bulk) -> None:  # type: ignore[no-untyped-def]
    out = go([r("m", fail=True), b("a"), b("c")], [order("mem:m", "bulk:c")])
    assert bulk.calls == [["a"]]
    assert statuses(out) == {"mem:m": "failed", "bulk:a": "changed", "bulk:c": "skipped"}


def test_noop_reads_each_and_applies_nothing(go, bulk) -> None:  # type: ignore[no-untyped-def]
    out = go([b("a"), b("c")], noop=True)
    assert bulk.calls == []
    assert set(statuses(out).values()) == {"would_change"}
    assert bulk.store == {}
    # A resource with its own noop stays out of the group.
    out = go([b("a"), b("c", noop=True)])
    assert bulk.calls == [["a"]]
    assert statuses(out) == {"bulk:a": "changed", "bulk:c": "would_change"}
