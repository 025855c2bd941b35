"""The node's own bare repository under the state dir: fetch from mirrors, read commits, mark refs.

The first fetch is shallow (`depth` commits, default one) on every network transport; later
fetches are incremental (libgit2 keeps the shallow boundary and asks only for what is new).
libgit2's local transport (file://, plain paths) cannot fetch shallow, so a local URL gives a full
clone. Either way, once the packs have grown enough the store is compacted (git/compact.py) to
the commits the node keeps: the head's first `depth` commits, the marked commits (applied, last
good) and the first-parent path from the head down to them, i.e. the commits not applied yet,
which a rollout chooses among. So the clone of a long history stays about one tree's size, and
`is_ancestor` / `first_parent_history` see that kept history, not all of it.

A clone that cannot be opened, whose refs are broken or whose objects no longer read is cloned
again into a fresh folder that replaces the old one only once that fetch worked: a network outage
never costs the node the commits it can still read.
"""

from __future__ import annotations

import gc
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pygit2
from pygit2.enums import SortMode

from gitpuppet.errors import GitpuppetError
from gitpuppet.git import compact, salvage
from gitpuppet.git.commits import CommitInfo, parse_trailers
from gitpuppet.git.health import BROKEN, missing, salvage_marks, unreadable
from gitpuppet.git.remote import (
    Callbacks,
    describe_error,
    install_known_hosts,
    set_timeouts,
    trust_ca_file,
)
from gitpuppet.git.tree import GitTree
from gitpuppet.git.urls import parse_url, redact

__all__ = ["CommitInfo", "FetchError", "FetchResult", "NodeRepo", "parse_trailers"]

DEFAULT_DEPTH = 1  # 0: the whole history, never compacted
KEEP_HISTORY_LIMIT = 200  # first-parent commits searched from the head for a marked commit
_UNSHALLOW = 2**31 - 1  # libgit2's GIT_FETCH_DEPTH_UNSHALLOW
_MARK_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_BROKEN = BROKEN


class FetchError(GitpuppetError):
    """Every URL failed; `errors` holds one line per URL (and about the clone, if broken)."""

    def __init__(self, errors: list[str], hint: str | None = None) -> None:
        super().__init__("pull failed: " + "; ".join(errors), hint)
        self.errors = errors


@dataclass
class FetchResult:
    """The branch head after a fetch, the URL that gave it, and what went wrong on the way.

    `errors` has one line per URL that failed before `url` answered. `cloned` is True when the
    repository was created by this fetch; `recloned` says why a broken clone was replaced.
    """

    head: str
    url: str
    errors: list[str] = field(default_factory=list)
    cloned: bool = False
    recloned: str | None = None
    lost_marks: list[str] = field(default_factory=list)
    seconds: float = 0.0
    compaction: compact.Compaction | None = None

    @property
    def messages(self) -> list[str]:
        """Everything worth a line in the run's output and report."""
        out = list(self.errors)
        if self.recloned:
            out.append(f"the node's clone was broken ({self.recloned}) and has been cloned again")
        out.extend(f"marked commit '{m}' was lost with the broken clone" for m in self.lost_marks)
        return out


