"""`gitpuppet fleet` against a reports repo on real git servers (sshd, git-http-backend).

Fifty simulated nodes, each with its own repository, push their report branches at the same time
(half over ssh, half over http) in the reports-repo contract's layout; `fleet` must then show
each one as it is: failed, stale, behind, disabled, drifting or fine, with none lost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.integration.gitservers import HttpGit, Sshd, git
from tests.reportsrepo import open_repo, summary, write_node

HEAD_NEW = "b" * 40
HEAD_OLD = "a" * 40


def fleet(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`gitpuppet fleet` as a separate process."""
    return subprocess.run(
        [sys.executable, "-m", "gitpuppet.cli", "fleet", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "GITPUPPET_CONFIG": str(config or "/nonexistent/config.yaml")},
    )


def kind_of(i: int) -> str:
    """Node i's planned state: every fifth fails, some are stale, behind, disabled or drifting."""
    return ["failed", "stale", "behind", "ok", "disabled", "drift", "ok", "changed"][i % 8]


def node_files(i: int) -> tuple[dict, list | None]:
    name = f"node{i:02d}.example.com"
    kind = kind_of(i)
    if kind == "failed":
        data = summary(name, 4, HEAD_NEW, counts={"total": 9, "failed": 2, "changed": 0})
        return data, [
            {
                "ref": "file:/etc/motd",
                "message": "permission denied",
                "file": "classes/base.yaml",
                "line": 3,
            }
        ]
    if kind == "stale":
        return summary(name, 0, HEAD_NEW, ago=3 * 1800), None
    if kind == "behind":
        return summary(name, 0, HEAD_OLD, head=HEAD_OLD, ago=300), None  # saw an old head
    if kind == "disabled":
        return summary(name, 3, HEAD_NEW, disabled="kernel upgrade"), None
    if kind == "drift":
        return summary(name, 2, HEAD_NEW, noop=True, pending_changes=4), None
    if kind == "changed":
        return summary(name, 2, HEAD_NEW), None
    return summary(name, 0, HEAD_NEW), None


def push_node(i: int, work: Path, url: str, env: dict[str, str]) -> None:
    """Node i writes its branch in its own repository and pushes it, like a node does."""
    data, failures = node_files(i)
    repo_dir = work / f"n{i}.git"
    write_node(open_repo(repo_dir), data["node"], data, failures, {"hostname": data["node"]})
    ref = f"refs/heads/nodes/{data['node']}"
    git("push", "-q", url, f"+{ref}:{ref}", cwd=repo_dir, env=env)


@pytest.fixture
def reports(git_base: Path) -> Path:
    """An empty bare reports repo under the servers' folder that takes pushes over http too."""
    path = git_base / f"reports{os.getpid()}-{os.urandom(3).hex()}.git"
    git("init", "-q", "--bare", str(path))
    git("config", "http.receivepack", "true", cwd=path)
    return path


