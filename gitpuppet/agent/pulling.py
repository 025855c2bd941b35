"""Fetch, choose and verify (SPEC §7.2 steps 2-4): which commit a run may apply, and why.

`pull` never raises for an upstream problem: a fetch that fails, rollout settings that do not
read, a commit that does not verify or would move the node backwards all give a None candidate
and a message, and the run converges to the applied commit. With `speculate`, the halt markers
are read in the background while the run compiles; `settle` decides again when they say so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gitpuppet.agent.splay import mirror_start
from gitpuppet.agent.staging import HaltCheck, applied_commit, decide_for_pull, due_line
from gitpuppet.config import AgentConfig
from gitpuppet.errors import GitpuppetError
from gitpuppet.git.forward import backwards
from gitpuppet.git.repo import FetchError, FetchResult, NodeRepo
from gitpuppet.git.seen import Seen, note_seen
from gitpuppet.git.verify import verify_commit
from gitpuppet.rollout.choose import RolloutSettingsError, pending_commits
from gitpuppet.rollout.plan import Decision, FailuresOn
from gitpuppet.rollout.record import load_rollout_status, save_rollout_status, status_of

__all__ = ["Pulled", "pull", "settle"]


@dataclass
class Pulled:
    """The outcome of fetch + choose + verify: the commit to apply (or None) and why."""

    node: str
    candidate: str | None
    head: str | None
    fetch: FetchResult | None
    messages: list[str] = field(default_factory=list)
    rollout: Decision | None = None
    settle: Callable[[], Pulled] | None = field(default=None, repr=False)  # see `settle()`


def pull(
    repo: NodeRepo,
    config: AgentConfig,
    node: str,
    *,
    ignore_rollout: str | None = None,
    now: float | None = None,
    failures_on: FailuresOn | None = None,
    halts: HaltCheck | None = None,
) -> Pulled:
    """Fetch, choose and verify; a failure is a message and a None candidate, never a raise.

    `ignore_rollout` (why: `--ignore-rollout`, `--branch B`) takes the head, never backwards
    all the same; `failures_on` defaults to the reports repository's halt markers. Given
    `halts` (the caller ends it: `HaltCheck.finish`), those markers are read in the background
    (from before the fetch when the last pull found the halt applies here) and the choice
    assumes no halt until `settle(pulled)` says otherwise: the run compiles meanwhile."""
    if failures_on is not None or config.reports_repo is None:
        halts = None  # no markers to read: nothing to speculate about
    if halts is not None and _halt_applied_last_time(config):
        halts.start()  # read the markers while the fetch runs: they are needed if it brings news
    try:
        fetched: FetchResult | None = repo.fetch(start=mirror_start(node, len(config.repo)))
    except FetchError as exc:
        return Pulled(node, None, None, None, [str(exc)])
    assert fetched is not None
    messages = [f"fetch: {m}" for m in fetched.messages]
    choice = _Choice(repo, config, node, fetched, messages, ignore_rollout, now)
    if failures_on is not None or config.reports_repo is None:
        return choice.make(failures_on)
    if halts is None:
        return choice.make(HaltCheck(config).answer)
    check = halts
    pulled = choice.make(check.guess)
    pulled.settle = lambda: pulled if check.settle() else choice.make(check.answer)
    return pulled


def _halt_applied_last_time(config: AgentConfig) -> bool:
    """The last pull found the automatic halt applies to this node (rollout.json says so)."""
    status = load_rollout_status(config.state_dir)
    return status is not None and status.halt


def settle(pulled: Pulled) -> Pulled:
    """The pull decided again with the real halt markers when a guess was wrong, else itself."""
    if pulled.settle is None:
        return pulled
    settled = pulled.settle()
    settled.settle = None
    return settled


@dataclass
class _Choice:
    """Everything after the fetch: the rollout's choice, the record of it, the refusals."""

    repo: NodeRepo
    config: AgentConfig
    node: str
    fetched: FetchResult
    fetch_messages: list[str]
    ignore_rollout: str | None
    now: float | None

    def make(self, failures_on: FailuresOn | None) -> Pulled:
        repo, config, node, fetched = self.repo, self.config, self.node, self.fetched
        messages = list(self.fetch_messages)
        head = fetched.head
        applied = applied_commit(config, repo)
        try:
            waiting, seen, decision = self._decide(applied, failures_on, messages)
            if decision.commit is None and decision.paused is None and repo.deepen(fetched.url):
                # A first shallow clone holds only the head, which is not due here yet: an
                # older commit of the branch may be (a new machine joining a later wave).
                messages.append("fetch: looked further back for a commit due for this node")
                waiting, seen, decision = self._decide(applied, failures_on, messages)
        except RolloutSettingsError as exc:
            return Pulled(node, None, head, fetched, [*messages, str(exc)])
        messages.extend(f"rollout: {w}" for w in decision.warnings)
        warning = save_rollout_status(
            config.state_dir, status_of(decision, node, config.branch, self.ignore_rollout)
        )
        messages.extend([warning] if warning else [])
        candidate = decision.commit
        if not waiting and not self.ignore_rollout and head != applied:
            candidate = head  # behind the applied commit: the never-backwards check says so
        if candidate is None:
            messages.append(
                f"held: nothing is due for this node yet ({decision.held or due_line(decision)})"
            )
            return Pulled(node, None, head, fetched, messages, decision)
        refusal = _refusal(repo, config, candidate, applied, seen)
        if refusal is not None:
            messages.append(refusal)
            return Pulled(node, None, head, fetched, messages, decision)
        return Pulled(node, candidate, head, fetched, messages, decision)

    def _decide(
        self, applied: str | None, failures_on: FailuresOn | None, messages: list[str]
    ) -> tuple[list[str], dict[str, Seen], Decision]:
        repo, config, head = self.repo, self.config, self.fetched.head
        waiting = [] if self.ignore_rollout else pending_commits(repo, head, applied)
        seen = _note_seen(config, repo, [head, *waiting, applied], applied, messages)
        decision = decide_for_pull(
            repo, config, self.node, head, waiting, seen, self.ignore_rollout, self.now, failures_on
        )
        return waiting, seen, decision


