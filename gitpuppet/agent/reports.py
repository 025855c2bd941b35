"""Reports to git (SPEC §11): after every run, the node's summary, failures and facts on its
own branch of the reports repository, and a halt marker when its run of a commit failed.

The layout is the reports-repo contract: `refs/heads/nodes/<node>` whose tip tree holds
`summary.json`, `failures.json` and `facts.json` (at most HISTORY commits, then a new root), and
`refs/heads/halt/<commit>/<node>` (an empty-tree commit saying the wave and why). With
`reports.shards` N > 1 the URL holds `{shard}`: a node's branch lives in shard
`int(sha256(node).hexdigest()[:8], 16) % N`, and every halt marker in the `{shard}` = `halt` one,
so reading the markers never downloads the advertisement of thousands of node branches.

Nothing here fails a run: a push that does not go through is a warning, and the next run pushes
its own (newer) summary instead. Every text leaves through the redaction helpers.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitpuppet import __version__
from gitpuppet.agent.disable import disabled
from gitpuppet.agent.reports_git import (
    ReportsUnavailable,
    commit_summary,
    halt_ref,
    list_refs,
    node_ref,
    open_store,
    plan_push,
    push,
    set_halt_marker,
)
from gitpuppet.config import AgentConfig
from gitpuppet.model import Result, Status
from gitpuppet.redact import redact_url, redact_value
from gitpuppet.report import RESULT_NAMES
from gitpuppet.state import State

if TYPE_CHECKING:
    from gitpuppet.agent.record import RunEnd

__all__ = [
    "ReportsUnavailable",
    "failures_on",
    "halt_markers",
    "publish",
    "shard_of",
    "urls_for",
]

COUNT_KEYS = ("total", "changed", "failed", "skipped", "out_of_sync", "restarted")
HALT_SHARD = "halt"
HALT_PREFIX = "refs/heads/halt/"
_COMMIT_ID = re.compile(r"[0-9a-f]{40}")


def shard_of(node: str, shards: int) -> int:
    """The shard of a node's branch (the contract's formula, as an operator computes it)."""
    return int(hashlib.sha256(node.encode()).hexdigest()[:8], 16) % shards


def bucket_of(node: str) -> int:
    """The rollout bucket of SPEC §10 (0..99), for the summary when the rollout gave none."""
    return int(hashlib.sha256(node.encode()).hexdigest()[:8], 16) % 100


@dataclass(frozen=True, slots=True)
class ReportsUrls:
    """Where a node's branch goes and where the halt markers live (the same URL unsharded)."""

    node: str
    halt: str


def urls_for(config: AgentConfig, node: str) -> ReportsUrls:
    """The reports URLs for `node` under `config` (ReportsUnavailable without `reports:`)."""
    url = config.reports_repo
    if url is None:
        raise ReportsUnavailable("no reports repository is configured", "add reports: {repo: URL}")
    if config.reports_shards <= 1:
        return ReportsUrls(url, url)
    shard = str(shard_of(node, config.reports_shards))
    return ReportsUrls(url.replace("{shard}", shard), url.replace("{shard}", HALT_SHARD))


# -- what is written ------------------------------------------------------------------------


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _results(end: RunEnd) -> list[Result]:
    return end.outcome.results if end.outcome else []


def build_summary(config: AgentConfig, end: RunEnd, state: State, node: str) -> dict[str, Any]:
    """summary.json of the contract, every text redacted."""
    counts = end.outcome.counts if end.outcome else {}
    off = disabled(config.state_dir) if end.disabled else None
    commit = state.applied_commit or (None if end.noop else end.commit)
    pending = sum(r.status == Status.WOULD_CHANGE for r in _results(end)) if end.noop else 0
    return {
        "node": node,
        "environment": end.environment or config.branch,
        "commit": commit,
        "head": end.head,
        "last_run": _iso(end.started),
        "duration": round(max(time.time() - end.started, 0.0), 3),
        "exit_code": end.exit_code,
        "result": RESULT_NAMES.get(end.exit_code, "failed"),
        "noop": end.noop,
        "pending_changes": pending,
        "counts": {k: int(counts.get(k, 0)) for k in COUNT_KEYS},
        "bucket": end.bucket if end.bucket is not None else bucket_of(node),
        "wave": end.wave,
        "disabled": redact_url(off.reason) if off else ("disabled" if end.disabled else None),
        "interval": config.interval,
        "messages": [redact_url(m) for m in end.messages],
        "held": redact_url(end.held) if end.held else None,
        "gitpuppet_version": __version__,
    }


def build_failures(end: RunEnd) -> list[dict[str, Any]]:
    """failures.json: the failed resources (a sensitive one by its label) and their messages."""
    out = []
    for r in _results(end):
        if r.status != Status.FAILED:
            continue
        res = r.resource
        out.append(
            {
                "ref": redact_url(res.label if res else str(r.ref)),
                "message": r.message,  # redacted where the applier settled it
                "file": res.pos.file if res else None,
                "line": res.pos.line if res else None,
            }
        )
    return out


