"""Reports to git (issue 11 item 1) and halt markers (issue 10 item 3): simulated nodes, each
with its own name and state dir, run the real `gitpuppet run` against one control repo and push
to one reports repo served by OpenSSH sshd and git-http-backend on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitpuppet.agent.record import RunEnd
from gitpuppet.agent.reports import failures_on, publish
from gitpuppet.config import load_config
from gitpuppet.rollout.plan import bucket
from gitpuppet.state import load_state
from tests.integration.fleetsim import (
    Node,
    branch_file,
    make_control_repo,
    make_node,
    make_reports_repo,
    refs,
    run_all,
)
from tests.integration.gitservers import HttpGit, Sshd, git

pytestmark = pytest.mark.integration
HALT_SETTINGS = """\
rollout:
  waves:
    - {percent: 70, after: 0m}
    - {percent: 100, after: 0m}
  halt_after_failures: 1000
"""


@pytest.fixture
def http(tmp_path: Path) -> Iterator[HttpGit]:
    """A git-http-backend of this test's own (it is stopped mid-test)."""
    if not Path("/usr/lib/git-core/git-http-backend").exists():
        pytest.skip("git-http-backend is missing (it ships with the git package)")
    server = HttpGit(tmp_path / "served")
    server.start()
    yield server
    server.stop()


