"""NodeRepo.fetch over real transports: file://, plain path, git daemon, http, mirrors, outages."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gitpuppet.git.repo import FetchError, NodeRepo
from tests.integration.gitservers import GitDaemon, HttpGit, Upstream, dir_size, free_port


def _node(tmp_path: Path, *urls: str) -> NodeRepo:
    return NodeRepo(tmp_path / "state" / "repo.git", list(urls), "main")


def test_file_url_clone_then_fetch_sees_a_push(tmp_path: Path, upstream: Upstream) -> None:
    first = upstream.commit_and_push({"nodes.yaml": "a: {}\n"}, "one")
    node = _node(tmp_path, upstream.file_url)
    result = node.fetch()
    assert (result.head, result.url, result.errors, result.cloned) == (
        first,
        upstream.file_url,
        [],
        True,
    )
    assert node.head() == first
    again = node.fetch()
    assert again.head == first and not again.cloned and again.recloned is None
    node.mark("applied", first)  # as the agent does: a marked commit stays readable
    second = upstream.commit_and_push({"nodes.yaml": "b: {}\n"}, "two")
    assert node.fetch().head == second
    assert node.tree(second).read_bytes("nodes.yaml") == b"b: {}\n"
    assert node.tree(first).read_bytes("nodes.yaml") == b"a: {}\n"


def test_plain_path_works_like_file_url(tmp_path: Path, upstream: Upstream) -> None:
    first = upstream.commit_and_push({"f": "x"})
    node = _node(tmp_path, str(upstream.bare))
    assert node.fetch().head == first


def test_git_daemon_shallow_clone_then_incremental(
    tmp_path: Path, upstream: Upstream, git_daemon: GitDaemon
) -> None:
    for i in range(30):
        upstream.commit({"f": f"{i}\n"}, f"c{i}")
    upstream.push()
    node = NodeRepo(tmp_path / "repo.git", [git_daemon.url(upstream)], "main", depth=5)
    head = node.fetch().head
    assert len(node.first_parent_history(head, 100)) == 5  # shallow: only `depth` commits
    new = upstream.commit_and_push({"f": "new\n"}, "new")
    assert node.fetch().head == new
    # The incremental fetch joined the new commit to what was there: history is continuous.
    assert node.first_parent_history(new, 100)[:2] == [new, head]
    assert node.is_ancestor(head, new)


def test_http_backend(tmp_path: Path, upstream: Upstream, http_git: HttpGit) -> None:
    first = upstream.commit_and_push({"a/b.yaml": "x: 1\n"})
    node = _node(tmp_path, http_git.url(upstream))
    assert node.fetch().head == first
    second = upstream.commit_and_push({"a/b.yaml": "x: 2\n"})
    assert node.fetch().head == second
    assert node.tree(second).read_bytes("a/b.yaml") == b"x: 2\n"


def test_missing_branch_is_an_error_per_url(tmp_path: Path, upstream: Upstream) -> None:
    upstream.commit_and_push({"f": "x"})
    node = NodeRepo(tmp_path / "repo.git", [upstream.file_url], "production")
    with pytest.raises(FetchError) as err:
        node.fetch()
    assert "has no branch 'production'" in str(err.value)
    assert not (tmp_path / "repo.git").exists()  # a failed first clone leaves nothing behind


def test_mirrors_first_dead_second_used(
    tmp_path: Path, upstream: Upstream, git_daemon: GitDaemon
) -> None:
    first = upstream.commit_and_push({"f": "x"})
    dead = f"git://127.0.0.1:{free_port()}/{upstream.name}"
    node = _node(tmp_path, dead, git_daemon.url(upstream))
    result = node.fetch()
    assert result.head == first and result.url == git_daemon.url(upstream)
    assert len(result.errors) == 1 and result.errors[0].startswith(dead)
    # A start position rotates the list: the live mirror first, no errors at all.
    assert node.fetch(start=1).errors == []
    assert node.fetch(start=3).url == git_daemon.url(upstream)


def test_server_stopped_is_a_fetch_error_and_the_clone_stays(
    tmp_path: Path, upstream: Upstream
) -> None:
    """A private git daemon (not the shared one), stopped mid-test and started again."""
    server = GitDaemon(upstream.base)
    server.start()
    try:
        first = upstream.commit_and_push({"f": "x"})
        node = _node(tmp_path, server.url(upstream))
        node.mark("last-good", node.fetch().head)
        server.stop()
        upstream.commit_and_push({"f": "y"})
        with pytest.raises(FetchError) as err:
            node.fetch()
        assert server.url(upstream) in str(err.value)
        # The outage costs nothing already fetched.
        assert node.head() == first and node.marked("last-good") == first
        assert node.tree(first).read_bytes("f") == b"x"
        server.start()
        assert node.fetch().head != first
    finally:
        server.stop()


def test_no_urls(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="no repository URL"):
        _node(tmp_path).fetch()


def test_disk_size_of_long_history(
    tmp_path: Path, upstream: Upstream, git_daemon: GitDaemon
) -> None:
    """200 commits each rewriting 20 files of 2 KB: the node keeps about one tree's worth, over
    git:// (a depth-1 clone) and over file:// (a full clone, compacted at once)."""
    for i in range(200):
        upstream.commit({f"f{j}.txt": os.urandom(1024).hex() for j in range(20)}, f"c{i}")
    upstream.push()
    sizes = {}
    for name, url, depth in (
        ("git", git_daemon.url(upstream), 1),
        ("file", upstream.file_url, 1),
        ("full", upstream.file_url, 0),
    ):
        node = NodeRepo(tmp_path / f"{name}.git", [url], "main", depth=depth)
        node.fetch()
        sizes[name] = dir_size(node.path / "objects")
    tree = node.tree(node.head() or "")
    one_tree = sum(len(tree.read_bytes(f"f{j}.txt")) for j in range(20))
    print(f"\nnode repo objects: {sizes} B; one commit's files {one_tree} B")
    assert sizes["git"] < one_tree and sizes["file"] < one_tree
    assert sizes["file"] < sizes["full"] / 20


def test_fetch_time_with_nothing_new(tmp_path: Path, upstream: Upstream) -> None:
    upstream.commit_and_push({f"d/{i}.yaml": f"k: {i}\n" for i in range(500)})
    node = _node(tmp_path, upstream.file_url)
    node.fetch()
    times = []
    for _ in range(5):
        began = time.perf_counter()
        node.fetch()
        times.append(time.perf_counter() - began)
    print(f"\nfetch with nothing new over file:// (500 files): best {min(times) * 1000:.1f} ms")
    assert min(times) < 1.0
