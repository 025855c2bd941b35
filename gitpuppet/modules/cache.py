"""External modules (SPEC §9): fetch each pinned module into a cache and read it from git objects.

The cache is `<state dir>/modules/`: one bare repository per module and URL,
`<name>-<hash of the URL>.git` (a URL changed in modules.yaml is a new cache, never the old
repository's tag of the same name). Transports, keys, known_hosts and CA file are the control
repo's. A tag or a commit id already in the cache is used without any fetch; a branch is fetched
every time (followed). A module that cannot be fetched is a compile error of the control commit
that names it (modules.yaml:line), so the agent keeps the commit it applied; that applied
commit compiles again with the module commits recorded when it was applied, with no fetch at
all. Nothing outside the cache folder is ever removed.

Under `verify`, a module pinned by commit id is trusted through the signed control commit that
pins it; the commit a tag or branch resolves to must itself be signed by an allowed key, and a
branch never moves to an ancestor of (or, under verify, a commit older than) the one cached.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pygit2

from gitpuppet.compile.modspec import ModuleSpec
from gitpuppet.errors import GitpuppetError, SourceError
from gitpuppet.git.remote import (
    Callbacks,
    describe_error,
    install_known_hosts,
    set_timeouts,
    trust_ca_file,
)
from gitpuppet.git.tree import GitTree
from gitpuppet.git.urls import parse_url, redact
from gitpuppet.git.verify import verify_commit

_BROKEN = (pygit2.GitError, KeyError, ValueError, OSError)
APPLIED_FILE = "applied.json"


@dataclass(frozen=True, slots=True)
class Resolved:
    """A module's ref resolved to a commit of its cache; `fetched` when this run fetched it."""

    spec: ModuleSpec
    commit: str
    fetched: bool


