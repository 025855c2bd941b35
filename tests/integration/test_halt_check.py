"""The halt check's cost and failure modes (SPEC §10, issue 10 item 3): the halt markers are
listed once per run however many due commits are halted, a run compiles while they arrive and
decides again when they hold its commit, and a halt server that never answers holds the commit
(fail closed) after a bounded wait instead of hanging the run."""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitpuppet.agent import staging
from gitpuppet.agent.pulling import pull, settle
from gitpuppet.agent.run import open_node_repo, run_once
from gitpuppet.agent.staging import HaltCheck, choose_commit, halt_reader
from gitpuppet.config import load_config
from gitpuppet.rollout.plan import bucket
from gitpuppet.state import load_state
from tests.integration.fleetsim import Node, make_control_repo, make_node, make_reports_repo
from tests.integration.gitservers import CountingProxy, GitDaemon, git

pytestmark = pytest.mark.integration
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

WAVES = """\
rollout:
  waves:
    - {percent: 1, after: 0m}
    - {percent: 100, after: 0m}
  halt_after_failures: 1
"""


def _later_wave_name() -> str:
    """A node name outside wave 1 (bucket >= 1)."""
    return next(f"node-{i}.example.com" for i in range(100) if bucket(f"node-{i}.example.com"))


def _canary() -> str:
    """A node name of wave 1 (bucket 0)."""
    return next(
        f"canary-{i}.example.com" for i in range(10_000) if not bucket(f"canary-{i}.example.com")
    )


def _commit(work: Path, rel: str, text: str, message: str) -> str:
    (work / rel).parent.mkdir(parents=True, exist_ok=True)
    (work / rel).write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    git("push", "-q", "origin", "production", cwd=work)
    return git("rev-parse", "HEAD", cwd=work).strip()


def _marker(reports: Path, commit: str, node: str) -> None:
    marker = git("commit-tree", EMPTY_TREE, "-m", "failed", cwd=reports).strip()
    git("update-ref", f"refs/heads/halt/{commit}/{node}", marker, cwd=reports)


@dataclass
class Rig:
    """A control repo (rollout settings with the halt at its base commit) and a reports repo
    served by git daemon."""

    tmp: Path
    target: Path
    control: Path
    work: Path
    base: str
    reports: Path
    daemon: GitDaemon

    def node(self, name: str | None = None, port: int | None = None) -> Node:
        """A node (of a later wave unless named) whose reports go to `port` (the daemon's)."""
        url = f"git://127.0.0.1:{port or self.daemon.port}/reports.git"
        return make_node(
            self.tmp / "nodes", name or _later_wave_name(), self.control, {"repo": url}
        )


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Rig]:
    target = tmp_path / "target"
    control, work = make_control_repo(tmp_path, target)
    base = _commit(work, "gitpuppet.yaml", WAVES, "rollout settings")
    reports = make_reports_repo(tmp_path / "reports" / "reports.git")
    daemon = GitDaemon(tmp_path / "reports")
    daemon.start()
    yield Rig(tmp_path, target, control, work, base, reports, daemon)
    daemon.stop()


def test_markers_are_listed_once_however_many_due_commits_are_halted(fleet: Rig) -> None:
    proxy = CountingProxy(fleet.daemon.port)
    node = fleet.node(port=proxy.port)
    assert node.run().returncode == 2
    config = load_config(node.config)
    halted = [_commit(fleet.work, f"notes/{i}.txt", f"{i}\n", f"change {i}") for i in range(3)]
    for commit in halted:
        _marker(fleet.reports, commit, _canary())
    repo = open_node_repo(config)
    head = repo.fetch().head
    proxy.connections = 0
    decision = choose_commit(repo, head, node.name, config, failures_on=halt_reader(config))
    assert decision.commit == fleet.base  # every newer commit is halted: it stays
    assert decision.held and "halted" in decision.held, decision
    assert proxy.connections == 1  # one advertisement for the three commits, not one each
    proxy.close()


def test_a_run_that_guessed_wrong_applies_nothing_of_the_halted_commit(fleet: Rig) -> None:
    node = fleet.node()
    assert node.run().returncode == 2
    bad_class = f'resources:\n  - file: {fleet.target}/halted-marker\n    content: "x\\n"\n'
    bad = _commit(fleet.work, "classes/good.yaml", bad_class, "a change canaries failed on")
    _marker(fleet.reports, bad, _canary())
    config = load_config(node.config)
    repo = open_node_repo(config)
    pulled = pull(repo, config, node.name, halts=HaltCheck(config))
    assert pulled.candidate == bad  # the guess: no halt, so the run compiles it meanwhile
    settled = settle(pulled)
    assert settled is not pulled and settled.candidate == fleet.base
    assert settled.rollout is not None and "halted" in (settled.rollout.held or "")
    result = run_once(config, now=True)
    assert result.commit == fleet.base and not (fleet.target / "halted-marker").exists()
    assert load_state(node.state).applied_commit == fleet.base


