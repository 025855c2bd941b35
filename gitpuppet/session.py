"""One apply of a source tree: compile, converge, write the report, the summary and the state.

`gitpuppet apply` and the agent's run both go through `apply_tree`.

A file of the state dir that cannot be written (a full /var) does not end the run: the machine
is converged anyway, refreshes still due are held in memory and written again at each change and
at the end, each failure is named in the messages, and the exit code carries 4.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitpuppet.apply.engine import ApplyOutcome, BeginHook, apply_catalog
from gitpuppet.apply.tags import unknown_tag_warnings
from gitpuppet.atomic import StateWriteError, check_root_only
from gitpuppet.backup import BackupStore
from gitpuppet.compile import compile_catalog
from gitpuppet.compile.source import SourceTree, module_commits
from gitpuppet.config import DEFAULT_BACKUPS_DAYS, DEFAULT_BACKUPS_VERSIONS, AgentConfig
from gitpuppet.contract import ApplyContext
from gitpuppet.errors import GitpuppetError
from gitpuppet.model import Catalog, Result
from gitpuppet.report import RESULT_NAMES, build_report, write_report
from gitpuppet.state import load_state, save_state

FAILED = 4  # SPEC §4.1


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
    """Create the state dir (0755: the summary is for monitoring; backups/ inside is 0700).

    As root, a state dir that another user could change is refused (atomic.check_root_only)."""
    path = Path(state_dir)
    check_root_only(path)
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


@dataclass(frozen=True, slots=True)
class Retention:
    """What a run keeps: reports, unchanged resources in them, backups per path."""

    reports: int = 100
    report_unchanged: bool = False
    backup_versions: int = DEFAULT_BACKUPS_VERSIONS
    backup_days: int = DEFAULT_BACKUPS_DAYS

    @classmethod
    def of(cls, config: AgentConfig) -> Retention:
        """The retention the agent config asks for."""
        return cls(
            config.reports_keep,
            config.report_unchanged,
            config.backups_keep_versions,
            config.backups_keep_days,
        )


class _Writes:
    """Failed writes of state-dir files: each path named once in the messages."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        self.failed = False
        self._said: set[str] = set()

    def failure(self, exc: StateWriteError, what: str) -> None:
        self.failed = True
        if exc.path not in self._said:
            self._said.add(exc.path)
            self.messages.append(f"{exc} ({what})" if what else str(exc))


def apply_tree(
    tree: SourceTree,
    *,
    node: str,
    facts: dict[str, Any],
    state_dir: str | os.PathLike[str],
    noop: bool = False,
    tags: set[str] | None = None,
    want_diff: bool = True,
    commit: str | None = None,
    environment: str | None = None,
    on_result: Callable[[Result], None] | None = None,
    reports_keep: int = 100,
    messages: list[str] | None = None,
    extra_exit: int = 0,
    on_begin: BeginHook | None = None,
    keep: Retention | None = None,
    catalog: Catalog | None = None,
) -> RunOutcome:
    """Compile `tree` for `node` and converge; a compile error raises before anything changes.

    Content diffs are computed by default (`want_diff`): the report keeps them (capped), so that
    `gitpuppet report --diff` can show them after the fact.
    `extra_exit` is OR-ed into the exit code (the agent passes 4 when it fell back to an older
    commit); `messages` go into the report; `on_result`/`on_begin` follow the run (progress).
    `keep` says what to keep (default: `reports_keep` reports, unchanged resources counted only,
    the default backup retention). `catalog`: `tree` compiled already (the agent compiles first, to
    fall back on any failure).
    """
    start = time.time()
    keep = keep or Retention(reports=reports_keep)
    if catalog is None:
        catalog = compile_catalog(tree, node, facts, environment)
    state_path = prepare_state_dir(state_dir)
    state = load_state(state_path)
    ctx = ApplyContext(state_path, facts, want_diff)
    messages = messages if messages is not None else []
    messages.extend(unknown_tag_warnings(catalog.resources, tags))
    writes = _Writes(messages)

    def persist(pending: set[str]) -> None:
        # Failing here must not end the run: the set stays in memory, and the next change
        # and the end of the run write it again.
        state.pending_refreshes = sorted(pending)
        try:
            save_state(state_path, state)
        except StateWriteError as exc:
            writes.failure(exc, "refreshes due are held in memory and written again")

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
    exit_code = outcome.exit_code | extra_exit | (FAILED if writes.failed else 0)
    if not noop:
        _prune_backups(state_path, keep, writes)
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
        unchanged=keep.report_unchanged,
    )
    if module_commits(tree):
        report["modules"] = module_commits(tree)  # SPEC §9: name -> resolved commit
    files = write_report(state_path, report, keep=keep.reports)
    for exc in files.errors:
        writes.failure(exc, "the run itself is not affected")
    if writes.failed:
        exit_code |= FAILED  # what the run left is not all on disk: 4, never 0, 2 or 1
    if not noop:
        state.pending_refreshes = sorted(outcome.pending_refreshes)
        if commit is not None:
            state.applied_commit = commit
            if not outcome.counts.get("failed") and not outcome.stopped:
                state.last_good_commit = commit  # a run cut short by SIGTERM is not "good"
    state.last_run_time = start
    state.last_run_result = RESULT_NAMES.get(exit_code, "failed")
    state.last_exit_code = exit_code
    state.node = node
    state.environment = environment
    try:
        save_state(state_path, state)
    except StateWriteError as exc:
        pending = ", ".join(state.pending_refreshes)
        writes.failure(exc, f"refreshes still due and lost: {pending}" if pending else "")
        exit_code |= FAILED
    return RunOutcome(exit_code, outcome, catalog, files.path, list(messages))


def _prune_backups(state_dir: Path, keep: Retention, writes: _Writes) -> None:
    """Apply the backup retention; a failure is a message, as for any state-dir write."""
    try:
        BackupStore(state_dir).prune(keep.backup_versions, keep.backup_days * 86400.0)
    except StateWriteError as exc:
        writes.failure(exc, "old backups are pruned by a later run")
    except OSError as exc:
        writes.failure(StateWriteError.of(state_dir / "backups", exc), "pruning old backups")
