"""The applier stops between resources when asked (SIGTERM): the one in flight finishes, the rest
are skipped with the reason, a due refresh stays pending, and the exit code carries 4."""

from __future__ import annotations

from typing import Any

from gitpuppet import stopping
from gitpuppet.model import Status
from tests.unit.test_engine import MemType, notify, r, runner, statuses


class StopAfter(MemType):
    """mem, but a stop is asked for while `title` is being applied (a SIGTERM mid-run)."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title = title
        self.reason: str | None = None

    def apply(self, res: Any, cur: Any, changes: Any, ctx: Any) -> None:
        super().apply(res, cur, changes, ctx)
        if res.title == self.title:
            self.reason = "stopped by SIGTERM"

    def stop_reason(self) -> str | None:
        return self.reason


def test_stop_finishes_the_resource_in_flight_and_skips_the_rest(tmp_path: Any) -> None:
    mem = StopAfter("b")
    go = runner(mem, tmp_path=tmp_path)
    out = go(
        [r("a"), r("b"), r("c"), r("svc")],
        [notify("mem:b", "mem:svc")],
        stop_reason=mem.stop_reason,
    )
    assert statuses(out) == {
        "mem:a": "changed",
        "mem:b": "changed",
        "mem:c": "skipped",
        "mem:svc": "skipped",
    }
    assert mem.events == ["apply a", "apply b"]
    assert out.results[2].message == "skipped: stopped by SIGTERM"
    assert out.results[3].message == "skipped: stopped by SIGTERM; refresh stays pending"
    assert out.pending_refreshes == {"mem:svc"}
    assert out.stopped == "stopped by SIGTERM"
    assert out.exit_code == 6  # changes, and cut short
    assert out.counts["skipped"] == 2


def test_a_stop_after_the_last_resource_cuts_nothing(tmp_path: Any) -> None:
    mem = StopAfter("b")
    out = runner(mem, tmp_path=tmp_path)([r("a"), r("b")], stop_reason=mem.stop_reason)
    assert all(x.status == Status.CHANGED for x in out.results)
    assert (out.exit_code, out.stopped) == (2, None)


def test_the_default_asks_the_process_wide_request(tmp_path: Any) -> None:
    mem = MemType()
    with stopping.stop_on_signals():
        stopping.request_stop("stopped by SIGTERM")
        out = runner(mem, tmp_path=tmp_path)([r("a")])
    assert stopping.stop_reason() is None  # leaving the block forgets the request
    assert statuses(out) == {"mem:a": "skipped"} and out.exit_code == 4
    assert mem.events == []
