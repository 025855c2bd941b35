"""The agent's side of the rollout (SPEC §10): the applied commit, the rollout's choice for a
pull (verifying each commit once under `verify`), the halt markers' reader, `--branch` names."""

from __future__ import annotations

import threading
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


HALT_WAIT = 15.0  # seconds a run waits for the halt markers before holding (fail closed)


class HaltCheck:
    """The halt markers of the reports repository, read once per run (SPEC §10).

    `answer(commit)` is the rollout's `failures_on`: the first call lists every marker (one
    ref advertisement), later ones read that list. `guess(commit)` is the speculative reader:
    it starts the listing in a thread (unless `start()` did, before the fetch) and answers "no
    failures" at once, so the run fetches and compiles the commit it would apply while the
    markers arrive; `settle()` then says whether a guessed answer was wrong, and the run
    decides again with `answer` before it applies anything.
    """

    def __init__(self, config: AgentConfig, wait: float | None = None) -> None:
        self.config = config
        self.wait = HALT_WAIT if wait is None else wait
        self.guessed: list[str] = []
        self._thread: threading.Thread | None = None
        self._markers: dict[str, list[str]] | None = None
        self._error: Exception | None = None

    def start(self) -> None:
        """Start the listing in the background (once). The reports store it lists through is
        made here first, so the thread never creates it while the run's publish writes it."""
        if self._thread is None and self._markers is None and self._error is None:
            from gitpuppet.agent.reports_git import open_store

            try:
                open_store(Path(self.config.state_dir))
            except Exception as exc:  # handed to the run in answer()
                self._error = exc
                return
            self._thread = threading.Thread(target=self._list, name="halt-markers", daemon=True)
            self._thread.start()

    def guess(self, commit: str) -> list[str]:
        """No failures (for now); the listing starts in the background if it has not yet."""
        self.guessed.append(commit)
        self.start()
        return []

    def answer(self, commit: str) -> list[str]:
        """The nodes that failed on `commit`; ReportsUnavailable when the markers cannot be read."""
        from gitpuppet.agent.reports import ReportsUnavailable

        if self._thread is None:
            if self._markers is None and self._error is None:
                self._list(short_timeouts=True)
        else:
            self._thread.join(self.wait)
            if self._thread.is_alive():
                raise ReportsUnavailable(f"no answer within {self.wait:.0f} s")
        error = self._error
        if error is not None:
            if isinstance(error, (GitpuppetError, OSError, ValueError)):
                raise error
            raise ReportsUnavailable(f"{type(error).__name__}: {error}")  # held, never a crash
        assert self._markers is not None
        return list(self._markers.get(commit, []))

    def settle(self) -> bool:
        """True when every guessed commit really has no failures (nothing to decide again)."""
        if not self.guessed:
            return True
        try:
            return not any(self.answer(c) for c in self.guessed)
        except (GitpuppetError, OSError, ValueError):
            return False

    def finish(self) -> None:
        """Wait (at most the bounded wait) for a listing still running: the run is ending."""
        if self._thread is not None:
            self._thread.join(self.wait)

    def _list(self, short_timeouts: bool = False) -> None:
        from gitpuppet.agent.reports import halt_markers  # pygit2 transports: only when asked

        try:
            self._markers = halt_markers(self.config, short_timeouts=short_timeouts)
        except Exception as exc:  # handed to the run in answer(), never lost in the thread
            self._error = exc


def halt_reader(config: AgentConfig) -> FailuresOn | None:
    """`failures_on(commit)` from the reports repository, if the node has one."""
    if config.reports_repo is None:
        return None
    return HaltCheck(config).answer


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
