"""One apply of a source tree: compile, converge, write the report, the summary and the state.

`gitpuppet apply` and the agent's run both go through `apply_tree`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitpuppet.apply.engine import ApplyOutcome, BeginHook, apply_catalog
from gitpuppet.compile import compile_catalog
from gitpuppet.compile.source import SourceTree
from gitpuppet.errors import GitpuppetError
from gitpuppet.model import Catalog, Result
from gitpuppet.report import RESULT_NAMES, build_report, write_report
from gitpuppet.resources.base import ApplyContext
from gitpuppet.state import load_state, save_state


@dataclass
class RunOutcome:
    """What one apply did: the exit code, the results and where the report went."""

    exit_code: int
    outcome: ApplyOutcome | None
    catalog: Catalog | None
    report_path: Path | None
    messages: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Counts by status (empty when nothing was applied)."""
        return self.outcome.counts if self.outcome else {}

    @property
    def results(self) -> list[Result]:
        """One result per applied resource, in apply order."""
        return self.outcome.results if self.outcome else []


def prepare_state_dir(state_dir: str | os.PathLike[str]) -> Path:
    """Create the state dir (0755: the summary is for monitoring; backups/ inside is 0700)."""
    path = Path(state_dir)
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o755)
        (path / "backups").mkdir(exist_ok=True, mode=0o700)
        if not os.access(path, os.W_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as exc:
        raise GitpuppetError(
            f"cannot use the state dir {path}: {exc.strerror or exc}",
            "run as root, or give a writable --state-dir",
        ) from exc
    return path


def apply_tree(
    tree: SourceTree,
    *,
    node: str,
    facts: dict[str, Any],
    state_dir: str | os.PathLike[str],
    noop: bool = False,
    tags: set[str] | None = None,
    want_diff: bool = False,
    commit: str | None = None,
    environment: str | None = None,
    on_result: Callable[[Result], None] | None = None,
    reports_keep: int = 100,
    messages: list[str] | None = None,
    extra_exit: int = 0,
    on_begin: BeginHook | None = None,
) -> RunOutcome:
    """Compile `tree` for `node` and converge; a compile error raises before anything changes.

    `extra_exit` is OR-ed into the exit code (the agent passes 4 when it fell back to an older
    commit); `messages` go into the report; `on_result`/`on_begin` follow the run (progress).
    """
    start = time.time()
    catalog = compile_catalog(tree, node, facts, environment)
    state_path = prepare_state_dir(state_dir)
    state = load_state(state_path)
    ctx = ApplyContext(state_path, facts, want_diff)

    def persist(pending: set[str]) -> None:
        state.pending_refreshes = sorted(pending)
        save_state(state_path, state)

    outcome = apply_catalog(
        catalog,
        ctx,
        noop=noop,
        tags=tags,
        pending_refreshes=set(state.pending_refreshes),
        on_result=on_result,
        on_begin=on_begin,
        persist_pending=None if noop else persist,
    )
    exit_code = outcome.exit_code | extra_exit
    if outcome.stopped:  # SIGTERM: say so in the report and the summary
        messages = [
            *(messages or []),
            f"{outcome.stopped}: the resources not yet applied were skipped",
        ]
    report = build_report(
        outcome,
        node=node,
        environment=environment,
        commit=commit,
        start=start,
        exit_code=exit_code,
        noop=noop,
        messages=messages,
    )
    report_path = write_report(state_path, report, keep=reports_keep)
    if not noop:
        state.pending_refreshes = sorted(outcome.pending_refreshes)
        if commit is not None:
            state.applied_commit = commit
            if not outcome.counts.get("failed"):
                state.last_good_commit = commit
    state.last_run_time = start
    state.last_run_result = RESULT_NAMES.get(exit_code, "failed")
    state.last_exit_code = exit_code
    state.node = node
    state.environment = environment
    save_state(state_path, state)
    return RunOutcome(exit_code, outcome, catalog, report_path, list(messages or []))
