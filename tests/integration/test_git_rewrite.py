"""A branch rewritten (force-pushed) on the server is followed over every transport.

Reproduces issue 8 item 4: over file:// the node's compacted clone was left with a head whose
parent never arrived (no `shallow` entry), and a branch reset to an older commit wedged every
later fetch with `target OID for the reference doesn't exist`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitpuppet.git import salvage
from gitpuppet.git.repo import NodeRepo
from tests.integration.gitservers import Upstream, git

TRANSPORTS = ["file", "git", "http", "ssh"]


def _node(request: pytest.FixtureRequest, transport: str, up: Upstream, path: Path) -> NodeRepo:
    """A node clone of `up` over `transport`, served by the session's test servers."""
    if transport == "file":
        return NodeRepo(path, [up.file_url], up.branch)
    if transport == "ssh":
        sshd = request.getfixturevalue("sshd")
        return NodeRepo(path, [sshd.url(up)], up.branch, sshd.client_key, sshd.known_hosts)
    server = request.getfixturevalue("git_daemon" if transport == "git" else "http_git")
    return NodeRepo(path, [server.url(up)], up.branch)


def _reopen(node: NodeRepo) -> NodeRepo:
    """A new NodeRepo on the same folder, as the next agent run (a new process) makes it."""
    return NodeRepo(node.path, node.urls, node.branch, node.ssh_key, node.known_hosts)


def _assert_whole(node: NodeRepo, head: str) -> None:
    """git fsck finds no broken link, and every commit near the head has its parents."""
    done = subprocess.run(
        ["git", "-C", str(node.path), "fsck", "--connectivity-only", "--no-dangling"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert salvage.missing_parent(node.repo, head) is None
    assert node.health_problem() is None


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_force_push_to_a_newer_history_is_followed(
    request: pytest.FixtureRequest, tmp_path: Path, upstream: Upstream, transport: str
) -> None:
    a = upstream.commit_and_push({"nodes.yaml": "a: {}\n", "keep": "from a\n"}, "a")
    b = upstream.commit_and_push({"nodes.yaml": "b: {}\n", "keep": "from b\n"}, "b")
    node = _node(request, transport, upstream, tmp_path / "repo.git")
    assert node.fetch().head == b
    node.mark("applied", b)
    git("reset", "-q", "--hard", a, cwd=upstream.work)
    c = upstream.commit({"nodes.yaml": "c: {}\n"}, "c, rewritten on a")
    upstream.push(force=True)
    node = _reopen(node)
    assert node.fetch().head == c
    _assert_whole(node, c)
    assert node.tree(c).read_bytes("keep") == b"from a\n"
    assert node.marked("applied") == b  # still there to fall back to
    assert node.tree(b).read_bytes("nodes.yaml") == b"b: {}\n"
    d = upstream.commit_and_push({"nodes.yaml": "d: {}\n"}, "d")
    node = _reopen(node)
    assert node.fetch().head == d
    _assert_whole(node, d)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_branch_reset_to_an_older_commit_does_not_wedge_the_fetch(
    request: pytest.FixtureRequest, tmp_path: Path, upstream: Upstream, transport: str
) -> None:
    a = upstream.commit_and_push({"nodes.yaml": "a: {}\n"}, "a")
    b = upstream.commit_and_push({"nodes.yaml": "b: {}\n"}, "b")
    node = _node(request, transport, upstream, tmp_path / "repo.git")
    node.fetch()
    node.mark("applied", b)
    git("reset", "-q", "--hard", a, cwd=upstream.work)
    upstream.push(force=True)
    for _ in range(2):  # the next run too: the wedge was on every fetch
        node = _reopen(node)
        result = node.fetch()
        assert result.head == a
        _assert_whole(node, a)
    assert node.marked("applied") == b and node.tree(b).read_bytes("nodes.yaml") == b"b: {}\n"
    c = upstream.commit_and_push({"nodes.yaml": "c: {}\n"}, "c")
    node = _reopen(node)
    assert node.fetch().head == c
    _assert_whole(node, c)


def test_rewritten_file_branch_says_the_clone_was_cloned_again(
    tmp_path: Path, upstream: Upstream
) -> None:
    a = upstream.commit_and_push({"nodes.yaml": "a: {}\n"}, "a")
    b = upstream.commit_and_push({"nodes.yaml": "b: {}\n"}, "b")
    node = NodeRepo(tmp_path / "repo.git", [upstream.file_url], upstream.branch)
    node.fetch()
    node.mark("applied", b)
    git("reset", "-q", "--hard", a, cwd=upstream.work)
    upstream.push(force=True)
    result = _reopen(node).fetch()
    assert result.recloned and "rewritten" in result.recloned
    assert any("has been cloned again" in m for m in result.messages)
    assert result.lost_marks == []
