"""Reading the node's clone: the fetched head, a commit's tree and message, ancestry along the
kept history, and the refs that mark commits (applied, last good). git/repo.py's NodeRepo
fetches, repairs and compacts the clone on top of this."""

from __future__ import annotations

import re
from pathlib import Path

import pygit2
from pygit2.enums import SortMode

from gitpuppet.errors import GitpuppetError
from gitpuppet.git.commits import CommitInfo, parse_trailers
from gitpuppet.git.health import BROKEN, missing
from gitpuppet.git.tree import GitTree

KEEP_HISTORY_LIMIT = 200  # first-parent commits searched from the head for a marked commit
_MARK_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_BROKEN = BROKEN


class CloneReader:
    """The read side of NodeRepo: what it needs is the clone's path, branch and depth."""

    path: Path
    branch: str
    depth: int
    _repo: pygit2.Repository | None

    @property
    def tracking_ref(self) -> str:
        """Where the fetched branch tip is kept."""
        return f"refs/remotes/origin/{self.branch}"

    @property
    def repo(self) -> pygit2.Repository:
        """The pygit2 repository; GitpuppetError when there is no readable clone."""
        if self._repo is None:
            if not (self.path / "HEAD").is_file():
                raise GitpuppetError(
                    f"there is no clone at {self.path}", "run `gitpuppet pull` to make one"
                )
            try:
                self._repo = pygit2.Repository(str(self.path))
            except pygit2.GitError as exc:
                raise GitpuppetError(f"the clone at {self.path} cannot be opened: {exc}") from None
        return self._repo

    def _kept_refs(self, repo: pygit2.Repository) -> list[str]:
        """The fetched branch first, then the marks and the tips of other branches fetched
        here (`run --branch B` once): compaction keeps their commits, so the configured
        branch's next fetch stays incremental."""
        names = [
            n
            for n in repo.references
            if n.startswith("refs/gitpuppet/")
            or (n.startswith("refs/remotes/origin/") and n != self.tracking_ref)
        ]
        return [self.tracking_ref, *names]

    # -- reading --------------------------------------------------------------------------

    def head(self) -> str | None:
        """The fetched branch tip, or None before the first successful fetch."""
        try:
            ref = self.repo.references.get(self.tracking_ref)
        except _BROKEN:
            return None
        return str(ref.target) if ref is not None else None

    def tree(self, commit_id: str) -> GitTree:
        """The SourceTree of one commit."""
        return GitTree(self.repo, commit_id)

    def _commit(self, commit_id: str) -> pygit2.Commit:
        try:
            obj = self.repo.get(commit_id)
        except (ValueError, pygit2.GitError):
            obj = None
        if not isinstance(obj, pygit2.Commit):
            raise GitpuppetError(f"commit {commit_id[:12]} is not in the node's repository")
        return obj

    def commit_info(self, commit_id: str) -> CommitInfo:
        """Id, message, author, committer time and trailers (`Rollout: immediate`) of a commit."""
        c = self._commit(commit_id)
        return CommitInfo(
            id=str(c.id),
            short_id=c.short_id,
            message=c.message,
            author=f"{c.author.name} <{c.author.email}>",
            committer_time=int(c.commit_time),
            trailers=parse_trailers(c.message),
        )

    def commit_summary(self, commit_id: str) -> str:
        """The first line of a commit's message ('' when the commit is unknown)."""
        try:
            return self.commit_info(commit_id).summary
        except GitpuppetError:
            return ""

    def is_ancestor(self, a: str, b: str) -> bool:
        """True when `a` is `b` or an ancestor of it (False beyond the shallow boundary)."""
        if a == b:
            return True
        try:
            return bool(self.repo.descendant_of(b, a))
        except _BROKEN:
            return False

    def first_parent_history(self, head: str, limit: int) -> list[str]:
        """Up to `limit` commits from `head` along first parents, newest first."""
        out: list[str] = []
        try:
            walker = self.repo.walk(head, SortMode.NONE)
            walker.simplify_first_parent()
            for commit in walker:
                if len(out) >= limit:
                    break
                out.append(str(commit.id))
        except _BROKEN:
            pass  # the shallow boundary or a missing object ends the history
        return out

    # -- marks ----------------------------------------------------------------------------

    def mark(self, name: str, commit_id: str) -> None:
        """Keep `commit_id` as refs/gitpuppet/<name>: readable whatever the branch does later."""
        if not _MARK_NAME.match(name):
            raise ValueError(f"bad mark name {name!r}")
        commit = self._commit(commit_id)
        self.repo.references.create(f"refs/gitpuppet/{name}", commit.id, force=True)

    def kept_commits(self) -> list[str]:
        """What compaction keeps: the head's first `depth` commits, the marked commits, and the
        first-parent path from the head down to the oldest marked one (when within reach)."""
        repo = self.repo
        marks = [str(repo.references[n].target) for n in self._kept_refs(repo)[1:]]
        head = self.head()
        keep: list[str] = []
        if head is not None:
            chain = self.first_parent_history(head, KEEP_HISTORY_LIMIT)
            reach = max((i + 1 for i, c in enumerate(chain) if c in marks), default=0)
            keep = chain[: max(self.depth, reach)]
        return [c for c in dict.fromkeys(keep + marks) if not missing(repo, c)]

    def marked(self, name: str) -> str | None:
        """The commit marked `name`, or None."""
        try:
            ref = self.repo.references.get(f"refs/gitpuppet/{name}")
        except _BROKEN:
            return None
        return str(ref.target) if ref is not None else None
