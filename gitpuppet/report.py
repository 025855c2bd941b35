"""Run reports (SPEC §8): one JSON file per run, and last_run_summary.json for monitoring."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gitpuppet.apply.engine import ApplyOutcome
from gitpuppet.atomic import StateWriteError
from gitpuppet.model import Change, Result, Status
from gitpuppet.redact import redact_url, shown_define
from gitpuppet.state import read_json, write_json_atomic

# What a report keeps of one change's diff and of a failed command's output: the report is read
# at 3 a.m., not a copy of the file (the backup store has the content).
DIFF_CAP = 64 * 1024
OUTPUT_CAP = 64 * 1024
# All diffs of one report together: a first converge of 10,000 new files must not write each
# file's content into every report (x reports_keep).
DIFF_BUDGET = 1024 * 1024
DIFF_SPENT = "[diff not kept: this report's 1 MiB of diffs is spent; see `gitpuppet backup diff`]"


class _DiffBudget:
    """What is left of a report's DIFF_BUDGET."""

    def __init__(self) -> None:
        self.left = DIFF_BUDGET

    def take(self, diff: str) -> str:
        kept = capped(diff, DIFF_CAP)
        if len(kept) > self.left:
            self.left = 0
            return DIFF_SPENT
        self.left -= len(kept)
        return kept


RESULT_NAMES = {0: "unchanged", 2: "changed", 4: "failed", 6: "failed", 1: "failed", 3: "skipped"}


def shown_result(result: str | None, noop: bool) -> str | None:
    """A noop run that found differences changed nothing: its result is "pending changes"."""
    return "pending changes" if noop and result == "changed" else result


def _change_json(c: Change, budget: _DiffBudget) -> dict[str, Any]:
    # Already redacted where the applier settled the result (redact.Redactor.result).
    out: dict[str, Any] = {"attribute": c.attr, "old": c.old, "new": c.new, "redacted": c.redacted}
    if c.diff:
        out["diff"] = budget.take(c.diff)
    return out


def capped(text: str, cap: int) -> str:
    """`text` cut to at most `cap` characters at a line end, with a note of what was cut."""
    if len(text) <= cap:
        return text
    keep = text.rfind("\n", 0, cap) + 1 or cap
    return text[:keep] + f"[{len(text) - keep} characters cut; the report keeps {cap} at most]\n"


def _result_json(r: Result, budget: _DiffBudget) -> dict[str, Any]:
    """One resource's entry: reference, class, source position, status, changes, message, time
    (the result comes redacted from the applier)."""
    res = r.resource
    out: dict[str, Any] = {
        "ref": res.label if res else str(r.ref),
        "class": res.klass if res else None,
        "define": shown_define(res) if res else None,
        "source": str(res.pos) if res else None,
        "file": res.pos.file if res else None,
        "line": res.pos.line if res else None,
        "status": r.status.value,
        "changes": [_change_json(c, budget) for c in r.changes],
        "message": r.message,
        "seconds": round(r.seconds, 6),
    }
    if r.refreshed:
        out["refreshed"] = True
    if r.output:
        out["output"] = capped(r.output, OUTPUT_CAP)
    return out


def build_report(
    outcome: ApplyOutcome | None,
    *,
    node: str,
    environment: str | None,
    commit: str | None,
    start: float,
    exit_code: int,
    noop: bool,
    messages: list[str] | None = None,
    unchanged: bool = False,
) -> dict[str, Any]:
    """The report of one run as plain data. Unchanged resources are only counted (`counts`)
    unless `unchanged` is true (config `report_unchanged`): a converged 100k-resource catalog
    would otherwise write tens of MB per run."""
    budget = _DiffBudget()
    return {
        "node": node,
        "environment": environment,
        "commit": commit,
        "start": datetime.fromtimestamp(start, UTC).isoformat(),
        "timestamp": round(start, 3),
        "duration": round(time.time() - start, 6),
        "exit_code": exit_code,
        "result": RESULT_NAMES.get(exit_code, "failed"),
        "noop": noop,
        "messages": [redact_url(m) for m in messages or []],
        "counts": outcome.counts if outcome else {},
        "unchanged_listed": unchanged,
        "resources": [_result_json(r, budget) for r in _listed(outcome.results, unchanged)]
        if outcome
        else [],
    }


def _listed(results: list[Result], unchanged: bool) -> list[Result]:
    """The results a report lists: all, or all but the plain unchanged ones (an unchanged
    resource with a message, a refresh note say, is kept)."""
    if unchanged:
        return results
    return [r for r in results if r.status != Status.UNCHANGED or r.message or r.refreshed]


@dataclass
class ReportFiles:
    """Where the report went (None: it could not be written) and what could not be written."""

    path: Path | None
    errors: list[StateWriteError] = field(default_factory=list)


def write_report(
    state_dir: str | os.PathLike[str], report: dict[str, Any], keep: int = 100
) -> ReportFiles:
    """Write reports/<UTC time>-<commit>.json and last_run_summary.json; prune old reports.

    Each file is tried even when another one failed (a full disk): the errors name the paths."""
    reports = Path(state_dir) / "reports"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    commit = (report.get("commit") or "local")[:12]
    path = reports / f"{stamp}-{commit}.json"
    out = ReportFiles(path)
    try:
        write_json_atomic(path, report, compact=True)  # thousands of entries: the C encoder
    except StateWriteError as exc:
        out.errors.append(exc)
        out.path = None
    _prune(reports, keep)
    try:
        write_json_atomic(Path(state_dir) / "last_run_summary.json", summary_of(report), mode=0o644)
    except StateWriteError as exc:
        out.errors.append(exc)
    return out


def _prune(reports: Path, keep: int) -> None:
    """Keep the newest `keep` reports (unlink never follows a link)."""
    if keep <= 0:
        return
    try:
        for old in sorted(reports.glob("*.json"))[:-keep]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # pruning is tried again by the next run


def summary_of(report: dict[str, Any]) -> dict[str, Any]:
    """last_run_summary.json: the report without its resources."""
    return {
        "time": report["start"],
        "timestamp": report.get("timestamp"),
        "duration": report["duration"],
        "commit": report["commit"],
        "node": report["node"],
        "environment": report["environment"],
        "noop": report["noop"],
        "result": report["result"],
        "counts": report["counts"],
        "exit_code": report["exit_code"],
        "messages": report["messages"],
    }


def list_reports(
    state_dir: str | os.PathLike[str], last: int | None = None
) -> list[dict[str, Any]]:
    """Stored reports, newest first."""
    paths = sorted((Path(state_dir) / "reports").glob("*.json"), reverse=True)
    if last is not None:
        paths = paths[:last]
    out = []
    for p in paths:
        try:
            data = read_json(p)
        except (OSError, ValueError):
            continue  # a report being pruned, damaged, or a planted link: the others still count
        if isinstance(data, dict):
            data["_path"] = str(p)
            out.append(data)
    return out
