"""The node's clone stays small: compaction to the kept commits, over file:// and git daemon."""

from __future__ import annotations

import os
from pathlib import Path

import pygit2

from gitpuppet.git import compact
from gitpuppet.git.repo import NodeRepo
from tests.integration.gitservers import GitDaemon, Upstream, git


def _big(i: int, files: int = 10) -> dict[str, str | None]:
    """`files` files of 4 KB of fresh random text (so each commit weighs about 20 KB packed)."""
    return {f"data/f{j}.txt": os.urandom(2048).hex() for j in range(files)} | {"n": str(i)}


def _roots(node: NodeRepo) -> set[str]:
    text = compact.read_shallow(node.path) or ""
    return set(text.split())


def test_file_clone_is_compacted_and_later_fetches_join_on(
    tmp_path: Path, upstream: Upstream
) -> None:
    """libgit2's local transport clones everything and forgets shallow roots on every fetch."""
    for i in range(30):
        upstream.commit(_big(i), f"c{i}")
    upstream.push()
    node = NodeRepo(tmp_path / "repo.git", [upstream.file_url], "main")
    first = node.fetch()
    assert first.compaction is not None and first.compaction.after < first.compaction.before / 10
    assert _roots(node) == {first.head}
    assert node.first_parent_history(first.head, 100) == [first.head]
    node.mark("applied", first.head)
    news = [upstream.commit({"n": f"new{i}"}, f"new{i}") for i in range(3)]
    upstream.push()
    again = node.fetch()
    assert again.head == news[-1] and again.compaction is None  # small: not due yet
    assert _roots(node) == {first.head}  # restored after the local fetch dropped them
    assert node.first_parent_history(again.head, 100) == [*news[::-1], first.head]
    assert node.is_ancestor(first.head, again.head)


def test_compaction_keeps_the_marks_and_the_path_to_them(
    tmp_path: Path, upstream: Upstream, git_daemon: GitDaemon
) -> None:
    base = upstream.commit_and_push(_big(0), "base")
    node = NodeRepo(tmp_path / "repo.git", [git_daemon.url(upstream)], "main")
    node.fetch()
    node.mark("last-good", base)
    dropped = [upstream.commit(_big(i), f"old{i}") for i in range(1, 6)]
    upstream.push()
    node.fetch()
    applied = dropped[-1]
    node.mark("applied", applied)
    node.mark("last-good", applied)
    pending = [upstream.commit(_big(i), f"pending{i}") for i in range(6, 12)]
    upstream.push()
    result = node.fetch()
    assert result.compaction is not None
    # Kept: the head down to the applied commit (what a rollout chooses among), nothing older.
    assert node.kept_commits() == [*pending[::-1], applied]
    assert node.first_parent_history(result.head, 100) == [*pending[::-1], applied]
    assert node.tree(applied).read_bytes("n") == b"5"
    repo = pygit2.Repository(str(node.path))
    assert all(c not in repo for c in [base, *dropped[:-1]])
    assert _roots(node) == {applied}
    stats = compact.pack_stats(node.path)
    assert stats.packs == 1 and node.health_problem() is None


def test_rewritten_branch_keeps_the_marked_commit_alone(
    tmp_path: Path, upstream: Upstream, git_daemon: GitDaemon
) -> None:
    ids = [upstream.commit(_big(i), f"c{i}") for i in range(4)]
    upstream.push()
    node = NodeRepo(tmp_path / "repo.git", [git_daemon.url(upstream)], "main")
    node.fetch()
    node.mark("last-good", ids[-1])
    git("reset", "-q", "--hard", ids[0], cwd=upstream.work)
    rewritten = [upstream.commit(_big(i), f"r{i}") for i in range(10, 14)]
    upstream.push(force=True)
    result = node.fetch()
    assert result.head == rewritten[-1] and result.compaction is not None
    assert node.kept_commits() == [rewritten[-1], ids[-1]]
    assert _roots(node) == {rewritten[-1], ids[-1]}
    assert node.tree(ids[-1]).read_bytes("n") == b"3"
    assert not node.is_ancestor(ids[-1], result.head)


