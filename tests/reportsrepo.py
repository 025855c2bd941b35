"""Tests' side of the reports-repo contract (SPEC §11): node branches written with pygit2.

`summary()` builds a summary.json in the contract's shape; `write_node()` commits a node's files
to `refs/heads/nodes/<name>` of a (bare) repository directly, the way a node's push leaves them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pygit2

SIG = pygit2.Signature("node", "node@example.com")
RESULTS = {0: "unchanged", 2: "changed", 4: "failed", 6: "failed", 1: "failed", 3: "skipped"}


def summary(
    name: str,
    exit_code: int = 0,
    commit: str | None = "a" * 40,
    head: str | None = None,
    ago: float = 60.0,
    now: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A summary.json as a node writes it; `ago` seconds before `now` (default: the clock)."""
    when = (now or datetime.now(UTC)) - timedelta(seconds=ago)
    data: dict[str, Any] = {
        "node": name,
        "environment": "production",
        "commit": commit,
        "head": head if head is not None else commit,
        "last_run": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration": 1.5,
        "exit_code": exit_code,
        "result": RESULTS.get(exit_code, "failed"),
        "noop": False,
        "pending_changes": 0,
        "counts": {
            "total": 10,
            "changed": 0,
            "failed": 0,
            "skipped": 0,
            "out_of_sync": 0,
            "restarted": 0,
        },
        "bucket": 7,
        "wave": 1,
        "disabled": None,
        "interval": 1800,
        "messages": [],
        "held": None,
        "gitpuppet_version": "0.1.0",
    }
    data.update(extra)
    return data


def open_repo(path: Path) -> pygit2.Repository:
    """The bare repository at `path`, created when missing."""
    if (path / "HEAD").exists():
        return pygit2.Repository(str(path))
    return pygit2.init_repository(str(path), bare=True)


def write_node(
    repo: pygit2.Repository,
    name: str,
    summary_data: Any = None,
    failures: Any = None,
    facts: Any = None,
    raw: dict[str, bytes] | None = None,
    ref: str | None = None,
) -> str:
    """Commit the node's files on `nodes/<name>` (JSON of each given value; `raw` as bytes)."""
    files: dict[str, bytes] = {}
    for fname, value in (
        ("summary.json", summary_data),
        ("failures.json", failures),
        ("facts.json", facts),
    ):
        if value is not None:
            files[fname] = json.dumps(value).encode()
    files.update(raw or {})
    tb = repo.TreeBuilder()
    for fname, data in files.items():
        tb.insert(fname, repo.create_blob(data), pygit2.GIT_FILEMODE_BLOB)
    refname = ref or f"refs/heads/nodes/{name}"
    parents = [repo.references[refname].target] if refname in repo.references else []
    oid = repo.create_commit(refname, SIG, SIG, f"report of {name}", tb.write(), parents)
    return str(oid)