def _note_seen(
    config: AgentConfig,
    repo: NodeRepo,
    commits: list[str | None],
    applied: str | None,
    messages: list[str],
) -> dict[str, Seen]:
    """Record when this node first saw these commits (and their committer times)."""
    times: dict[str, int] = {}
    for commit in dict.fromkeys(c for c in commits if c):
        try:
            times[commit] = repo.commit_info(commit).committer_time
        except GitpuppetError:
            continue  # the applied commit may be gone with a broken clone
    try:
        return note_seen(Path(config.state_dir), times, keep=applied)
    except OSError as exc:
        messages.append(f"cannot record the commits seen in {config.state_dir}: {exc}")
        now = time.time()
        return {c: Seen(now, t) for c, t in times.items()}


def _refusal(
    repo: NodeRepo,
    config: AgentConfig,
    candidate: str,
    applied: str | None,
    seen: dict[str, Seen],
) -> str | None:
    """Why `candidate` must not be applied (unsigned, or backwards), or None."""
    signers = config.verify_allowed_signers
    if signers is not None:
        first = seen[candidate].first_seen if candidate in seen else time.time()
        check = verify_commit(repo.repo, candidate, signers, seen_at=first)
        if not check.ok:
            return f"{check.reason}; not applied"  # the reason names the commit
    applied_time = seen[applied].committed if applied in seen else None
    try:
        return backwards(repo, candidate, applied, applied_time, verify=signers is not None)
    except GitpuppetError as exc:
        return f"commit {candidate[:12]} cannot be read ({exc}); not applied"
