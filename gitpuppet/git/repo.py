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
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from gitpuppet.errors import GitpuppetError
from gitpuppet.git import compact, salvage
from gitpuppet.git.commits import CommitInfo, parse_trailers
from gitpuppet.git.health import BROKEN, missing, salvage_marks, unreadable
from gitpuppet.git.reading import KEEP_HISTORY_LIMIT, CloneReader
from gitpuppet.git.remote import (
    Callbacks,
    describe_error,
    install_known_hosts,
    set_timeouts,
    trust_ca_file,
)
from gitpuppet.git.urls import parse_url, redact

__all__ = [
    "KEEP_HISTORY_LIMIT",
    "CommitInfo",
    "FetchError",
    "FetchResult",
    "NodeRepo",
    "parse_trailers",
]

DEFAULT_DEPTH = 1  # 0: the whole history, never compacted
_UNSHALLOW = 2**31 - 1  # libgit2's GIT_FETCH_DEPTH_UNSHALLOW
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


class NodeRepo(CloneReader):
    """A bare clone of one branch, fetched from the first URL (of a rotated list) that answers
    (reading commits and marks: git/reading.py)."""

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

    def deepen(self, url: str, commits: int = KEEP_HISTORY_LIMIT) -> bool:
        """Fetch the branch's newest `commits` commits from `url` into a shallow clone (a node
        that has applied nothing looks back for a commit due for its wave). True when the
        first-parent history now reaches further back; never raises (the clone stays as it was).
        """
        head = self.head()
        if head is None or not (self.path / "shallow").is_file() or not parse_url(url).shallow_ok:
            return False
        history = self.first_parent_history(head, commits)
        roots = set((compact.read_shallow(self.path) or "").split())
        if len(history) >= commits or not history or history[-1] not in roots:
            return False  # as far back as the rollout looks, or the branch's first commit
        before = len(history)
        refspec = f"+refs/heads/{self.branch}:{self.tracking_ref}"
        callbacks = Callbacks(parse_url(url), self.ssh_key, self._known_file)
        try:
            self.repo.remotes.create_anonymous(url).fetch(
                [refspec], callbacks=callbacks, depth=commits
            )
        except _BROKEN:
            return False
        finally:
            self._repo = None  # libgit2 keeps the shallow roots in memory
        head = self.head()
        return head is not None and len(self.first_parent_history(head, commits)) > before

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
