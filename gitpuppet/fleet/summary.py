"""One node's report, read from its branch tip: untrusted input, checked and capped.

Every node of the fleet can write the reports repository, so a summary may be hostile: huge,
not JSON, of the wrong shape, or holding markup and terminal escapes. Reading it never raises
anything but `BadReport` (the caller skips the node with a warning); sizes are capped before a
blob is read, strings are cut to a bounded length, lists to a bounded count. Escaping for the
terminal or the page is done where the text is shown (`text.py`, `page.py`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pygit2

MAX_SUMMARY_BYTES = 64 * 1024
MAX_FAILURES_BYTES = 512 * 1024
MAX_FACTS_BYTES = 512 * 1024
MAX_TEXT = 1000  # characters of one message, reference or reason
MAX_MESSAGES = 50
MAX_FAILURES = 200
MAX_FACTS = 500  # top-level facts kept for the page
# A node name as a branch name may hold it: DNS-like, no path tricks (`..`, `/`, leading dot).
NODE_NAME = re.compile(r"^[a-z0-9_][a-z0-9_.-]{0,252}$")
SHA = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")
RESULTS = {0: "unchanged", 2: "changed", 4: "failed", 6: "failed", 1: "failed", 3: "skipped"}
COUNT_KEYS = ("total", "changed", "failed", "skipped", "out_of_sync", "restarted")
DEFAULT_INTERVAL = 30 * 60.0


class BadReport(Exception):
    """A node branch whose report cannot be shown; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed resource of the node's last run."""

    ref: str
    message: str
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class NodeReport:
    """What one node last reported (SPEC §11, the reports-repo contract)."""

    node: str
    last_run: datetime
    result: str
    exit_code: int
    environment: str | None = None
    commit: str | None = None
    head: str | None = None
    duration: float = 0.0
    noop: bool = False
    pending_changes: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    bucket: int | None = None
    wave: int | None = None
    disabled: str | None = None
    interval: float = DEFAULT_INTERVAL
    messages: list[str] = field(default_factory=list)
    held: str | None = None
    gitpuppet_version: str | None = None
    failures: list[Failure] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    facts_note: str | None = None  # why the facts are not shown (too large, not JSON)


def valid_node_name(name: str) -> bool:
    """True for a name the fleet view accepts as a node (and so as a branch `nodes/<name>`)."""
    return bool(NODE_NAME.match(name)) and ".." not in name


def read_report(
    repo: pygit2.Repository, commit: pygit2.Commit, branch_node: str, with_facts: bool = True
) -> NodeReport:
    """The report in `commit`'s tree, for the node its branch is named after; BadReport if bad.

    Without `with_facts` facts.json is not read (the terminal lines do not show facts)."""
    if not valid_node_name(branch_node):
        raise BadReport("the branch name is not a valid node name")
    tree = commit.peel(pygit2.Tree)
    raw = _json_blob(repo, tree, "summary.json", MAX_SUMMARY_BYTES, required=True)
    report = parse_report(
        branch_node, raw, _json_blob(repo, tree, "failures.json", MAX_FAILURES_BYTES)
    )
    return with_facts_of(repo, tree, report) if with_facts else report


def with_facts_of(repo: pygit2.Repository, tree: pygit2.Tree, report: NodeReport) -> NodeReport:
    """`report` with the facts of facts.json in `tree` (or the note saying why there are none)."""
    try:
        facts, note = _facts(repo, tree), None
    except BadReport as exc:
        facts, note = {}, str(exc)
    return replace(report, facts=facts, facts_note=note)


def parse_report(branch_node: str, raw: Any, failures: Any) -> NodeReport:
    """The checked report of a summary.json and failures.json as JSON gave them (no facts).

    The one gate for report data: what a branch holds and what the fleet cache holds both
    pass through it, so a cache entry is never trusted more than the git objects."""
    if not valid_node_name(branch_node):
        raise BadReport("the branch name is not a valid node name")
    if not isinstance(raw, dict):
        raise BadReport("summary.json is not a JSON object")
    node = raw.get("node")
    if node != branch_node:
        raise BadReport(f"summary.json names node {_short(node)!r}, not its branch's")
    return NodeReport(
        node=branch_node,
        last_run=_time(raw.get("last_run")),
        result=_result(raw),
        exit_code=_int(raw.get("exit_code"), "exit_code", required=True) or 0,
        environment=_opt_text(raw.get("environment"), 255),
        commit=_sha(raw.get("commit"), "commit"),
        head=_sha(raw.get("head"), "head"),
        duration=_number(raw.get("duration"), "duration") or 0.0,
        noop=raw.get("noop") is True,
        pending_changes=max(0, _int(raw.get("pending_changes"), "pending_changes") or 0),
        counts=_counts(raw.get("counts")),
        bucket=_int(raw.get("bucket"), "bucket"),
        wave=_int(raw.get("wave"), "wave"),
        disabled=_opt_text(raw.get("disabled")),
        interval=_interval(raw.get("interval")),
        messages=_texts(raw.get("messages"), MAX_MESSAGES),
        held=_opt_text(raw.get("held")),
        gitpuppet_version=_opt_text(raw.get("gitpuppet_version"), 64),
        failures=_failures(failures),
    )


