"""The fleet view's rules: stale after two intervals, behind its own or the fleet's head,
filters, the summary line, terminal-safe text and script-safe JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gitpuppet.fleet.page import embed_json
from gitpuppet.fleet.summary import COUNT_KEYS, RESULTS, NodeReport
from gitpuppet.fleet.text import age_text, safe
from gitpuppet.fleet.view import build_view

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
NEW, OLD = "b" * 40, "a" * 40


def report(name: str, exit_code: int = 0, ago: float = 60, **kw: Any) -> NodeReport:
    """A NodeReport as read from a branch, `ago` seconds before NOW."""
    counts = dict.fromkeys(COUNT_KEYS, 0) | kw.pop("counts", {})
    kw.setdefault("commit", NEW)
    kw.setdefault("head", kw["commit"])
    kw.setdefault("environment", "production")
    return NodeReport(
        node=name,
        last_run=NOW - timedelta(seconds=ago),
        result=RESULTS[exit_code],
        exit_code=exit_code,
        counts=counts,
        **kw,
    )


@pytest.mark.parametrize(
    ("ago", "interval", "stale"),
    [(3599, 1800, False), (3601, 1800, True), (500, 200, True), (1.5 * 86400, 86400, False)],
)
def test_stale_after_two_of_its_own_intervals(ago: float, interval: float, stale: bool) -> None:
    row = build_view([report("n1", ago=ago, interval=interval)], NOW).rows[0]
    assert row.stale is stale


def test_behind_its_own_head_or_the_newest_head_of_its_environment() -> None:
    view = build_view(
        [
            report("ahead", ago=10),  # ran last: its head is the newest seen
            report("own", commit=OLD, head=NEW),  # knows it is behind (held by a wave)
            report("unaware", commit=OLD, head=OLD, ago=600),  # saw only the old head
            report("never", commit=None, head=NEW),  # nothing applied yet
            report("other-env", commit=OLD, head=OLD, environment="staging"),
        ],
        NOW,
    )
    behind = {r.report.node: r.behind for r in view.rows}
    assert behind == {
        "ahead": False,
        "own": True,
        "unaware": True,
        "never": True,
        "other-env": False,
    }
    assert view.summary_line() == "5 nodes: 0 failed, 0 stale, 3 behind"


def test_summary_line_and_filters() -> None:
    view = build_view(
        [
            report("web1", 4),
            report("web2", 2, pending_changes=3, noop=True),
            report("db1", 3, disabled="upgrade"),
            report("db2", ago=99999),
        ],
        NOW,
    )
    assert view.summary_line() == (
        "4 nodes: 1 failed, 1 stale, 0 behind, 1 disabled, 1 with pending changes"
    )
    assert [r.report.node for r in view.filtered(("failed", "stale")).rows] == ["db2", "web1"]
    assert [r.report.node for r in view.filtered((), "WEB*").rows] == ["web1", "web2"]
    assert [r.report.node for r in view.filtered(("drift",)).rows] == ["web2"]
    assert view.filtered(("skipped",), "web*").summary_line() == (
        "0 nodes: 0 failed, 0 stale, 0 behind"
    )


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("plain", "plain"),
        ("\x1b[31mred\x1b[0m", "?[31mred?[0m"),
        ("a\rb\nc\x00d\x7f", "a?b?c?d?"),
        ("\u202etxt.exe", "?txt.exe"),
        ("x" * 300, "x" * 199 + "…"),
    ],
)
def test_safe_text_for_a_terminal(text: str, shown: str) -> None:
    assert safe(text) == shown


def test_age_text() -> None:
    assert [age_text(s) for s in (5, 61, 7200, 200000)] == ["5s", "1m", "2h", "2d"]


def test_embedded_json_cannot_close_the_script() -> None:
    value = {"m": "</script><!-- & \u2028"}
    text = embed_json(value)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == value
