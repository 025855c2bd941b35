"""GitTree against the commit's real files; commit info, history, ancestry and marks."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gitpuppet.compile.source import DirTree
from gitpuppet.errors import GitpuppetError
from gitpuppet.git.repo import NodeRepo, parse_trailers
from tests.integration.gitservers import Upstream, git

FILES = {
    "nodes.yaml": "web01: {classes: [nginx]}\n",
    "classes/nginx.yaml": "resources: []\n",
    "classes/nginx/vhost.yaml": "params: {}\n",
    "templates/a b.j2": "{{ x }}\n",
    "files/bin/run.sh": "#!/bin/sh\n",
    "data/common.yaml": "k: v\n",
}


@pytest.fixture
def fetched(tmp_path: Path, upstream: Upstream) -> tuple[NodeRepo, str]:
    upstream.commit(FILES, "files")
    (upstream.work / "files/bin/run.sh").chmod(0o755)
    os.symlink("../classes/nginx.yaml", upstream.work / "templates/link.yaml")
    os.symlink("classes", upstream.work / "alias")
    os.symlink("/etc/passwd", upstream.work / "templates/outside")
    os.symlink("../../..", upstream.work / "templates/up")
    os.symlink("loop", upstream.work / "loop")
    head = upstream.commit_and_push({}, "links")
    node = NodeRepo(tmp_path / "repo.git", [upstream.file_url], "main")
    node.fetch()
    return node, head


def test_reads_match_the_checkout(fetched: tuple[NodeRepo, str], upstream: Upstream) -> None:
    node, head = fetched
    tree, disk = node.tree(head), DirTree(upstream.work)
    assert tree.label == f"commit {head[:7]}"
    for path in ["", "classes", "classes/nginx", "templates", "data", "nope", "files/bin"]:
        assert tree.list_dir(path) == [n for n in disk.list_dir(path) if n != ".git"], path
        assert tree.is_dir(path) == disk.is_dir(path), path
    for rel, text in FILES.items():
        assert tree.read_bytes(rel) == text.encode() == disk.read_bytes(rel)
        assert tree.is_file(rel) and not tree.is_dir(rel)
    assert tree.walk_files("classes") == disk.walk_files("classes")
    assert tree.walk_files("nope") == [] and tree.list_dir("nodes.yaml") == []
    with pytest.raises(FileNotFoundError):
        tree.read_bytes("classes")
    with pytest.raises(FileNotFoundError):
        tree.read_bytes("missing.yaml")


def test_symlinks_inside_the_tree_are_followed(fetched: tuple[NodeRepo, str]) -> None:
    node, head = fetched
    tree = node.tree(head)
    assert tree.read_bytes("templates/link.yaml") == b"resources: []\n"
    assert tree.is_dir("alias") and tree.read_bytes("alias/nginx/vhost.yaml") == b"params: {}\n"
    for absent in ("templates/outside", "templates/up", "loop"):
        assert not tree.is_file(absent) and not tree.is_dir(absent), absent
    assert "templates/link.yaml" in tree.walk_files("templates")
    assert "templates/outside" not in tree.walk_files("")


def test_walk_files_of_10000_files_is_fast(tmp_path: Path, upstream: Upstream) -> None:
    upstream.commit({f"files/d{i // 100}/f{i}.txt": "x" for i in range(10_000)}, "big")
    head = upstream.commit_and_push({"nodes.yaml": "{}\n"})
    node = NodeRepo(tmp_path / "repo.git", [upstream.file_url], "main")
    node.fetch()
    best = float("inf")
    for _ in range(3):
        tree = node.tree(head)  # a fresh tree each time: no cache helps
        began = time.perf_counter()
        files = tree.walk_files("files")
        best = min(best, time.perf_counter() - began)
    assert len(files) == 10_000 and files == sorted(files)
    print(f"\nwalk_files of 10,000 files: {best * 1000:.1f} ms")
    assert best < 0.05 or os.getloadavg()[0] > os.cpu_count(), (
        "walk_files is slow on an idle machine"
    )


def test_commit_info_and_trailers(tmp_path: Path, upstream: Upstream) -> None:
    msg = (
        "Revert the nginx change\n\nIt broke logins.\n\nRollout: immediate\nSigned-off-by: A <a@b>"
    )
    commit = upstream.commit_and_push({"f": "x"}, msg, when=1_700_000_000)
    node = NodeRepo(tmp_path / "repo.git", [upstream.file_url], "main")
    node.fetch()
    info = node.commit_info(commit)
    assert (info.id, info.short_id, info.summary) == (commit, commit[:7], "Revert the nginx change")
    assert info.committer_time == 1_700_000_000
    assert info.author == "Tester <tester@example.com>"
    assert info.trailers == {"Rollout": "immediate", "Signed-off-by": "A <a@b>"}
    assert node.commit_summary(commit) == "Revert the nginx change"
    with pytest.raises(GitpuppetError, match="not in the node's repository"):
        node.commit_info("0" * 40)


@pytest.mark.parametrize(
    ("message", "trailers"),
    [
        ("one line", {}),
        ("Rollout: immediate", {}),  # a subject is not a trailer block
        ("fix\n\nRollout: immediate\n", {"Rollout": "immediate"}),
        ("fix\n\nbody text\nRollout: immediate", {}),  # not every line is a trailer
        ("fix\n\nA: 1\n  more\nB:2", {"A": "1", "B": "2"}),
    ],
)
def test_parse_trailers(message: str, trailers: dict[str, str]) -> None:
    assert parse_trailers(message) == trailers


def test_history_ancestry_and_marks(tmp_path: Path, upstream: Upstream) -> None:
    ids = [upstream.commit({"f": str(i)}, f"c{i}") for i in range(5)]
    git("checkout", "-q", "-b", "side", cwd=upstream.work)
    side = upstream.commit({"g": "1"}, "side")
    git("checkout", "-q", "main", cwd=upstream.work)
    upstream.commit({"f": "5"}, "c5")
    git("merge", "-q", "--no-ff", "-m", "merge", "side", cwd=upstream.work)
    merge = git("rev-parse", "HEAD", cwd=upstream.work)
    upstream.push()
    node = NodeRepo(tmp_path / "repo.git", [upstream.file_url], "main", depth=0)  # all history
    assert node.head() is None and node.marked("applied") is None
    node.fetch()
    history = node.first_parent_history(merge, 100)
    assert side not in history and history[0] == merge and history[-5:] == ids[::-1]
    assert node.first_parent_history(merge, 2) == history[:2]
    assert node.is_ancestor(ids[0], merge) and node.is_ancestor(side, merge)
    assert not node.is_ancestor(merge, ids[0]) and node.is_ancestor(merge, merge)
    # A mark keeps a commit readable after the branch is rewritten away from it.
    node.mark("last-good", merge)
    git("reset", "-q", "--hard", ids[1], cwd=upstream.work)
    upstream.push(force=True)
    assert node.fetch().head == ids[1]
    assert node.marked("last-good") == merge
    assert node.tree(merge).read_bytes("g") == b"1"
    with pytest.raises(ValueError):
        node.mark("../evil", merge)
    with pytest.raises(GitpuppetError):
        node.mark("applied", "f" * 40)