def failed_commit(end: RunEnd) -> str | None:
    """The commit this run failed on (compile error, or failed resources), else None."""
    tried = end.tried
    if tried is None or end.disabled:
        return None
    if end.commit != tried:
        return tried  # it did not compile (or apply): the run fell back or applied nothing
    failed = bool(end.outcome and end.outcome.counts.get("failed"))
    return tried if failed and not end.noop else None


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=1, sort_keys=True, default=str) + "\n").encode()


# -- publishing -----------------------------------------------------------------------------


def publish(config: AgentConfig, end: RunEnd, state: State, node: str | None) -> list[str]:
    """Commit this run's report and push it (and the halt marker); returns warnings."""
    if config.reports_repo is None:
        return []
    if not node:
        return ["reports: not pushed: this node's name is not known yet"]
    try:
        urls = urls_for(config, node)
        repo = open_store(Path(config.state_dir))
        summary = build_summary(config, end, state, node)
        files: dict[str, bytes | None] = {
            "summary.json": _json(summary),
            "failures.json": _json(build_failures(end)),
            "facts.json": _json(redact_value(end.facts)) if end.facts is not None else None,
        }
        commit_summary(repo, node, files, f"{node}: {summary['result']} at {summary['last_run']}")
        _update_halt_marker(repo, end, node, summary)
    except (ReportsUnavailable, OSError, ValueError) as exc:
        return [f"reports: not recorded: {redact_url(str(exc))}"]
    except Exception as exc:  # pygit2 errors on a damaged local store must not end the run
        return [f"reports: not recorded: {type(exc).__name__}: {redact_url(str(exc))}"]
    return _push_all(repo, config, urls)


def _update_halt_marker(repo: Any, end: RunEnd, node: str, summary: Mapping[str, Any]) -> None:
    """One marker per node: for the commit this run failed on; dropped once it applied another
    commit without failing; else left as it was (a disabled run, a fetch failure, noop).

    Only where a later wave reads it: not without `halt_after_failures`, not from the last
    wave, so the halt shard holds the failing nodes of earlier waves and nothing else."""
    failed = failed_commit(end)
    if failed is not None and not end.counted:
        set_halt_marker(repo, node, None, "")  # one it left before, when it still counted
        return
    if failed is not None:
        why = "; ".join(summary["messages"][-1:]) or f"{summary['counts']['failed']} failed"
        message = f"halt: {node} failed on {failed}\n\nwave: {summary['wave']}\nreason: {why}\n"
        set_halt_marker(repo, node, failed, message)
        return
    applied = end.commit
    if applied is not None and not end.noop and end.exit_code in (0, 2):
        marker = halt_ref(applied, node)
        if repo.references.get(marker) is None:
            set_halt_marker(repo, node, None, "")


def _push_all(repo: Any, config: AgentConfig, urls: ReportsUrls) -> list[str]:
    if urls.node == urls.halt:
        plans = [plan_push(repo, urls.node, ("refs/heads/nodes/", "refs/heads/halt/"))]
    else:
        plans = [
            plan_push(repo, urls.node, ("refs/heads/nodes/",)),
            plan_push(repo, urls.halt, ("refs/heads/halt/",)),
        ]
    warnings = []
    for plan in plans:
        try:
            push(repo, config, plan)
        except ReportsUnavailable as exc:
            warnings.append(
                f"reports: not pushed to {redact_url(plan.url)}: {exc}; "
                "the next run pushes its newer report (the run itself is not affected)"
            )
    return warnings


def failures_on(config: AgentConfig, commit: str) -> list[str]:
    """Names of the nodes whose halt marker says their run of `commit` failed.

    One ref advertisement of the halt repository (no objects fetched). [] without `reports:`;
    ReportsUnavailable when the repository cannot be read (the caller decides: hold or go).
    """
    halt_ref(commit, "x")  # checks the commit id
    return halt_markers(config).get(commit, [])


def halt_markers(config: AgentConfig, *, short_timeouts: bool = True) -> dict[str, list[str]]:
    """Every halt marker of the halt repository: {commit: [node, ...]}, read once per run.

    One ref advertisement (no objects). {} without `reports:`; ReportsUnavailable when the
    repository cannot be read. `short_timeouts` (the push's) changes libgit2's process-wide
    timeouts for the call: a caller in a thread passes False and bounds its wait itself.
    """
    if config.reports_repo is None:
        return {}
    url = urls_for(config, "x").halt
    markers: dict[str, list[str]] = {}
    for name in list_refs(config, url, HALT_PREFIX, short_timeouts=short_timeouts):
        commit, _, node = name.removeprefix(HALT_PREFIX).partition("/")
        if _COMMIT_ID.fullmatch(commit) and node:
            markers.setdefault(commit, []).append(node)
    return {commit: sorted(nodes) for commit, nodes in markers.items()}


def branch_of(node: str) -> str:
    """The node's branch name on the reports repository."""
    return node_ref(node)
