"""Carry readable commits over from a clone that is being replaced, and check a fetched history.

A force-push can leave the node's clone with a head whose parent never arrived (libgit2's local
transport hides every commit reachable from the node's own refs, including the history that
compaction dropped), or fail the fetch outright (`target OID for the reference doesn't exist`).
The clone is then cloned again; the applied and last good commits, which the server may no
longer have, are copied from the old clone so the node can still fall back to them.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pygit2

from gitpuppet.git import compact
from gitpuppet.git.health import BROKEN, missing, unreadable

HISTORY_CHECK_LIMIT = 200  # commits walked from the head when checking that parents are there
REWRITTEN = "doesn't exist on the repository"  # libgit2: the ref's target never arrived


def rewritten_problem(errors: list[str]) -> str | None:
    """Why a failed fetch calls for a fresh clone (the branch was rewritten), or None."""
    if any(REWRITTEN in e for e in errors):
        return (
            "the branch was rewritten on the server and the fetch did not bring the commit "
            "it points at"
        )
    return None


def missing_parent(
    repo: pygit2.Repository, head: str, limit: int = HISTORY_CHECK_LIMIT
) -> str | None:
    """A commit near `head` whose parent is absent and not a shallow root, described; or None."""
    shallow = set((compact.read_shallow(Path(repo.path)) or "").split())
    seen: set[str] = set()
    todo = [head]
    while todo and len(seen) < limit:
        commit = todo.pop()
        if commit in seen or commit in shallow:
            continue
        seen.add(commit)
        try:
            parents = compact.raw_parents(repo, commit)
        except BROKEN:
            return f"commit {commit[:12]} is missing"
        for parent in parents:
            if missing(repo, parent):
                return (
                    f"commit {commit[:12]} names a parent {parent[:12]} that the clone lacks, "
                    "as after a branch rewritten on the server"
                )
            todo.append(parent)
    return None


def copy_commits(old: Path, new: pygit2.Repository, commits: list[str]) -> list[str]:
    """Copy those `commits` (with their trees) that `new` lacks and `old` can read; returns
    the copied ones, listed as shallow roots of `new` (their history is not copied)."""
    wanted = [c for c in dict.fromkeys(commits) if missing(new, c)]
    if not wanted:
        return []
    try:
        source = pygit2.Repository(str(old))
        readable = [c for c in wanted if unreadable(source, [c]) is None]
        if not readable:
            return []
        builder = pygit2.PackBuilder(source)
        for commit in readable:
            builder.add_recur(pygit2.Oid(hex=commit))
        staging = Path(tempfile.mkdtemp(prefix=".salvage-", dir=new.path))
        try:
            builder.write(str(staging))
            pack_dir = Path(new.path) / "objects" / "pack"
            pack_dir.mkdir(parents=True, exist_ok=True)
            for file in sorted(staging.iterdir(), key=lambda f: f.suffix != ".pack"):
                file.replace(pack_dir / file.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except BROKEN:
        return []
    fresh = pygit2.Repository(new.path)  # sees the new pack
    cut = {c for c in readable if any(missing(fresh, p) for p in compact.raw_parents(fresh, c))}
    roots = set((compact.read_shallow(Path(new.path)) or "").split())
    compact.write_shallow(Path(new.path), "".join(f"{c}\n" for c in sorted(roots | cut)))
    return readable
