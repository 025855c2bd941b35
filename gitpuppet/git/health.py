"""Is a node clone usable? Objects that do not read, and the marks of a clone too broken to open."""

from __future__ import annotations

import re
from pathlib import Path

import pygit2

from gitpuppet.errors import GitpuppetError

BROKEN = (pygit2.GitError, OSError, ValueError, KeyError, GitpuppetError)


def missing(repo: pygit2.Repository, commit_id: str) -> bool:
    """True when `commit_id` is not a readable commit of `repo`."""
    try:
        return not isinstance(repo.get(commit_id), pygit2.Commit)
    except BROKEN:
        return True


def unreadable(repo: pygit2.Repository, commits: list[str]) -> str | None:
    """Read every object of these commits' trees; a damaged one is found now, not mid-compile."""
    seen: set[pygit2.Oid] = set()
    for commit_id in commits:
        try:
            commit = repo.get(commit_id)
            if not isinstance(commit, pygit2.Commit):
                return f"commit {commit_id[:12]} is missing"
            stack = [commit.tree]
            while stack:
                tree = stack.pop()
                for entry in tree:
                    if entry.id in seen:
                        continue
                    seen.add(entry.id)
                    if isinstance(entry, pygit2.Tree):
                        stack.append(entry)
                    elif isinstance(entry, pygit2.Blob):
                        entry.read_raw()
        except BROKEN as exc:
            return f"commit {commit_id[:12]} does not read: {exc}"
    return None


def salvage_marks(path: Path) -> dict[str, str]:
    """refs/gitpuppet/* of a broken clone, read as files when pygit2 cannot open it."""
    marks: dict[str, str] = {}
    ref_dir = path / "refs" / "gitpuppet"
    packed = path / "packed-refs"
    try:
        if packed.is_file():
            for line in packed.read_text(errors="replace").splitlines():
                parts = line.split(" ", 1)
                if len(parts) == 2 and parts[1].startswith("refs/gitpuppet/"):
                    marks[parts[1].removeprefix("refs/gitpuppet/")] = parts[0]
        if ref_dir.is_dir():
            for file in ref_dir.iterdir():
                marks[file.name] = file.read_text(errors="replace").strip()
    except OSError:
        pass
    return {k: v for k, v in marks.items() if re.fullmatch(r"[0-9a-f]{40}", v)}