class ModuleCache:
    """The module repositories under `root`, fetched with the control repo's transport settings."""

    def __init__(
        self,
        root: Path,
        ssh_key: Path | None = None,
        known_hosts: Path | None = None,
        ca_file: Path | None = None,
        allowed_signers: Path | None = None,
    ) -> None:
        self.root = Path(root)
        self.ssh_key = ssh_key
        self.known_hosts = known_hosts
        self.ca_file = ca_file
        self.allowed_signers = allowed_signers
        self._known_file = known_hosts or Path("~/.ssh/known_hosts")
        self._repos: dict[Path, pygit2.Repository] = {}

    def path_for(self, spec: ModuleSpec) -> Path:
        """The cache repository of `spec` (its name is checked: no `/`, no `..`)."""
        digest = hashlib.sha256(spec.url.encode()).hexdigest()[:12]
        return self.root / f"{spec.name}-{digest}.git"

    # -- the cache repository ---------------------------------------------------------------

    def _open(self, spec: ModuleSpec, create: bool) -> pygit2.Repository | None:
        path = self.path_for(spec)
        if path in self._repos:
            return self._repos[path]
        repo = None
        if (path / "HEAD").is_file() and not path.is_symlink():
            try:
                repo = pygit2.Repository(str(path))
            except pygit2.GitError:
                repo = None
        if repo is None and create:
            self._make_root()
            self._remove_in_cache(path)
            repo = pygit2.init_repository(str(path), bare=True)
        if repo is not None:
            self._repos[path] = repo
        return repo

    def _make_root(self) -> None:
        if self.root.is_symlink():
            raise GitpuppetError(
                f"the module cache {self.root} is a symlink",
                "remove it; gitpuppet makes the folder",
            )
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _remove_in_cache(self, path: Path) -> None:
        """Remove a broken cache repository: only ever a direct child of the cache folder."""
        if not (path.exists() or path.is_symlink()):
            return
        if Path(os.path.realpath(path.parent)) != Path(os.path.realpath(self.root)):
            raise GitpuppetError(f"refusing to remove {path}: it is not inside {self.root}")
        if path.is_symlink() or not path.is_dir():
            path.unlink()
        else:
            shutil.rmtree(path)

    # -- resolving --------------------------------------------------------------------------

    def resolve(
        self, spec: ModuleSpec, *, offline: bool = False, recorded: str | None = None
    ) -> Resolved:
        """The commit `spec` names: the `recorded` one when given (a fallback: no fetch), else
        from the cache for a tag or commit that is there, else fetched. SourceError at the
        modules.yaml line when it cannot be had."""
        if recorded is not None:
            repo = self._open(spec, create=False)
            if repo is not None and _commit_of(repo, recorded) is not None:
                return Resolved(spec, recorded, False)
            raise self._error(spec, f"the recorded commit {recorded[:12]} is not in the cache")
        if spec.is_commit:
            return self._resolve_commit(spec, offline)
        return self._resolve_name(spec, offline)

    def _resolve_commit(self, spec: ModuleSpec, offline: bool) -> Resolved:
        repo = self._open(spec, create=not offline)
        if repo is not None and _commit_of(repo, spec.ref) is not None:
            return Resolved(spec, spec.ref, False)
        if repo is None or offline:
            raise self._offline_error(spec)
        self._fetch(repo, spec, ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"])
        if _commit_of(repo, spec.ref) is None:
            raise self._error(spec, f"has no commit {spec.ref[:12]} on any branch or tag")
        repo.references.create(f"refs/gitpuppet/pinned/{spec.ref}", spec.ref, force=True)
        return Resolved(spec, spec.ref, True)

    def _resolve_name(self, spec: ModuleSpec, offline: bool) -> Resolved:
        repo = self._open(spec, create=not offline)
        tag_ref, branch_ref = f"refs/tags/{spec.ref}", f"refs/remotes/origin/{spec.ref}"
        cached_tag = _target(repo, tag_ref) if repo is not None else None
        if repo is not None and cached_tag is not None:
            return self._checked(repo, spec, cached_tag, fetched=False)
        before = _target(repo, branch_ref) if repo is not None else None
        if repo is not None and offline and before is not None:
            return self._checked(repo, spec, before, fetched=False)  # the branch as cached
        if repo is None or offline:
            raise self._offline_error(spec)
        self._fetch(
            repo,
            spec,
            [f"+refs/tags/{spec.ref}:{tag_ref}", f"+refs/heads/{spec.ref}:{branch_ref}"],
            shallow=True,
        )
        tag, branch = _target(repo, tag_ref), _target(repo, branch_ref)
        if tag is not None and branch is not None and branch != before:
            raise self._error(spec, f"has both a tag and a branch named '{spec.ref}'")
        if tag is not None:
            return self._checked(repo, spec, tag, fetched=True)
        if branch is None:
            raise self._error(spec, f"has no tag or branch '{spec.ref}'")
        problem = self._backwards(repo, before, branch)
        if problem is not None:
            assert before is not None
            repo.references.create(branch_ref, before, force=True)
            raise self._error(spec, problem)
        return self._checked(repo, spec, branch, fetched=True)

    def _checked(
        self, repo: pygit2.Repository, spec: ModuleSpec, commit: str, fetched: bool
    ) -> Resolved:
        """A tag's or branch's commit: readable, and signed under verify."""
        if _commit_of(repo, commit) is None:
            raise self._error(spec, f"'{spec.ref}' does not name a readable commit")
        if self.allowed_signers is not None:
            check = verify_commit(repo, commit, self.allowed_signers)
            if not check.ok:
                raise self._error(
                    spec,
                    f"'{spec.ref}': {check.reason}",
                    "under verify a module's tag or branch must be signed by an allowed key "
                    "(or pin the module by commit id in a signed control commit)",
                )
        return Resolved(spec, commit, fetched)

    def _backwards(self, repo: pygit2.Repository, before: str | None, now: str) -> str | None:
        """Why moving a followed branch from `before` to `now` would go back in its history."""
        if before is None or before == now:
            return None
        try:
            if repo.descendant_of(before, now):
                return f"branch moved back to {now[:12]}, an ancestor of {before[:12]}; kept"
            old, new = repo.get(before), repo.get(now)
        except _BROKEN:
            return None
        if (
            self.allowed_signers is not None
            and isinstance(old, pygit2.Commit)
            and isinstance(new, pygit2.Commit)
            and new.commit_time < old.commit_time
        ):
            return f"branch moved to {now[:12]}, older than {before[:12]}; kept"
        return None

    def _fetch(
        self, repo: pygit2.Repository, spec: ModuleSpec, refspecs: list[str], shallow: bool = False
    ) -> None:
        remote_url = parse_url(spec.url)
        self._prepare(remote_url.transport)
        callbacks = Callbacks(remote_url, self.ssh_key, self._known_file)
        depth = 1 if shallow and remote_url.shallow_ok else 0
        try:
            remote = repo.remotes.create_anonymous(spec.url)
            remote.fetch(refspecs, callbacks=callbacks, depth=depth)
        except _BROKEN as exc:
            raise self._error(spec, describe_error(remote_url, exc, callbacks)) from None

    def _prepare(self, transport: str) -> None:
        set_timeouts()
        if transport == "https" and self.ca_file is not None:
            trust_ca_file(self.ca_file)
        if transport == "ssh":
            self._make_root()
            self._known_file = install_known_hosts(self.known_hosts, self.root / ".ssh-home")

    def _error(self, spec: ModuleSpec, why: str, hint: str | None = None) -> SourceError:
        return SourceError(
            spec.pos,
            f"module '{spec.name}' ({redact(spec.url)}): {why}",
            hint or "the commit already applied is kept until the module can be had",
        )

    def _offline_error(self, spec: ModuleSpec) -> SourceError:
        return self._error(
            spec,
            f"'{spec.ref}' is not in the module cache {self.root}",
            "fetch it (run without --offline)",
        )

    def tree(self, resolved: Resolved) -> GitTree:
        """The module's tree at its resolved commit, read from git objects (no checkout)."""
        repo = self._open(resolved.spec, create=False)
        if repo is None:
            raise self._error(resolved.spec, "the cache repository is gone")
        return GitTree(repo, resolved.commit)


def _target(repo: pygit2.Repository | None, name: str) -> str | None:
    """The commit a ref points at (annotated tags peeled), or None."""
    if repo is None:
        return None
    try:
        ref = repo.references.get(name)
        if ref is None:
            return None
        return str(ref.peel(pygit2.Commit).id)
    except _BROKEN:
        return None


def _commit_of(repo: pygit2.Repository, commit_id: str) -> pygit2.Commit | None:
    try:
        obj = repo.get(commit_id)
    except _BROKEN:
        return None
    return obj if isinstance(obj, pygit2.Commit) else None
