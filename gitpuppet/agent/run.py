"""One agent run (SPEC §7.2): lock, disabled?, splay, fetch, choose, verify, compile+apply, record.

Whatever goes wrong upstream (server gone, clone broken, bad signature, an offered commit that
would move the node backwards, any compile failure of the new commit), the machine is converged
to the commit already applied (never an older "last good" one: an outage must not roll a node
back) and the exit code carries 4.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitpuppet.agent.commit import commit_source, compile_commit, has_module_record, mark_applied
from gitpuppet.agent.disable import RunDisabled
from gitpuppet.agent.guard import refuse_if_disabled
from gitpuppet.agent.lock import run_lock
from gitpuppet.agent.pulling import Pulled, pull, settle
from gitpuppet.agent.record import RunEnd, record_run, record_run_quietly
from gitpuppet.agent.splay import splay_delay
from gitpuppet.agent.staging import (
    HaltCheck,
    applied_commit,
    check_branch,
    choose_commit,
    halt_reader,
)
from gitpuppet.compile.source import SourceTree
from gitpuppet.config import AgentConfig
from gitpuppet.errors import GitpuppetError
from gitpuppet.git.repo import FetchResult, NodeRepo
from gitpuppet.model import Catalog, Result
from gitpuppet.rollout.plan import Decision
from gitpuppet.session import Retention, RunOutcome, apply_tree

__all__ = ["Pulled", "applied_commit", "choose_commit", "halt_reader", "pull", "run_once"]

FALLBACK = 4  # SPEC §4.1: pull/verification/compile failed, the applied commit was applied again


class NothingApplied(GitpuppetError):
    """No commit could be applied (no clone, no good commit, compile error): exit 1."""


@dataclass
class AgentRun:
    """What `run_once` did: the exit code, the commit applied and why it was that one."""

    exit_code: int
    commit: str | None
    node: str
    messages: list[str] = field(default_factory=list)
    outcome: RunOutcome | None = None
    fetch: FetchResult | None = None
    fell_back: bool = False
    rollout: Decision | None = None

    @property
    def counts(self) -> dict[str, int]:
        """Counts by status of the apply (empty when nothing was applied)."""
        return self.outcome.counts if self.outcome else {}


def repo_path(config: AgentConfig) -> Path:
    """Where the node's own clone lives."""
    return Path(config.state_dir) / "repo.git"


def open_node_repo(config: AgentConfig) -> NodeRepo:
    """The node's clone under state_dir, set up from the config."""
    if not config.repo:
        where = config.source or "the agent config"
        raise NothingApplied(f"{where}: no 'repo' is configured", "add repo: URL, or bootstrap")
    return NodeRepo(
        repo_path(config),
        config.repo,
        config.branch,
        config.ssh_key,
        config.known_hosts,
        ca_file=config.ca_file,
    )


def resolve_node(config: AgentConfig, facts: dict[str, Any]) -> str:
    """The node name: from the config, else the FQDN fact."""
    from gitpuppet.facts import node_name_default

    name = config.node_name or node_name_default(facts)
    if not name:
        raise NothingApplied("cannot tell this node's name", "set node_name in the agent config")
    return name


def run_once(
    config: AgentConfig,
    *,
    noop: bool = False,
    now: bool = False,
    facts: dict[str, Any] | None = None,
    on_result: Callable[[Result], None] | None = None,
    on_begin: Any = None,
    sleep: Callable[[float], Any] = time.sleep,
    ignore_rollout: bool = False,
    branch: str | None = None,
    tags: set[str] | None = None,
) -> AgentRun:
    """One run; raises LockHeld/RunDisabled (exit 3) or NothingApplied (exit 1).

    `ignore_rollout` applies the head now; `branch` applies that branch's head once instead of
    the configured one (the config is not changed; never backwards holds across branches).

    Whatever the outcome (a held lock aside: that run's owner does it), the run is recorded in
    state.json and the metrics file; warnings about that land in the result's messages.
    """
    bypass = "--ignore-rollout" if ignore_rollout else None
    if branch is not None and branch != config.branch:
        check_branch(branch)
        bypass = f"--branch {branch} (the configured branch is {config.branch})"
        config = dataclasses.replace(config, branch=branch)
    with run_lock(config.lock_file):
        started = time.time()
        node = config.node_name
        pulled: Pulled | None = None
        halts = HaltCheck(config)
        try:
            facts, node = _prepare(config, facts)
            if not now:
                sleep(splay_delay(node, config.splay))
                started = time.time()  # a run's duration is its work, not its wait
            repo = open_node_repo(config)
            pulled = pull(repo, config, node, ignore_rollout=bypass, halts=halts)
            compiled = _compile_candidate(config, repo, pulled, facts)  # halt markers arrive
            settled = settle(pulled)  # decided again if the markers name a guessed commit
            if settled.candidate != pulled.candidate:
                compiled = None  # the halt holds that commit: the new choice compiles instead
            pulled = settled
            result = _apply_chosen(
                config, repo, pulled, facts, noop, on_result, on_begin, tags, compiled
            )
        except Exception as exc:
            code = exc.exit_code if isinstance(exc, GitpuppetError) else 1
            off = isinstance(exc, RunDisabled)
            seen = _seen(pulled, facts, [str(exc)])
            end = RunEnd(started, code, node, noop=noop, disabled=off, **seen)
            halts.finish()
            record_run_quietly(config, end)
            raise
        end = RunEnd(
            started,
            result.exit_code,
            result.node,
            result.commit,
            result.outcome,
            result.fell_back,
            noop,
            **_seen(pulled, facts, result.messages),
        )
        halts.finish()  # a listing the run did not need: done before the reports store is used
        result.messages.extend(record_run(config, end))
        result.rollout = pulled.rollout
        return result


