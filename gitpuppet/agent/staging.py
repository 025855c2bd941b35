"""The agent's side of the rollout (SPEC §10): the applied commit, the rollout's choice for a
pull (verifying each commit once under `verify`), the halt markers' reader, `--branch` names."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from gitpuppet.config import AgentConfig
from gitpuppet.errors import GitpuppetError
from gitpuppet.git.repo import NodeRepo
from gitpuppet.git.seen import Seen
from gitpuppet.git.verify import verify_commit
from gitpuppet.rollout.choose import choose
from gitpuppet.rollout.plan import Decision, FailuresOn, bucket
from gitpuppet.state import load_state


class BadBranch(GitpuppetError):
    """`run --branch` was given something that is not a branch name (exit 1)."""


def applied_commit(config: AgentConfig, repo: NodeRepo) -> str | None:
    """The commit last applied here (state.json, else the clone's mark): the fallback."""
    return load_state(config.state_dir).applied_commit or repo.marked("applied")


def choose_commit(
    repo: NodeRepo,
    head: str,
    node: str,
    config: AgentConfig,
    *,
    failures_on: FailuresOn | None = None,
    now: float | None = None,
    trusted: Callable[[str], bool] | None = None,
    pending: list[str] | None = None,
) -> Decision:
    """The rollout's choice (SPEC §10): the newest commit due for this node's wave and not
    halted (`failures_on(commit)` names the nodes that failed on it), else the applied one.

    Raises RolloutSettingsError when the head's rollout settings are invalid."""
    return choose(
        repo,
        head,
        node,
        applied_commit(config, repo),
        now=time.time() if now is None else now,
        failures_on=failures_on,
        trusted=trusted,
        pending=pending,
    )


def halt_reader(config: AgentConfig) -> FailuresOn | None:
    """`failures_on(commit)` from the reports repository, if the node has one."""
    if config.reports_repo is None:
        return None
    from gitpuppet.agent.reports import failures_on  # pygit2 transports: only when asked

    return lambda commit: list(failures_on(config, commit))


def decide_for_pull(
    repo: NodeRepo,
    config: AgentConfig,
    node: str,
    head: str,
    waiting: list[str],
    seen: dict[str, Seen],
    ignore_rollout: str | None,
    now: float | None,
    failures_on: FailuresOn | None,
) -> Decision:
    """The rollout's decision, verifying commits (once each) under `verify`."""
    if ignore_rollout:
        return Decision(head, head, bucket(node), None)
    signers = config.verify_allowed_signers
    trusted = None
    if signers is not None:
        checked: dict[str, bool] = {}

        def trusted(commit: str) -> bool:
            if commit not in checked:
                first = seen[commit].first_seen if commit in seen else time.time()
                checked[commit] = verify_commit(repo.repo, commit, signers, seen_at=first).ok
            return checked[commit]

    reader = failures_on if failures_on is not None else halt_reader(config)
    return choose_commit(
        repo, head, node, config, failures_on=reader, now=now, trusted=trusted, pending=waiting
    )


def due_line(decision: Decision) -> str:
    when = decision.due_at
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(when)) if when else "later"
    return f"wave {decision.wave}: {(decision.pending or decision.head)[:12]} is due {stamp}"


def check_branch(name: str) -> None:
    """Refuse a `--branch` that is not a plain branch name (it goes into a fetch refspec)."""
    from gitpuppet.config_values import Problem, _branch

    try:
        _branch(name, Path("."))
    except Problem as exc:
        raise BadBranch(f"--branch: {exc}", "give a branch name such as staging") from None