class Fleet:
    """A control repo, a reports repo under `served/`, and helpers to make nodes."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        (tmp / "served").mkdir(exist_ok=True)
        self.reports = make_reports_repo(tmp / "served" / "reports.git")
        self.control, self.work = make_control_repo(tmp, tmp / "target")

    def http_node(self, name: str, http: HttpGit, **extra: str) -> Node:
        url = f"http://127.0.0.1:{http.port}/reports.git"
        return make_node(self.tmp / "nodes", name, self.control, {"repo": url}, **extra)

    def ssh_node(self, name: str, sshd: Sshd) -> Node:
        url = f"ssh://root@127.0.0.1:{sshd.port}{self.reports}"
        reports = {"repo": url, "ssh_key": sshd.client_key}
        return make_node(
            self.tmp / "nodes", name, self.control, reports, known_hosts=sshd.known_hosts
        )

    def new_commit(self, text: str) -> str:
        (self.work / "README").write_text(text)
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "-m", text, cwd=self.work)
        git("push", "-q", "origin", "production", cwd=self.work)
        return git("rev-parse", "HEAD", cwd=self.work)

    def summary(self, node: str) -> dict:  # type: ignore[type-arg]
        return branch_file(self.reports, node, "summary.json")  # type: ignore[no-any-return]


def test_fifty_nodes_over_ssh_and_http_each_branch_holds_its_newest_summary(
    tmp_path: Path, sshd: Sshd, http: HttpGit
) -> None:
    fleet = Fleet(tmp_path)
    # Halt markers are pushed only where a later wave reads them: nodes of buckets 0-69.
    (fleet.work / "gitpuppet.yaml").write_text(HALT_SETTINGS)
    fleet.new_commit("rollout settings")
    names = [f"fail-{i}" if i % 5 == 0 else f"web-{i}" for i in range(50)]
    nodes = [
        fleet.ssh_node(n, sshd) if i % 2 else fleet.http_node(n, http) for i, n in enumerate(names)
    ]
    first = git("rev-parse", "HEAD", cwd=fleet.work)
    done = run_all(nodes)  # 50 nodes at once: concurrent pushes to one repository
    for node, proc in zip(nodes, done, strict=True):
        assert "reports:" not in proc.stderr, (node.name, proc.stderr)
        assert proc.returncode == (4 if node.name.startswith("fail") else 2), proc.stderr
    second = fleet.new_commit("second")
    stale = {n.name for n in nodes[40:]}  # these do not run again: their report stays the first
    run_all(nodes[:40])
    assert len(refs(fleet.reports, "refs/heads/nodes/")) == 50  # no report lost
    for node in nodes:
        summary = fleet.summary(node.name)
        want = first if node.name in stale else second
        assert (summary["node"], summary["commit"], summary["head"]) == (node.name, want, want)
        failed = node.name.startswith("fail")
        expected = "failed" if failed else "changed" if node.name in stale else "unchanged"
        assert summary["result"] == expected
        failures = branch_file(fleet.reports, node.name, "failures.json")
        assert [f["file"] for f in failures] == (["classes/bad.yaml"] if failed else [])
        assert branch_file(fleet.reports, node.name, "facts.json")["os"]  # real facts pushed
    config = load_config(nodes[0].config)
    counted = {n.name for n in nodes if bucket(n.name) < 70}  # the last wave pushes none
    assert {"fail-10", "fail-15"} - counted == {"fail-10", "fail-15"}  # failing, last wave
    fresh_failing = sorted(n.name for n in nodes[:40] if n.name.startswith("fail"))
    fresh_failing = [n for n in fresh_failing if n in counted]
    stale_failing = sorted(n for n in stale if n.startswith("fail") and n in counted)
    assert failures_on(config, second) == fresh_failing
    assert failures_on(config, first) == stale_failing  # one marker per node: the newest
    assert len(refs(fleet.reports, "refs/heads/halt/")) == len(fresh_failing + stale_failing)


def test_push_failure_keeps_the_exit_code_and_the_next_run_pushes_one_newest_commit(
    tmp_path: Path, http: HttpGit
) -> None:
    fleet = Fleet(tmp_path)
    node = fleet.http_node("web-1", http)
    assert node.run().returncode == 2
    pushed = git("rev-parse", "refs/heads/nodes/web-1", cwd=fleet.reports)
    http.stop()
    for _ in range(3):  # a server down for several runs
        proc = node.run()
        assert proc.returncode == 0, proc.stderr  # as if the reports repo were not configured
        assert "reports: not pushed" in proc.stderr
        assert "the run itself is not affected" in proc.stderr
    http.start()
    proc = node.run()
    assert proc.returncode == 0 and "reports:" not in proc.stderr, proc.stderr
    tip = git("rev-parse", "refs/heads/nodes/web-1", cwd=fleet.reports)
    assert tip != pushed
    # The backlog is bounded: one commit on top of the last pushed one, not one per run.
    assert git("rev-list", "--count", f"{pushed}..{tip}", cwd=fleet.reports) == "1"
    assert fleet.summary("web-1")["result"] == "unchanged"


def test_a_blackholed_reports_server_does_not_hold_the_run(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path)
    hole = socket.socket()  # listens, never accepts, never answers
    hole.bind(("127.0.0.1", 0))
    hole.listen(8)
    try:
        url = f"http://127.0.0.1:{hole.getsockname()[1]}/reports.git"
        node = make_node(tmp_path / "nodes", "web-1", fleet.control, {"repo": url})
        proc = node.run()
        config = load_config(node.config)
        began = time.monotonic()  # the push alone (the machine's load must not count)
        warnings = publish(config, RunEnd(time.time(), 0, "web-1"), load_state(node.state), "web-1")
        took = time.monotonic() - began
    finally:
        hole.close()
    assert proc.returncode == 2, proc.stderr
    assert "reports: not pushed" in proc.stderr
    assert len(warnings) == 1 and "not pushed" in warnings[0]
    assert took < 15, f"the push waited {took:.0f}s for a dead reports server"


def test_history_is_kept_short(tmp_path: Path) -> None:
    """13 runs' reports (published as the run's record does) leave at most 10 commits."""
    fleet = Fleet(tmp_path)
    node = make_node(
        tmp_path / "nodes", "web-1", fleet.control, {"repo": f"file://{fleet.reports}"}
    )
    config = load_config(node.config)
    for i in range(13):
        end = RunEnd(time.time(), 0, "web-1", facts={"run": i})
        assert publish(config, end, load_state(config.state_dir), "web-1") == []
    count = git("rev-list", "--count", "refs/heads/nodes/web-1", cwd=fleet.reports)
    assert 1 <= int(count) <= 10
    assert branch_file(fleet.reports, "web-1", "facts.json") == {"run": 12}


def test_a_disabled_run_is_reported_with_its_reason_and_the_facts_kept(
    tmp_path: Path, http: HttpGit
) -> None:
    fleet = Fleet(tmp_path)
    node = fleet.http_node("web-1", http)
    assert node.run().returncode == 2
    facts = branch_file(fleet.reports, "web-1", "facts.json")
    subprocess.run(
        [sys.executable, "-m", "gitpuppet.cli", "disable", "kernel upgrade", "--config",
         str(node.config)],
        check=True, capture_output=True,
    )  # fmt: skip
    assert node.run().returncode == 3
    summary = fleet.summary("web-1")
    assert summary["result"] == "skipped" and summary["disabled"] == "kernel upgrade"
    assert summary["commit"] == git("rev-parse", "HEAD", cwd=fleet.work)
    assert branch_file(fleet.reports, "web-1", "facts.json") == facts


def test_a_failed_fetch_is_reported_and_the_applied_commit_named(
    tmp_path: Path, http: HttpGit
) -> None:
    fleet = Fleet(tmp_path)
    node = fleet.http_node("web-1", http)
    assert node.run().returncode == 2
    applied = git("rev-parse", "HEAD", cwd=fleet.work)
    fleet.control.rename(fleet.control.with_name("gone.git"))  # the control repo is unreachable
    assert node.run().returncode == 4
    summary = fleet.summary("web-1")
    assert summary["result"] == "failed" and summary["commit"] == applied
    assert summary["head"] is None and any("pull failed" in m for m in summary["messages"])
    assert refs(fleet.reports, "refs/heads/halt/") == []  # no commit was tried: no halt marker


def test_a_node_name_cannot_write_another_nodes_branch(tmp_path: Path, http: HttpGit) -> None:
    """Attack: a node name holding refspec syntax must not push over `victim`'s branch."""
    fleet = Fleet(tmp_path)
    victim = fleet.http_node("victim", http)
    assert victim.run().returncode == 2
    before = git("rev-parse", "refs/heads/nodes/victim", cwd=fleet.reports)
    for i, evil in enumerate(("x:refs/heads/nodes/victim", "../nodes/victim", "a/../../victim")):
        node = fleet.http_node(f"evil{i}", http, node_name=evil)
        proc = node.run()
        assert "cannot be used as a git branch name" in proc.stderr, proc.stderr
    assert git("rev-parse", "refs/heads/nodes/victim", cwd=fleet.reports) == before
    assert refs(fleet.reports, "refs/heads/") == ["refs/heads/nodes/victim"]