def test_refs_pointing_at_dropped_commits_go_too(
    tmp_path: Path, upstream: Upstream, git_daemon: GitDaemon
) -> None:
    """A ref gitpuppet does not keep (a person's branch or tag in the clone) must not outlive
    its objects: a dangling ref would break the next fetch's negotiation."""
    old = upstream.commit_and_push(_big(0), "old")
    node = NodeRepo(tmp_path / "repo.git", [git_daemon.url(upstream)], "main")
    node.fetch()
    repo = pygit2.Repository(str(node.path))
    repo.references.create("refs/tags/v1", old)
    repo.references.create("refs/heads/mine", old)
    for i in range(1, 5):
        upstream.commit(_big(i), f"c{i}")
    upstream.push()
    result = node.fetch()
    assert result.compaction is not None
    repo = pygit2.Repository(str(node.path))
    assert old not in repo
    assert [r for r in repo.references if not r.startswith("refs/remotes/")] == []
    assert node.health_problem() is None
    upstream.commit_and_push({"n": "after"})
    assert node.fetch().head != result.head


def test_many_small_fetches_are_packed_together(tmp_path: Path, upstream: Upstream) -> None:
    upstream.commit_and_push(_big(0, files=40), "big tree")
    node = NodeRepo(tmp_path / "repo.git", [upstream.file_url], "main")
    node.fetch()
    compactions = 0
    for i in range(compact.MAX_PACKS + 3):
        upstream.commit_and_push({"n": f"small {i}"})
        fetched = node.fetch()
        node.mark("applied", fetched.head)
        compactions += fetched.compaction is not None
        assert compact.pack_stats(node.path).packs <= compact.MAX_PACKS + 1
    assert compactions >= 1


def test_full_history_node_is_never_compacted(tmp_path: Path, upstream: Upstream) -> None:
    ids = [upstream.commit(_big(i, files=2), f"c{i}") for i in range(5)]
    upstream.push()
    node = NodeRepo(tmp_path / "repo.git", [upstream.file_url], "main", depth=0)
    assert node.fetch().compaction is None
    assert node.first_parent_history(ids[-1], 100) == ids[::-1]
    assert compact.read_shallow(node.path) is None


def test_compaction_leaves_nothing_behind(tmp_path: Path, upstream: Upstream) -> None:
    for i in range(5):
        upstream.commit(_big(i, files=2), f"c{i}")
    upstream.push()
    node = NodeRepo(tmp_path / "repo.git", [upstream.file_url], "main")
    node.fetch()
    leftovers = [p.name for p in node.path.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    loose = [p for p in (node.path / "objects").glob("??/*")]
    assert loose == [] and compact.pack_stats(node.path).packs == 1


def test_compaction_keeps_the_tip_of_another_branch_fetched_once(
    tmp_path: Path, upstream: Upstream, git_daemon: GitDaemon
) -> None:
    """`run --branch hotfix` fetches another branch into the same clone; compaction during that
    run must not drop the configured branch's tip (its next fetch would be a full one)."""
    main = upstream.commit_and_push(_big(0), "main")
    url = git_daemon.url(upstream)
    NodeRepo(tmp_path / "repo.git", [url], "main").fetch()
    git("checkout", "-q", "-b", "hotfix", cwd=upstream.work)
    upstream.commit(_big(1), "hot")
    git("push", "-q", "origin", "hotfix", cwd=upstream.work)
    hot = NodeRepo(tmp_path / "repo.git", [url], "hotfix")
    pygit2.Repository(str(hot.path)).config.delete_multivar(compact.BASELINE_KEY, ".*")
    fetched = hot.fetch()
    assert fetched.compaction is not None  # compacted during the --branch run
    repo = pygit2.Repository(str(hot.path))
    assert str(repo.references["refs/remotes/origin/main"].target) == main
    back = NodeRepo(tmp_path / "repo.git", [url], "main")
    assert back.health_problem() is None
    assert back.fetch().head == main and not back.fetch().recloned
