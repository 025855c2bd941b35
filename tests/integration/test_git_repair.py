"""A deleted, corrupted or half-broken node clone is cloned again, keeping its marks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gitpuppet.git.repo import FetchError, NodeRepo
from tests.integration.gitservers import GitDaemon, Upstream


def _setup(tmp_path: Path, upstream: Upstream, url: str) -> tuple[NodeRepo, str, str]:
    good = upstream.commit_and_push({"nodes.yaml": "a: {}\n", "classes/x.yaml": "x\n"}, "good")
    node = NodeRepo(tmp_path / "repo.git", [url], "main")
    node.fetch()
    node.mark("last-good", good)
    head = upstream.commit_and_push({"nodes.yaml": "b: {}\n"}, "newer")
    node.fetch()
    return node, good, head


def _reopen(node: NodeRepo) -> NodeRepo:
    """A new NodeRepo on the same folder, as the next agent run (a new process) makes it."""
    return NodeRepo(node.path, node.urls, node.branch, depth=node.depth)


def _garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 3, len(data) - 24):  # keep the header, break the contents
        data[i] ^= 0x5A
    path.chmod(0o644)
    path.write_bytes(bytes(data))


def test_deleted_clone_is_cloned_again(tmp_path: Path, upstream: Upstream) -> None:
    node, _, head = _setup(tmp_path, upstream, upstream.file_url)
    shutil.rmtree(node.path)
    result = node.fetch()
    assert result.head == head and result.cloned


def test_garbage_packfiles_are_recloned(tmp_path: Path, upstream: Upstream) -> None:
    node, good, head = _setup(tmp_path, upstream, upstream.file_url)
    packs = list((node.path / "objects" / "pack").glob("*.pack"))
    loose = [p for p in (node.path / "objects").glob("??/*")]
    assert packs or loose
    for p in packs + loose:
        _garble(p)
    node = _reopen(node)
    result = node.fetch()
    assert result.recloned and result.head == head
    assert any("cloned again" in m for m in result.messages)
    assert node.marked("last-good") == good  # the mark survives the reclone
    assert node.tree(good).read_bytes("nodes.yaml") == b"a: {}\n"
    assert node.health_problem() is None
    assert not list(tmp_path.glob(".repo.git.*"))  # no temporary folders left behind


def test_object_file_overwritten_is_recloned_over_git_daemon(
    tmp_path: Path, upstream: Upstream, git_daemon: GitDaemon
) -> None:
    """The shallow reclone lacks the last good commit at first: it deepens to find it."""
    for i in range(5):
        upstream.commit({"pad": f"{i}"}, f"pad {i}")
    node, good, head = _setup(tmp_path, upstream, git_daemon.url(upstream))
    for _ in range(3):
        upstream.commit({"more": "1"})
    upstream.push()
    node.depth = 1
    for p in (node.path / "objects" / "pack").glob("*.pack"):
        p.chmod(0o644)
        p.write_bytes(b"garbage" * 100)
    node = _reopen(node)
    result = node.fetch()
    assert result.recloned and result.lost_marks == []
    assert node.marked("last-good") == good
    assert node.is_ancestor(good, result.head) and result.head != head


def test_garbage_head_file_is_harmless(tmp_path: Path, upstream: Upstream) -> None:
    """A bare clone's HEAD is never used: the clone stays and keeps working."""
    node, good, head = _setup(tmp_path, upstream, upstream.file_url)
    (node.path / "HEAD").write_text("garbage\n")
    node = _reopen(node)
    result = node.fetch()
    assert result.head == head and result.recloned is None
    assert node.marked("last-good") == good


def test_refs_folder_removed_is_recloned(tmp_path: Path, upstream: Upstream) -> None:
    node, _, head = _setup(tmp_path, upstream, upstream.file_url)
    shutil.rmtree(node.path / "refs")
    node = _reopen(node)
    result = node.fetch()
    assert result.recloned and result.head == head
    assert node.health_problem() is None


def test_garbage_mark_is_recloned_and_dropped(tmp_path: Path, upstream: Upstream) -> None:
    node, good, head = _setup(tmp_path, upstream, upstream.file_url)
    node.mark("applied", good)
    (node.path / "refs" / "gitpuppet" / "last-good").write_text("not a commit\n")
    node = _reopen(node)
    result = node.fetch()
    assert result.head == head
    assert node.marked("applied") == good and node.marked("last-good") is None


def test_broken_tracking_ref(tmp_path: Path, upstream: Upstream) -> None:
    node, _, head = _setup(tmp_path, upstream, upstream.file_url)
    ref = node.path / "refs" / "remotes" / "origin" / "main"
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text("0123 not a hash\n")
    node = _reopen(node)
    result = node.fetch()
    assert result.head == head and node.health_problem() is None


def test_broken_clone_with_server_gone_keeps_the_old_folder(
    tmp_path: Path, upstream: Upstream
) -> None:
    node, _, _ = _setup(tmp_path, upstream, upstream.file_url)
    for p in (node.path / "objects" / "pack").glob("*.pack"):
        _garble(p)
    node.urls = [str(tmp_path / "gone.git")]
    with pytest.raises(FetchError) as err:
        node.fetch()
    assert f"the clone at {node.path} is broken" in str(err.value)
    assert (node.path / "HEAD").exists()