def report_record(report: NodeReport) -> dict[str, Any]:
    """`report` (without facts) in summary.json's shape, with its failures: what the fleet
    cache keeps. `parse_report` of it gives `report` back."""
    r = report
    return {
        "node": r.node,
        "last_run": r.last_run.isoformat(),
        "exit_code": r.exit_code,
        "environment": r.environment,
        "commit": r.commit,
        "head": r.head,
        "duration": r.duration,
        "noop": r.noop,
        "pending_changes": r.pending_changes,
        "counts": r.counts,
        "bucket": r.bucket,
        "wave": r.wave,
        "disabled": r.disabled,
        "interval": r.interval,
        "messages": r.messages,
        "held": r.held,
        "gitpuppet_version": r.gitpuppet_version,
        "failures": [
            {"ref": f.ref, "message": f.message, "file": f.file, "line": f.line} for f in r.failures
        ],
    }


def _json_blob(
    repo: pygit2.Repository, tree: pygit2.Tree, name: str, limit: int, required: bool = False
) -> Any:
    try:
        entry = tree[name]
    except KeyError:
        if required:
            raise BadReport(f"the branch tip has no {name}") from None
        return None
    obj = repo.get(entry.id)
    if not isinstance(obj, pygit2.Blob):
        raise BadReport(f"{name} is not a file")
    if obj.size > limit:  # checked before the content is read into memory
        raise BadReport(f"{name} is {obj.size} bytes (at most {limit} are read)")
    try:
        return json.loads(obj.data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadReport(f"{name} is not valid JSON: {_short(str(exc))}") from None


def _failures(raw: Any) -> list[Failure]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise BadReport("failures.json is not a JSON list")
    out = []
    for item in raw[:MAX_FAILURES]:
        if not isinstance(item, dict):
            raise BadReport("failures.json holds an entry that is not an object")
        line = item.get("line")
        out.append(
            Failure(
                ref=_text(item.get("ref")) or "?",
                message=_text(item.get("message")),
                file=_opt_text(item.get("file"), 255),
                line=line if isinstance(line, int) and not isinstance(line, bool) else None,
            )
        )
    return out


def _facts(repo: pygit2.Repository, tree: pygit2.Tree) -> dict[str, Any]:
    raw = _json_blob(repo, tree, "facts.json", MAX_FACTS_BYTES)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BadReport("facts.json is not a JSON object")
    return {_text(k, 200): v for k, v in list(raw.items())[:MAX_FACTS]}


def _result(raw: dict[str, Any]) -> str:
    code = raw.get("exit_code")
    if isinstance(code, int) and not isinstance(code, bool) and code in RESULTS:
        return RESULTS[code]  # the contract: the result is what the exit code says
    raise BadReport(f"exit_code {_short(repr(code))} is not one of {sorted(RESULTS)}")


def _time(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise BadReport("last_run is not an ISO 8601 time")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadReport(f"last_run {_short(value)!r} is not an ISO 8601 time") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _counts(value: Any) -> dict[str, int]:
    if value is None:
        return dict.fromkeys(COUNT_KEYS, 0)
    if not isinstance(value, dict):
        raise BadReport("counts is not an object")
    out = {}
    for k in COUNT_KEYS:
        v = value.get(k)
        out[k] = v if type(v) is int and 0 <= v <= 2**53 else max(0, _int(v, "counts." + k) or 0)
    return out


def _interval(value: Any) -> float:
    seconds = _number(value, "interval")
    return seconds if seconds and seconds > 0 else DEFAULT_INTERVAL


def _int(value: Any, name: str, required: bool = False) -> int | None:
    if type(value) is int and -(2**53) <= value <= 2**53:  # the common case, first
        return value
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 2**53:
        raise BadReport(f"{name} is not an integer")
    return value


def _number(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or abs(value) > 1e12:
        raise BadReport(f"{name} is not a number")
    return float(value)


def _sha(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not SHA.match(value):
        raise BadReport(f"{name} is not a commit id")
    return value


def _text(value: Any, limit: int = MAX_TEXT) -> str:
    if type(value) is str and len(value) <= limit:  # the common case, first
        return value
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value)[:limit]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _opt_text(value: Any, limit: int = MAX_TEXT) -> str | None:
    return None if value is None else _text(value, limit)


def _texts(value: Any, limit: int) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadReport("messages is not a list")
    return [_text(v) for v in value[:limit]]


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:59] + "…"