def test_sensitive_titles_and_url_credentials_never_reach_the_reports_repo(
    tmp_path: Path, http: HttpGit
) -> None:
    secret, token = "TopSecretCmd4242", "ghp_FleetToken9876xyz"
    fleet = Fleet(tmp_path)
    (fleet.work / "nodes.yaml").write_text("default:\n  classes: [leaky]\n")
    (fleet.work / "classes/leaky.yaml").write_text(
        f'resources:\n  - exec: "echo {secret}; echo https://{token}@example.com/x; exit 3"\n'
        "    shell: true\n    sensitive: true\n"
        f'  - exec: "echo https://{token}@example.com/y; exit 3"\n'
        "    shell: true\n"
    )
    commit = fleet.new_commit("leaky")
    dead = f"http://{token}@127.0.0.1:9/control.git"  # a mirror that fails, quoted in messages
    node = make_node(
        tmp_path / "nodes",
        "web-1",
        fleet.control,
        {"repo": f"http://127.0.0.1:{http.port}/reports.git"},
    )
    text = node.config.read_text().replace(
        f'repo: "file://{fleet.control}"', f'repo: ["{dead}", "file://{fleet.control}"]'
    )
    node.config.write_text(text)
    assert node.run().returncode == 4
    failures = branch_file(fleet.reports, "web-1", "failures.json")
    assert len(failures) == 2
    pushed = git("log", "-p", "--all", cwd=fleet.reports)
    pushed += git("for-each-ref", cwd=fleet.reports)
    assert commit in pushed
    assert secret not in pushed and token not in pushed
    assert "***" in pushed
