"""From node reports to the fleet view: age, stale, behind, filters and the summary line."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gitpuppet.fleet.read import read_reports
from gitpuppet.fleet.summary import NodeReport

__all__ = ["FleetView", "NodeRow", "build_view", "read_reports", "row_json"]

STALE_INTERVALS = 2  # SPEC §11: no report within two intervals
STATUSES = ("failed", "changed", "unchanged", "skipped", "stale", "behind", "disabled", "drift")


@dataclass(frozen=True, slots=True)
class NodeRow:
    """One node as the fleet view shows it."""

    report: NodeReport
    age: float  # seconds since its last run started
    stale: bool
    behind: bool
    newest_head: str | None  # the newest branch head any node of its environment reported

    def has_status(self, status: str) -> bool:
        """True when the node is in `status` (a result, or stale/behind/disabled/drift)."""
        r = self.report
        flags = {
            "stale": self.stale,
            "behind": self.behind,
            "disabled": r.disabled is not None,
            "drift": r.pending_changes > 0,
        }
        return flags.get(status, r.result == status)


@dataclass
class FleetView:
    """The rows (sorted by node name) and the warnings about entries that were skipped."""

    rows: list[NodeRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    missing_shards: int = 0  # shards that could not be fetched: their nodes are not in `rows`

    def summary_line(self) -> str:
        """'412 nodes: 3 failed, 5 stale, 20 behind' (disabled and drifting when there are)."""
        n = len(self.rows)
        parts = [f"{sum(r.report.result == 'failed' for r in self.rows)} failed"]
        parts.append(f"{sum(r.stale for r in self.rows)} stale")
        parts.append(f"{sum(r.behind for r in self.rows)} behind")
        disabled = sum(r.report.disabled is not None for r in self.rows)
        drift = sum(r.report.pending_changes > 0 for r in self.rows)
        if disabled:
            parts.append(f"{disabled} disabled")
        if drift:
            parts.append(f"{drift} with pending changes")
        line = f"{n} node{'s' if n != 1 else ''}: " + ", ".join(parts)
        if self.missing_shards:
            count = self.missing_shards
            line += f" (and the nodes of {count} shard{'s' if count != 1 else ''} not fetched)"
        return line

    def filtered(self, statuses: tuple[str, ...] = (), match: str | None = None) -> FleetView:
        """The rows in any of `statuses` (all when empty) whose name matches the glob `match`."""
        rows = [
            r
            for r in self.rows
            if (not statuses or any(r.has_status(s) for s in statuses))
            and (match is None or fnmatch.fnmatchcase(r.report.node, match.lower()))
        ]
        return FleetView(rows, list(self.warnings), self.missing_shards)


def build_view(reports: list[NodeReport], now: datetime | None = None) -> FleetView:
    """Rows for `reports` at time `now` (default: the current time)."""
    now = now or datetime.now(UTC)
    newest = newest_heads(reports)
    rows = []
    for r in sorted(reports, key=lambda r: r.node):
        age = max(0.0, (now - r.last_run).total_seconds())
        fleet_head = newest.get(r.environment or "")
        heads = {h for h in (r.head, fleet_head) if h}
        behind = bool(heads) and (r.commit is None or any(h != r.commit for h in heads))
        rows.append(NodeRow(r, age, age > STALE_INTERVALS * r.interval, behind, fleet_head))
    return FleetView(rows)


def newest_heads(reports: list[NodeReport]) -> dict[str, str]:
    """Per environment, the branch head reported by the node that ran last (the newest seen)."""
    latest: dict[str, NodeReport] = {}
    for r in reports:
        if r.head is None:
            continue
        key = r.environment or ""
        if key not in latest or r.last_run > latest[key].last_run:
            latest[key] = r
    return {env: r.head for env, r in latest.items() if r.head}


def iso(when: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the second."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def row_json(row: NodeRow) -> dict[str, Any]:
    """The --json object of one node (SPEC §11 keys first, then the rest)."""
    r = row.report
    return {
        "node": r.node,
        "last_run": iso(r.last_run),
        "commit": r.commit,
        "environment": r.environment,
        "result": r.result,
        "stale": row.stale,
        "counts": r.counts,
        "age_seconds": round(row.age),
        "head": r.head,
        "newest_head": row.newest_head,
        "behind": row.behind,
        "exit_code": r.exit_code,
        "duration": r.duration,
        "noop": r.noop,
        "pending_changes": r.pending_changes,
        "bucket": r.bucket,
        "wave": r.wave,
        "disabled": r.disabled,
        "held": r.held,
        "interval": r.interval,
        "messages": r.messages,
        "gitpuppet_version": r.gitpuppet_version,
        "failures": [
            {"ref": f.ref, "message": f.message, "file": f.file, "line": f.line} for f in r.failures
        ],
        "facts": r.facts,
        "facts_note": r.facts_note,
    }