def test_fifty_nodes_pushing_at_once_are_all_shown(
    reports: Path, sshd: Sshd, http_git: HttpGit, tmp_path: Path
) -> None:
    ssh_url = f"ssh://root@127.0.0.1:{sshd.port}{reports}"
    http_url = f"http://127.0.0.1:{http_git.port}/{reports.name}"
    ssh_env = {
        "GIT_SSH_COMMAND": f"ssh -i {sshd.client_key} -o IdentitiesOnly=yes "
        f"-o UserKnownHostsFile={sshd.known_hosts} -o StrictHostKeyChecking=yes -o BatchMode=yes"
    }
    with ThreadPoolExecutor(max_workers=10) as pool:
        jobs = [
            pool.submit(push_node, i, tmp_path, *((ssh_url, ssh_env) if i % 2 else (http_url, {})))
            for i in range(50)
        ]
        for job in jobs:
            job.result()

    done = fleet(
        "--reports-repo",
        ssh_url,
        "--ssh-key",
        str(sshd.client_key),
        "--known-hosts",
        str(sshd.known_hosts),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    nodes = {n["node"]: n for n in json.loads(done.stdout)}
    assert len(nodes) == 50
    for i in range(50):
        n = nodes[f"node{i:02d}.example.com"]
        kind = kind_of(i)
        assert n["result"] == {
            "failed": "failed",
            "disabled": "skipped",
            "drift": "changed",
            "changed": "changed",
        }.get(kind, "unchanged"), n
        assert n["stale"] is (kind == "stale"), n
        assert n["behind"] is (kind == "behind"), n
        assert (n["disabled"] == "kernel upgrade") is (kind == "disabled")
        assert n["pending_changes"] == (4 if kind == "drift" else 0)
        assert n["facts"] == {"hostname": n["node"]}
        assert n["last_run"].endswith("Z") and n["counts"]["total"] >= 9
        if kind == "failed":
            assert n["failures"][0]["message"] == "permission denied"
            assert n["newest_head"] == HEAD_NEW

    text = fleet("--reports-repo", http_url)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[-1] == "50 nodes: 7 failed, 7 stale, 6 behind, 6 disabled, 6 with pending changes"
    line = next(x for x in lines if x.startswith("node02.example.com"))
    assert "aaaaaaaaaa behind" in line
    assert "STALE" in next(x for x in lines if x.startswith("node01.example.com"))
    assert "disabled: kernel upgrade" in next(x for x in lines if x.startswith("node04."))
    assert "    file:/etc/motd: permission denied (classes/base.yaml:3)" in lines

    failed = fleet("--reports-repo", http_url, "--status", "failed", "--json")
    assert sorted(n["node"] for n in json.loads(failed.stdout)) == [
        f"node{i:02d}.example.com" for i in range(50) if kind_of(i) == "failed"
    ]
    some = fleet("--reports-repo", http_url, "--match", "node1?.example.com", "--status", "stale")
    assert some.stdout.splitlines()[-1] == "1 node: 0 failed, 1 stale, 0 behind"


def test_config_reports_repo_and_cache_under_state_dir(reports: Path, tmp_path: Path) -> None:
    """With no --reports-repo the config's reports.repo is read; the cache sits in state_dir
    and a second run only fetches what changed (a node that was deleted upstream is gone)."""
    repo = open_repo(reports)
    write_node(repo, "web1", summary("web1"))
    write_node(repo, "web2", summary("web2", 4))
    state = tmp_path / "state"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"repo: file://{reports}\nstate_dir: {state}\nreports: {{repo: file://{reports}}}\n"
    )
    first = fleet(config=config)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == "2 nodes: 1 failed, 0 stale, 0 behind"
    assert list((state / "fleet-cache").glob("*.git"))
    repo.references.delete("refs/heads/nodes/web2")
    second = fleet(config=config)
    assert second.stdout.splitlines()[-1] == "1 node: 0 failed, 0 stale, 0 behind"


def test_shards_are_all_read(git_base: Path, tmp_path: Path) -> None:
    """A URL with {shard}: each shard repository is fetched; halt markers are not nodes."""
    base = tmp_path / "shards"
    for shard, name in ((0, "a1"), (1, "b1"), (2, "c1")):
        repo = open_repo(base / f"reports-{shard}.git")
        write_node(repo, name, summary(name))
    halt = open_repo(base / "reports-halt.git")
    write_node(halt, "x", summary("x"), ref=f"refs/heads/halt/{'c' * 40}/x")
    done = fleet(
        "--reports-repo", f"file://{base}/reports-{{shard}}.git", "--shards", "3", "--json"
    )
    assert done.returncode == 0, done.stderr
    assert [n["node"] for n in json.loads(done.stdout)] == ["a1", "b1", "c1"]
    missing = fleet("--reports-repo", f"file://{base}/reports-{{shard}}.git")
    assert missing.returncode == 1 and "--shards N" in missing.stderr


def test_a_shard_that_cannot_be_fetched_is_an_error_even_under_quiet(tmp_path: Path) -> None:
    """Its nodes are missing: the view must say so, whatever the output, and exit 4."""
    base = tmp_path / "shards"
    for shard, name in ((0, "a1"), (2, "c1")):  # shard 1 is gone
        write_node(open_repo(base / f"reports-{shard}.git"), name, summary(name))
    url = f"file://{base}/reports-{{shard}}.git"
    page = tmp_path / "fleet.html"
    done = fleet("--reports-repo", url, "--shards", "3", "-q", "--html", str(page))
    assert done.returncode == 4, done.stderr
    assert "error: " in done.stderr and "reports-1.git" in done.stderr, done.stderr
    assert "missing from this view" in done.stderr
    assert "reports-1.git" in page.read_text()  # the page lists it among its warnings
    text = fleet("--reports-repo", url, "--shards", "3")
    assert text.returncode == 4
    assert text.stdout.splitlines()[-1] == (
        "2 nodes: 0 failed, 0 stale, 0 behind (and the nodes of 1 shard not fetched)"
    )


def test_unreachable_reports_repo_is_an_error_without_credentials(tmp_path: Path) -> None:
    done = fleet("--reports-repo", "http://user:s3cret@127.0.0.1:9/reports.git")
    assert done.returncode == 1
    assert "s3cret" not in done.stderr and "Traceback" not in done.stderr
    assert "no reports repository could be fetched" in done.stderr
