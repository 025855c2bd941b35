"""The halt check's cost and failure modes (SPEC §10, issue 10 item 3): the halt markers are
listed once per run however many due commits are halted, a run compiles while they arrive and
decides again when they hold its commit, and a halt server that never answers holds the commit
(fail closed) after a bounded wait instead of hanging the run."""

from __future__ import annotations

import dataclasses
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from gitpuppet.agent import staging
from gitpuppet.agent.pulling import pull, settle
from gitpuppet.agent.run import open_node_repo, run_once
from gitpuppet.agent.staging import HaltCheck, choose_commit, halt_reader
from gitpuppet.config import load_config
from gitpuppet.rollout.plan import bucket
from gitpuppet.state import load_state
from tests.integration.fleetsim import make_control_repo, make_node, make_reports_repo
from tests.integration.gitservers import GitDaemon, git

pytestmark = pytest.mark.integration
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

WAVES = """\
rollout:
  waves:
    - {percent: 1, after: 0m}
    - {percent: 100, after: 0m}
  halt_after_failures: 1
"""


class CountingProxy:
    """127.0.0.1:port forwarding to `target` (None: accept and never answer), counting connections."""

    def __init__(self, target: int | None) -> None:
        self.target = target
        self.connections = 0
        self.held: list[socket.socket] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            if self.target is None:
                self.held.append(client)  # a blackhole: the connection stays silent
                continue
            server = socket.create_connection(("127.0.0.1", self.target))
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()
        for s in self.held:
            s.close()


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


@pytest.fixture
def fleet(tmp_path: Path):  # type: ignore[no-untyped-def]
    target = tmp_path / "target"
    control, work = make_control_repo(tmp_path, target)
    base = _commit(work, "gitpuppet.yaml", WAVES, "rollout settings")
    reports = make_reports_repo(tmp_path / "reports" / "reports.git")
    daemon = GitDaemon(tmp_path / "reports")
    daemon.start()
    yield tmp_path, target, control, work, base, reports, daemon
    daemon.stop()


def test_markers_are_listed_once_however_many_due_commits_are_halted(fleet) -> None:  # type: ignore[no-untyped-def]
    tmp_path, _target, control, work, base, reports, daemon = fleet
    proxy = CountingProxy(daemon.port)
    node = make_node(
        tmp_path / "nodes",
        _later_wave_name(),
        control,
        {"repo": f"git://127.0.0.1:{proxy.port}/reports.git"},
    )
    assert node.run().returncode == 2
    config = load_config(node.config)
    halted = [_commit(work, f"notes/{i}.txt", f"{i}\n", f"change {i}") for i in range(3)]
    for commit in halted:
        _marker(reports, commit, _canary())
    repo = open_node_repo(config)
    head = repo.fetch().head
    proxy.connections = 0
    decision = choose_commit(repo, head, node.name, config, failures_on=halt_reader(config))
    assert decision.commit == base  # every newer commit is halted: it stays
    assert decision.held and "halted" in decision.held, decision
    assert proxy.connections == 1  # one advertisement for the three commits, not one each
    proxy.close()


def test_a_run_that_guessed_wrong_applies_nothing_of_the_halted_commit(fleet) -> None:  # type: ignore[no-untyped-def]
    tmp_path, target, control, work, base, reports, daemon = fleet
    node = make_node(
        tmp_path / "nodes",
        _later_wave_name(),
        control,
        {"repo": f"git://127.0.0.1:{daemon.port}/reports.git"},
    )
    assert node.run().returncode == 2
    bad_class = f'resources:\n  - file: {target}/halted-marker\n    content: "x\\n"\n'
    bad = _commit(work, "classes/good.yaml", bad_class, "a change canaries failed on")
    _marker(reports, bad, _canary())
    config = load_config(node.config)
    repo = open_node_repo(config)
    pulled = pull(repo, config, node.name, halts=HaltCheck(config))
    assert pulled.candidate == bad  # the guess: no halt, so the run compiles it meanwhile
    settled = settle(pulled)
    assert settled is not pulled and settled.candidate == base
    assert settled.rollout is not None and "halted" in (settled.rollout.held or "")
    result = run_once(config, now=True)
    assert result.commit == base and not (target / "halted-marker").exists()
    assert load_state(node.state).applied_commit == base