def _seen(pulled: Pulled | None, facts: Any, messages: list[str]) -> dict[str, Any]:
    """What the reports repository is told besides the outcome (agent/reports.py)."""
    decision = pulled.rollout if pulled else None
    return {
        "head": pulled.head if pulled else None,
        "tried": pulled.candidate if pulled else None,
        "facts": facts if isinstance(facts, dict) else None,
        "messages": list(messages),
        "bucket": decision.bucket if decision else None,
        "wave": decision.wave if decision else None,
        "held": decision.held if decision else None,
        "counted": decision.counted if decision else True,
    }


def _prepare(config: AgentConfig, facts: dict[str, Any] | None) -> tuple[dict[str, Any], str]:
    """Refuse a disabled run; the facts and the node name."""
    refuse_if_disabled(config.state_dir)
    if facts is None:
        from gitpuppet.facts import gather_facts

        facts = gather_facts(facts_d=config.facts_d)
    return facts, resolve_node(config, facts)


Compiled = tuple[SourceTree, Catalog] | GitpuppetError


def _compile_candidate(
    config: AgentConfig, repo: NodeRepo, pulled: Pulled, facts: dict[str, Any]
) -> Compiled | None:
    """The candidate's source tree and catalog, or why it does not compile; None without one."""
    if pulled.candidate is None:
        return None
    try:
        tree = commit_source(config, repo, pulled.candidate)
        return tree, compile_commit(repo, pulled.candidate, pulled.node, facts, config.branch, tree)
    except GitpuppetError as exc:
        return exc


def _apply_chosen(
    config: AgentConfig,
    repo: NodeRepo,
    pulled: Pulled,
    facts: dict[str, Any],
    noop: bool,
    on_result: Callable[[Result], None] | None,
    on_begin: Any,
    tags: set[str] | None = None,
    compiled: Compiled | None = None,
) -> AgentRun:
    """Apply the pulled candidate (`compiled` already, when given); on trouble, the applied
    commit again with exit code 4."""
    messages = list(pulled.messages)
    fallback = applied_commit(config, repo)

    def apply(commit: str, extra: int, catalog: Catalog, tree: SourceTree) -> RunOutcome:
        return apply_tree(
            tree,
            node=pulled.node,
            facts=facts,
            state_dir=config.state_dir,
            noop=noop,
            tags=tags,
            commit=commit,
            environment=config.branch,
            on_result=on_result,
            on_begin=on_begin,
            keep=Retention.of(config),
            messages=messages,
            extra_exit=extra,
            catalog=catalog,
        )

    candidate = pulled.candidate
    if candidate is not None:
        try:
            compiled = compiled or _compile_candidate(config, repo, pulled, facts)
            if isinstance(compiled, GitpuppetError):
                raise compiled
            assert compiled is not None
            tree, catalog = compiled
            outcome = apply(candidate, 0, catalog, tree)
            mark_applied(repo, candidate, outcome, noop, config, tree)
            return AgentRun(
                outcome.exit_code, candidate, pulled.node, messages, outcome, pulled.fetch
            )
        except GitpuppetError as exc:
            messages.append(f"commit {candidate[:12]} does not compile: {exc}")
            if fallback == candidate and not has_module_record(config, candidate):
                fallback = None  # the same compile again; with modules, the ones recorded
    if fallback is None:
        raise NothingApplied(
            "; ".join(messages) or "nothing to apply",
            "no commit has ever been applied here, so there is nothing to fall back to",
        )
    messages.append(f"applied the commit already applied, {fallback[:12]}, again instead")
    try:
        tree = commit_source(config, repo, fallback, fallback=True)
        catalog = compile_commit(repo, fallback, pulled.node, facts, config.branch, tree)
        outcome = apply(fallback, FALLBACK, catalog, tree)
    except GitpuppetError as exc:
        raise NothingApplied(f"{'; '.join(messages)}; and it failed too: {exc}") from None
    mark_applied(repo, fallback, outcome, noop, config, tree)
    return AgentRun(outcome.exit_code, fallback, pulled.node, messages, outcome, pulled.fetch, True)