def test_a_silent_halt_server_holds_the_commit_after_a_bounded_wait(
    fleet: Rig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    node = fleet.node()
    assert node.run().returncode == 2
    hole = CountingProxy(None)
    silent = f"git://127.0.0.1:{hole.port}/reports.git"
    config = dataclasses.replace(load_config(node.config), reports_repo=silent)
    new = _commit(fleet.work, "notes/a.txt", "a\n", "a change")
    monkeypatch.setattr(staging, "HALT_WAIT", 1.0)
    repo = open_node_repo(config)
    pulled = pull(repo, config, node.name, halts=HaltCheck(config))
    assert pulled.candidate == new
    began = time.monotonic()
    settled = settle(pulled)
    assert time.monotonic() - began < 10  # the wait, not libgit2's 120 s read timeout
    assert settled.candidate == fleet.base, settled.messages
    held = settled.rollout.held if settled.rollout else ""
    assert "no answer within 1 s" in (held or ""), held
    assert hole.connections == 1
    assert HaltCheck(config, wait=0.5).settle() is True  # nothing guessed: nothing to wait for
    hole.close()


def test_the_listing_starts_before_the_fetch_only_where_the_halt_applied_last_time(
    fleet: Rig,
) -> None:
    proxy = CountingProxy(fleet.daemon.port)
    later = fleet.node(port=proxy.port)
    canary = fleet.node(_canary(), port=proxy.port)
    connections = {}
    for node in (later, canary):
        assert node.run().returncode == 2
        config = load_config(node.config)
        repo = open_node_repo(config)
        proxy.connections = 0
        halts = HaltCheck(config)
        pulled = pull(repo, config, node.name, halts=halts)
        halts.finish()
        assert pulled.candidate == fleet.base and not halts.guessed  # nothing new: nothing to check
        connections[node.name] = proxy.connections
    # The later-wave node read the markers during its fetch (they would have been needed had
    # the fetch brought a new commit); the canary, which the halt never holds, did not.
    assert connections == {later.name: 1, canary.name: 0}
    proxy.close()


def test_a_damaged_local_reports_store_is_made_again(fleet: Rig) -> None:
    node = fleet.node()
    assert node.run().returncode == 2
    new = _commit(fleet.work, "notes/b.txt", "b\n", "another change")
    store = node.state / "reports.git"
    for entry in ("objects", "refs"):  # libgit2 no longer opens it (a pygit2 error)
        shutil.rmtree(store / entry)
    result = run_once(load_config(node.config), now=True)
    assert result.commit == new, result.messages  # the halt check read the markers
    assert not any("reports:" in m for m in result.messages), result.messages
    assert git("rev-parse", f"refs/heads/nodes/{node.name}", cwd=fleet.reports)  # pushed again


def test_any_error_of_the_listing_holds_the_commit(
    fleet: Rig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever the listing raises (a libgit2 error is no OSError) is a hold, never a crash."""
    from gitpuppet.agent import reports as reports_module
    from gitpuppet.agent.reports import ReportsUnavailable

    config = load_config(fleet.node("n.example.com").config)

    def broken(*_args: object, **_kwargs: object) -> dict[str, list[str]]:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(reports_module, "halt_markers", broken)
    check = HaltCheck(config)
    assert check.guess("c" * 40) == []
    with pytest.raises(ReportsUnavailable, match="RuntimeError: unexpected"):
        check.answer("c" * 40)
    assert check.settle() is False


def test_a_planted_link_in_place_of_the_reports_store_is_never_followed_to_delete(
    fleet: Rig,
) -> None:
    """The damaged-store repair removes state_dir/reports.git; a link planted there (pointing
    at a broken repository elsewhere) is refused, never followed: nothing outside is removed."""
    node = fleet.node()
    assert node.run().returncode == 2
    elsewhere = fleet.tmp / "precious"
    (elsewhere / "refs").mkdir(parents=True)
    (elsewhere / "HEAD").write_text("not a repository\n")
    (elsewhere / "keep.txt").write_text("mine\n")
    store = node.state / "reports.git"
    shutil.rmtree(store)
    store.symlink_to(elsewhere)
    _commit(fleet.work, "notes/c.txt", "c\n", "a change")
    result = run_once(load_config(node.config), now=True)
    assert (elsewhere / "keep.txt").read_text() == "mine\n"
    assert (elsewhere / "HEAD").read_text() == "not a repository\n"
    assert result.commit == fleet.base, result.messages  # the halt check failed: held
    assert store.is_symlink()