def test_a_silent_halt_server_holds_the_commit_after_a_bounded_wait(
    fleet,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tmp_path, _target, control, work, base, _reports, daemon = fleet
    node = make_node(
        tmp_path / "nodes",
        _later_wave_name(),
        control,
        {"repo": f"git://127.0.0.1:{daemon.port}/reports.git"},
    )
    assert node.run().returncode == 2
    hole = CountingProxy(None)
    silent = f"git://127.0.0.1:{hole.port}/reports.git"
    config = dataclasses.replace(load_config(node.config), reports_repo=silent)
    new = _commit(work, "notes/a.txt", "a\n", "a change")
    monkeypatch.setattr(staging, "HALT_WAIT", 1.0)
    repo = open_node_repo(config)
    pulled = pull(repo, config, node.name, halts=HaltCheck(config))
    assert pulled.candidate == new
    began = time.monotonic()
    settled = settle(pulled)
    assert time.monotonic() - began < 10  # the wait, not libgit2's 120 s read timeout
    assert settled.candidate == base, settled.messages
    held = settled.rollout.held if settled.rollout else ""
    assert "no answer within 1 s" in (held or ""), held
    assert hole.connections == 1
    assert HaltCheck(config, wait=0.5).settle() is True  # nothing guessed: nothing to wait for
    hole.close()


def test_the_listing_starts_before_the_fetch_only_where_the_halt_applied_last_time(fleet) -> None:  # type: ignore[no-untyped-def]
    tmp_path, _target, control, _work, base, _reports, daemon = fleet
    proxy = CountingProxy(daemon.port)
    reports = {"repo": f"git://127.0.0.1:{proxy.port}/reports.git"}
    later = make_node(tmp_path / "nodes", _later_wave_name(), control, reports)
    canary = make_node(tmp_path / "nodes", _canary(), control, reports)
    connections = {}
    for node in (later, canary):
        assert node.run().returncode == 2
        config = load_config(node.config)
        repo = open_node_repo(config)
        proxy.connections = 0
        halts = HaltCheck(config)
        pulled = pull(repo, config, node.name, halts=halts)
        halts.finish()
        assert pulled.candidate == base and not halts.guessed  # nothing new: nothing to check
        connections[node.name] = proxy.connections
    # The later-wave node read the markers during its fetch (they would have been needed had
    # the fetch brought a new commit); the canary, which the halt never holds, did not.
    assert connections == {later.name: 1, canary.name: 0}
    proxy.close()


def test_a_damaged_local_reports_store_is_made_again(fleet) -> None:  # type: ignore[no-untyped-def]
    tmp_path, _target, control, work, _base, reports, daemon = fleet
    url = {"repo": f"git://127.0.0.1:{daemon.port}/reports.git"}
    node = make_node(tmp_path / "nodes", _later_wave_name(), control, url)
    assert node.run().returncode == 2
    new = _commit(work, "notes/b.txt", "b\n", "another change")
    store = node.state / "reports.git"
    for entry in ("objects", "refs"):  # libgit2 no longer opens it (a pygit2 error)
        shutil.rmtree(store / entry)
    result = run_once(load_config(node.config), now=True)
    assert result.commit == new, result.messages  # the halt check read the markers
    assert not any("reports:" in m for m in result.messages), result.messages
    assert git("rev-parse", f"refs/heads/nodes/{node.name}", cwd=reports)  # pushed again


def test_any_error_of_the_listing_holds_the_commit(
    fleet,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever the listing raises (a libgit2 error is no OSError) is a hold, never a crash."""
    from gitpuppet.agent import reports as reports_module
    from gitpuppet.agent.reports import ReportsUnavailable

    tmp_path, _target, control, _work, _base, _reports, daemon = fleet
    url = {"repo": f"git://127.0.0.1:{daemon.port}/reports.git"}
    config = load_config(make_node(tmp_path / "nodes", "n.example.com", control, url).config)

    def broken(*_args: object, **_kwargs: object) -> dict[str, list[str]]:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(reports_module, "halt_markers", broken)
    check = HaltCheck(config)
    assert check.guess("c" * 40) == []
    with pytest.raises(ReportsUnavailable, match="RuntimeError: unexpected"):
        check.answer("c" * 40)
    assert check.settle() is False