class NodeRepo:
    """A bare clone of one branch, fetched from the first URL (of a rotated list) that answers."""

    def __init__(
        self,
        path: str | Path,
        urls: list[str] | str,
        branch: str,
        ssh_key: Path | None = None,
        known_hosts: Path | None = None,
        *,
        depth: int = DEFAULT_DEPTH,
        ca_file: Path | None = None,
    ) -> None:
        self.path = Path(path)
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        self.branch = branch
        self.ssh_key = Path(ssh_key) if ssh_key is not None else None
        self.known_hosts = Path(known_hosts) if known_hosts is not None else None
        self.depth = depth
        self.ca_file = ca_file
        self._repo: pygit2.Repository | None = None
        self._known_file = self.known_hosts or Path("~/.ssh/known_hosts")

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

    # -- fetch ----------------------------------------------------------------------------

    def fetch(self, start: int = 0) -> FetchResult:
        """Fetch the branch, trying URLs from `start` (wrapping); clone or reclone as needed.

        Raises FetchError when no URL gave a readable head.
        """
        began = time.monotonic()
        if not self.urls:
            raise FetchError(["no repository URL is configured"], "set repo in the agent config")
        self._prepare_transports()
        if not self.path.exists():
            result = self._clone_fresh(start, marks={})
            result.cloned = True
        else:
            problem = self._open_problem()
            if problem is None:
                try:
                    result = self._fetch_existing(start)
                except FetchError as failed:
                    problem = self.health_problem() or salvage.rewritten_problem(failed.errors)
                    if problem is None:
                        raise
                    result = self._reclone(start, problem, failed.errors)
                else:
                    problem = self.health_problem() or self._history_problem(result.head)
                    if problem is not None:
                        result = self._reclone(start, problem, result.errors)
            else:
                result = self._reclone(start, problem, [])
        self._compact_if_due(result)
        result.seconds = time.monotonic() - began
        return result

    def _compact_if_due(self, result: FetchResult) -> None:
        """Shrink the store to the kept commits when it has grown (never fails the fetch)."""
        if self.depth == 0:
            return  # the whole history was asked for
        try:
            if compact.due(self.repo, self.path):
                keep = self.kept_commits()
                if result.head in keep:  # never compact a clone whose head does not read
                    result.compaction = compact.compact(self.repo, self.path, keep)
        except _BROKEN as exc:
            result.errors.append(f"the clone at {self.path} could not be compacted: {exc}")
        finally:
            self._repo = None  # packs and shallow roots changed under the open repository

    def _prepare_transports(self) -> None:
        set_timeouts()
        if self.ca_file is not None and any(parse_url(u).transport == "https" for u in self.urls):
            try:
                trust_ca_file(self.ca_file)
            except GitpuppetError as exc:
                raise FetchError([str(exc)]) from None
        if any(parse_url(u).transport == "ssh" for u in self.urls):
            home = self.path.parent / f".{self.path.name}.ssh-home"
            self._known_file = install_known_hosts(self.known_hosts, home)

    def _order(self, start: int) -> list[str]:
        start %= len(self.urls)
        return self.urls[start:] + self.urls[:start]

    def _fetch_any(self, repo: pygit2.Repository, start: int, fresh: bool) -> FetchResult:
        errors: list[str] = []
        refspec = f"+refs/heads/{self.branch}:{self.tracking_ref}"
        for url in self._order(start):
            remote_url = parse_url(url)
            callbacks = Callbacks(remote_url, self.ssh_key, self._known_file)
            depth = self.depth if fresh and remote_url.shallow_ok else 0
            shallow = compact.read_shallow(Path(repo.path))
            try:
                remote = repo.remotes.create_anonymous(url)
                try:
                    remote.fetch([refspec], callbacks=callbacks, depth=depth)
                finally:
                    if remote_url.transport == "local":
                        # The local transport drops the shallow roots of a compacted clone.
                        compact.write_shallow(Path(repo.path), shallow)
                ref = repo.references.get(self.tracking_ref)
                if ref is None:
                    errors.append(f"{redact(url)}: has no branch '{self.branch}'")
                    continue
                return FetchResult(str(ref.target), url, errors)
            except _BROKEN as exc:
                errors.append(f"{redact(url)}: {describe_error(remote_url, exc, callbacks)}")
        raise FetchError(errors)

    def _fetch_existing(self, start: int) -> FetchResult:
        try:
            return self._fetch_any(self.repo, start, fresh=False)
        finally:
            self._repo = None  # libgit2 keeps the shallow roots in memory; the file may differ

    def _clone_fresh(self, start: int, marks: dict[str, str]) -> FetchResult:
        """Clone into a temporary sibling folder and move it into place once it is readable."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.new-", dir=self.path.parent))
        try:
            repo = pygit2.init_repository(str(tmp), bare=True)
            result = self._fetch_any(repo, start, fresh=True)
            problem = unreadable(repo, [result.head])
            if problem:
                raise FetchError([f"{redact(result.url)}: the fetched commit {problem}"])
            if salvage.copy_commits(self.path, repo, list(marks.values())):
                repo = pygit2.Repository(str(tmp))  # sees the pack of the copied commits
            result.lost_marks = self._restore_marks(repo, result.url, marks)
            del repo
            old = self.path.with_name(f".{self.path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            if self.path.exists() or self.path.is_symlink():
                self.path.rename(old)
            tmp.rename(self.path)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self._repo = None
        # libgit2 shares open packs process-wide by path, and a pygit2 Repository (a reference
        # cycle) is freed by the cycle collector only: a broken clone's pack still open would be
        # read in place of the new clone's pack of the same name.
        gc.collect()
        return result

    def _restore_marks(self, repo: pygit2.Repository, url: str, marks: dict[str, str]) -> list[str]:
        """Point the old marks at their commits in the fresh clone; returns the ones lost."""
        if any(missing(repo, c) for c in marks.values()) and parse_url(url).shallow_ok:
            # The last good commit may be older than the shallow clone: deepen to find it.
            refspec = f"+refs/heads/{self.branch}:{self.tracking_ref}"
            remote_url = parse_url(url)
            cb = Callbacks(remote_url, self.ssh_key, self._known_file)
            try:
                repo.remotes.create_anonymous(url).fetch([refspec], callbacks=cb, depth=_UNSHALLOW)
            except _BROKEN:
                pass
        lost = []
        for name, commit in sorted(marks.items()):
            if missing(repo, commit):
                lost.append(name)
            else:
                repo.references.create(f"refs/gitpuppet/{name}", commit, force=True)
        return lost

    def _reclone(self, start: int, problem: str, earlier: list[str]) -> FetchResult:
        marks = salvage_marks(self.path)
        self._repo = None
        try:
            result = self._clone_fresh(start, marks)
        except FetchError as failed:
            raise FetchError(
                [f"the clone at {self.path} is broken ({problem})"] + failed.errors,
                "it is cloned again as soon as a URL answers",
            ) from None
        result.recloned = problem
        return result

    # -- health ---------------------------------------------------------------------------

    def _open_problem(self) -> str | None:
        try:
            repo = self.repo
            repo.references.get(self.tracking_ref)
        except _BROKEN as exc:
            self._repo = None
            return str(exc)
        return None

    def _history_problem(self, head: str) -> str | None:
        try:
            return salvage.missing_parent(self.repo, head)
        except _BROKEN as exc:
            return f"the history of {head[:12]} cannot be read: {exc}"

    def health_problem(self) -> str | None:
        """Why the clone is unusable (refs broken, objects of the head or a mark unreadable)."""
        try:
            repo = self.repo
            commits = [
                str(ref.target)
                for ref in (repo.references.get(name) for name in self._kept_refs(repo))
                if ref is not None
            ]
        except _BROKEN as exc:
            return f"refs cannot be read: {exc}"
        return unreadable(repo, commits)

    def _kept_refs(self, repo: pygit2.Repository) -> list[str]:
        names = [n for n in repo.references if n.startswith("refs/gitpuppet/")]
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
