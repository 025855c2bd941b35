"""After every agent run, whatever its outcome: the run record in state.json, and the metrics.

A run that applied something has its report, summary and state written by the apply itself;
this adds what only the agent knows: when the node last converged to the branch head (for
`gitpuppet_last_success_timestamp_seconds`), and a record of runs that applied nothing.
"""

from __future__ import annotations

import errno
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from gitpuppet.atomic import StateWriteError
from gitpuppet.config import AgentConfig
from gitpuppet.metrics import RunMetrics, write_metrics
from gitpuppet.report import RESULT_NAMES
from gitpuppet.session import RunOutcome
from gitpuppet.state import State, load_state, save_state

SUCCESS_CODES = (0, 2)


@dataclass(frozen=True, slots=True)
class RunEnd:
    """How a run ended, as far as the record needs it."""

    started: float
    exit_code: int
    node: str | None = None
    commit: str | None = None  # the commit this run applied (None: nothing applied)
    outcome: RunOutcome | None = None
    fell_back: bool = False
    noop: bool = False
    disabled: bool = False
    # For the reports repository (agent/reports.py): what the run saw and tried.
    head: str | None = None  # the branch head fetched (None: the fetch failed)
    tried: str | None = None  # the commit the run set out to apply (None: none was offered)
    facts: dict[str, Any] | None = None
    messages: list[str] = field(default_factory=list)
    environment: str | None = None  # the branch applied, when not the config's
    bucket: int | None = None  # the rollout's, when it said
    wave: int | None = None
    held: str | None = None  # why the rollout holds this node
    counted: bool = True  # a failure here counts toward a later wave's halt (its marker is read)


def record_run(config: AgentConfig, end: RunEnd) -> list[str]:
    """Update state.json and write the metrics; returns warnings (never raises for them)."""
    warnings: list[str] = []
    try:
        state = _update_state(config, end)
    except (OSError, StateWriteError) as exc:
        warnings.append(f"cannot record the run in {config.state_dir}: {exc}")
        state = load_state(config.state_dir)
    metrics = config.metrics_file
    if metrics is not None:
        try:
            write_metrics(metrics, metrics_for(config, end, state))
        except StateWriteError as exc:
            if exc.errno == errno.ENOENT and not metrics.parent.is_dir():
                warnings.append(
                    f"metrics not written: the folder {metrics.parent} does not exist (yet)"
                )
            else:
                warnings.append(f"cannot write the metrics file {metrics}: {exc.reason}")
    if config.reports_repo is not None:
        from gitpuppet.agent.reports import publish

        warnings.extend(publish(config, end, state, end.node or config.node_name or state.node))
    return warnings


def record_run_quietly(config: AgentConfig, end: RunEnd) -> None:
    """`record_run` for a run that ends in an exception: warnings go to stderr."""
    for warning in record_run(config, end):
        print(f"warning: {warning}", file=sys.stderr)


def _update_state(config: AgentConfig, end: RunEnd) -> State:
    state = load_state(config.state_dir)
    if end.disabled:
        return state  # a skipped run leaves the last run's record as it was
    if end.commit is None:
        # Nothing applied (compile error with nothing to fall back to, no clone, ...): the
        # apply wrote nothing, so `gitpuppet status` would still show the run before.
        state.last_run_time = end.started
        state.last_run_result = RESULT_NAMES.get(end.exit_code, "failed")
        state.last_exit_code = end.exit_code
        state.node = end.node or state.node
        state.environment = config.branch
    elif end.exit_code in SUCCESS_CODES and not end.noop and not end.fell_back:
        state.last_success_time = end.started
    else:
        return state
    if config.state_dir.is_dir():
        save_state(config.state_dir, state)
    return state


def metrics_for(config: AgentConfig, end: RunEnd, state: State) -> RunMetrics:
    """The metrics of a run that ended as `end`, with what state.json remembers."""
    results = end.outcome.results if end.outcome else []
    counts = end.outcome.counts if end.outcome else {}
    return RunMetrics(
        timestamp=end.started,
        duration=max(time.time() - end.started, 0.0),
        exit_code=end.exit_code,
        statuses=dict(Counter(r.status.value for r in results)),
        refreshed=counts.get("restarted", 0),
        commit=state.applied_commit,
        node=end.node or config.node_name or state.node,
        environment=config.branch,
        last_success=state.last_success_time,
        fell_back=end.fell_back,
        noop=end.noop,
        disabled=end.disabled,
    )
