"""`git`: a checkout of a repository at a path, cloned and moved with pygit2 (as the agent is).

- present: clone when the path is missing (or an empty directory); an existing checkout is left
  where it is (only its owner and group are managed).
- latest: ask the source where `revision` points now and move the checkout there.
- absent: remove the checkout (untracked and ignored files go with it).

`revision` is HEAD (the source's default branch), a branch, a tag or a commit id. A branch is
checked out as a local branch of that name tracking origin; a tag or a commit leaves HEAD
detached at it. The transport is whatever the URL says; see `gitpuppet.types.git.checkout` for
ssh keys and host keys.

Work is never thrown away: a checkout with changed tracked files, a merge in progress or a commit
that is on no branch or tag of the source (and is not what gitpuppet last checked out) is not
moved or removed; the resource fails and says what is there. A path that holds something other
than a checkout of `source` is never touched either.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import pygit2
from pygit2.enums import CheckoutStrategy, FileStatus, RepositoryState

from gitpuppet.contract import ApplyContext, ResourceType
from gitpuppet.errors import ApplyError
from gitpuppet.git.urls import redact
from gitpuppet.model import Change, Resource
from gitpuppet.resources.fsutil import gid_of, group_name, uid_of, user_name
from gitpuppet.types.git.checkout import (
    Target,
    fetch_all,
    open_checkout,
    remote_target,
    same_source,
    short,
)
from gitpuppet.types.git.spec import GitParams

# What gitpuppet last checked out: a commit there is not "local work", even when the source
# has since force-pushed it away.
MARK_REF = "refs/gitpuppet/checkout"
_SHOWN_FILES = 5


@dataclass(slots=True)
class CheckoutState:
    """What is at the path. `kind`: missing, empty (an empty directory), checkout, other."""

    path: str
    kind: str
    problem: str | None = None  # for `other`: what it is instead
    origin: str | None = None
    head: str | None = None  # the commit checked out
    target: Target | None = None  # where `revision` points on the source (clone, latest)
    local_work: list[str] = field(default_factory=list)  # why moving or removing would lose work
    owners: set[str] = field(default_factory=set)  # owners of entries that are not `owner`
    groups: set[str] = field(default_factory=set)  # groups of entries that are not `group`


def _ids(p: GitParams) -> tuple[int | None, int | None]:
    return (
        uid_of(p.owner) if p.owner is not None else None,
        gid_of(p.group) if p.group is not None else None,
    )


class GitType(ResourceType):
    name = "git"

    def current(self, res: Resource, ctx: ApplyContext) -> CheckoutState:
        """What is at the path; the source is asked only when its answer matters (a clone, or
        ensure: latest)."""
        p: GitParams = res.params
        state, repo = _inspect(p.path)
        if repo is not None:
            if p.ensure == "latest":
                state.target = remote_target(p.source or "", p.revision, ctx, repo)
            if p.ensure == "absent" or (
                state.target is not None and state.target.commit != state.head
            ):
                state.local_work = _local_work(repo)
            if p.owner is not None or p.group is not None:
                _scan_owners(state, p)
        elif state.kind in ("missing", "empty") and p.ensure != "absent":
            state.target = remote_target(p.source or "", p.revision, ctx, None)
        return state

    def diff(self, cur: CheckoutState, res: Resource, ctx: ApplyContext) -> list[Change]:
        """ensure, revision (short commit ids), owner and group; a checkout that must not be
        touched fails here, so noop says so too."""
        p: GitParams = res.params
        if cur.kind == "other":
            raise ApplyError(
                f"{p.path} {cur.problem}, not a git checkout"
                + (f" of {redact(p.source)}" if p.source else ""),
                hint="move it away, or manage it with a file resource",
            )
        if cur.kind == "checkout" and p.source and not same_source(cur.origin, p.source):
            raise ApplyError(
                f"{p.path} is a checkout of {redact(cur.origin or '(no origin)')}, "
                f"not of {redact(p.source)}",
                hint="remove it (ensure: absent without source) or fix source",
            )
        if p.ensure == "absent":
            if cur.kind != "checkout":
                return []
            _refuse_if_work(cur, "remove it")
            return [Change("ensure", "present", "absent")]
        changes: list[Change] = []
        if cur.kind != "checkout":
            assert cur.target is not None
            changes.append(
                Change("ensure", "empty directory" if cur.kind == "empty" else "absent", "present")
            )
            changes.append(Change("revision", None, cur.target.label()))
        elif cur.target is not None and cur.target.commit != cur.head:
            _refuse_if_work(cur, f"move it to {p.revision}")
            changes.append(Change("revision", short(cur.head), cur.target.label()))
        if cur.owners:
            changes.append(Change("owner", ", ".join(sorted(cur.owners)), str(p.owner)))
        if cur.groups:
            changes.append(Change("group", ", ".join(sorted(cur.groups)), str(p.group)))
        if cur.kind != "checkout":
            changes.extend(
                Change(attr, None, str(value))
                for attr, value in (("owner", p.owner), ("group", p.group))
                if value is not None
            )
        return changes

    def apply(
        self, res: Resource, cur: CheckoutState, changes: list[Change], ctx: ApplyContext
    ) -> None:
        """Clone, move or remove; then give the whole tree to owner and group."""
        p: GitParams = res.params
        if p.ensure == "absent":
            # Looked at again right before: nobody's work may have started since the diff.
            _refuse_if_work(cur, "remove it", _local_work(open_checkout(p.path)))
            _remove(p.path)
            return
        uid, gid = _ids(p)
        assert p.source
        if cur.kind in ("missing", "empty"):
            assert cur.target is not None
            _clone(p, cur, cur.target, ctx, uid, gid)
            return
        if any(c.attr == "revision" for c in changes):
            assert cur.target is not None
            repo = open_checkout(p.path)
            _refuse_if_work(cur, f"move it to {p.revision}", _local_work(repo))
            fetch_all(repo, p.source, ctx)
            _move(repo, cur.target.resolve(repo, p.source), cur.target.branch, fresh=False)
        if uid is not None or gid is not None:
            _chown_tree(p.path, uid, gid)


# -- reading ------------------------------------------------------------------------------------


def _inspect(path: str) -> tuple[CheckoutState, pygit2.Repository | None]:
    """Classify what is at `path` (read only); the repository when it is a checkout."""
    if not os.path.lexists(path):
        return CheckoutState(path, "missing"), None
    if os.path.islink(path):
        return CheckoutState(path, "other", "is a link"), None
    if not os.path.isdir(path):
        return CheckoutState(path, "other", "is a file"), None
    dotgit = os.path.join(path, ".git")
    if not os.path.lexists(dotgit):
        if not os.listdir(path):
            return CheckoutState(path, "empty"), None
        return CheckoutState(path, "other", "is a directory with files in it"), None
    if os.path.islink(dotgit) or not os.path.isdir(dotgit):
        return CheckoutState(
            path, "other", "has a .git that is not a folder (a linked work tree?)"
        ), None
    try:
        repo = open_checkout(path)
    except ApplyError as exc:
        return CheckoutState(path, "other", f"has a .git that cannot be read ({exc})"), None
    if os.path.realpath(repo.workdir or "/") != os.path.realpath(path):
        # core.worktree elsewhere: a checkout as root would write there.
        return CheckoutState(path, "other", f"has a .git whose work tree is {repo.workdir}"), None
    origin = repo.remotes["origin"].url if "origin" in repo.remotes.names() else None
    head = None if repo.head_is_unborn else str(repo.head.target)
    return CheckoutState(path, "checkout", origin=origin, head=head), repo


def _local_work(repo: pygit2.Repository) -> list[str]:
    """What moving or removing this checkout would lose (empty when nothing)."""
    work: list[str] = []
    if repo.state() != RepositoryState.NONE:
        work.append("a merge, rebase or cherry-pick is in progress")
    changed = sorted(
        path
        for path, flags in repo.status(untracked_files="no").items()
        if flags not in (FileStatus.CURRENT, FileStatus.IGNORED)
    )
    if changed:
        more = " …" if len(changed) > _SHOWN_FILES else ""
        work.append(f"{len(changed)} changed file(s): {', '.join(changed[:_SHOWN_FILES])}{more}")
    head = None if repo.head_is_unborn else repo.head.peel(pygit2.Commit).id
    if head is not None and not _on_source(repo, head):
        work.append(
            f"commit {short(str(head))} is on no branch or tag of the source (a local commit)"
        )
    return work


def _on_source(repo: pygit2.Repository, head: pygit2.Oid) -> bool:
    """Whether `head` is what gitpuppet checked out, or is reachable from a fetched ref."""
    mark = repo.references.get(MARK_REF)
    if mark is not None and mark.target == head:
        return True
    names = [n for n in repo.references if n.startswith(("refs/remotes/", "refs/tags/"))]
    for name in sorted(names, key=lambda n: not n.startswith("refs/remotes/")):
        try:
            tip = repo.references[name].peel(pygit2.Commit).id
        except (pygit2.GitError, ValueError, KeyError, pygit2.InvalidSpecError):
            continue
        if tip == head or repo.descendant_of(tip, head):
            return True
    return False


def _refuse_if_work(cur: CheckoutState, action: str, work: list[str] | None = None) -> None:
    found = cur.local_work if work is None else work
    if found:
        raise ApplyError(
            f"{cur.path} has local work, so gitpuppet will not {action}: " + "; ".join(found),
            hint="commit and push it, or discard it (git stash, git checkout -- .), "
            "and the next run goes on",
        )


def _scan_owners(state: CheckoutState, p: GitParams) -> None:
    """Owners and groups, anywhere in the tree, that are not the wanted ones. A name that does
    not exist yet (a user resource of this run creates it; noop did not) matches nothing: apply
    then says it does not exist."""
    uid = gid = None
    with suppress(ApplyError):
        uid = uid_of(p.owner) if p.owner is not None else None
    with suppress(ApplyError):
        gid = gid_of(p.group) if p.group is not None else None
    uid = -1 if p.owner is not None and uid is None else uid
    gid = -1 if p.group is not None and gid is None else gid
    for _fd, _name, st in _entries(p.path):
        if uid is not None and st.st_uid != uid:
            state.owners.add(str(user_name(st.st_uid)))
        if gid is not None and st.st_gid != gid:
            state.groups.add(str(group_name(st.st_gid)))


def _entries(root: str) -> Iterator[tuple[int | None, str, os.stat_result]]:
    """Everything in the tree, with the fd of its directory (None for the root itself). fwalk
    never follows a link, not even one swapped in for a directory halfway: the owner of the tree
    cannot steer a chown run as root outside it."""
    yield None, root, os.lstat(root)
    for _folder, dirs, files, fd in os.fwalk(root, follow_symlinks=False):
        for name in dirs + files:
            try:
                yield fd, name, os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                continue


# -- changing -----------------------------------------------------------------------------------


def _clone(
    p: GitParams,
    cur: CheckoutState,
    target: Target,
    ctx: ApplyContext,
    uid: int | None,
    gid: int | None,
) -> None:
    """Clone into a temporary sibling and rename it into place once it is complete, so the path
    never holds half a checkout."""
    assert p.source
    parent, name = os.path.split(p.path.rstrip("/"))
    if not os.path.isdir(parent):
        raise ApplyError(
            f"parent directory {parent} does not exist",
            hint=f"declare it (file: {parent}, ensure: directory) or create it",
        )
    mode = os.stat(p.path).st_mode & 0o7777 if cur.kind == "empty" else 0o755
    tmp = tempfile.mkdtemp(prefix=f".{name}.gitpuppet-clone-", dir=parent)
    try:
        repo = pygit2.init_repository(tmp, bare=False, origin_url=p.source)
        fetch_all(repo, p.source, ctx)
        _move(repo, target.resolve(repo, p.source), target.branch, fresh=True)
        del repo
        os.chmod(tmp, mode)
        if uid is not None or gid is not None:
            _chown_tree(tmp, uid, gid)
        # rename(2) replaces an empty directory too.
        os.rename(tmp, p.path)
    except OSError as exc:
        raise ApplyError(f"cannot create {p.path}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _move(
    repo: pygit2.Repository, commit: pygit2.Commit, branch: str | None, *, fresh: bool
) -> None:
    """Check `commit` out (as local `branch` tracking origin, or detached). SAFE never overwrites
    a changed file or an untracked one in the way: the checkout fails instead."""
    strategy = CheckoutStrategy.FORCE if fresh else CheckoutStrategy.SAFE
    try:
        repo.checkout_tree(commit.tree, strategy=strategy)
    except pygit2.GitError as exc:
        raise ApplyError(
            f"cannot check out {short(str(commit.id))} in {repo.workdir.rstrip('/')}: {exc}",
            hint="a file in the way is not tracked by git; move it away",
        ) from None
    if branch is None:
        repo.set_head(commit.id)
    else:
        # Not branches.create: libgit2 refuses to force-move the branch HEAD is on.
        repo.references.create(f"refs/heads/{branch}", commit.id, force=True)
        local = repo.branches.local[branch]
        remote = repo.branches.remote.get(f"origin/{branch}")
        if remote is not None:
            local.upstream = remote
        repo.set_head(local.name)
    repo.references.create(MARK_REF, commit.id, force=True)


def _remove(path: str) -> None:
    """Rename the checkout aside, then delete it: the path is whole or gone, never half."""
    parent, name = os.path.split(path.rstrip("/"))
    aside = tempfile.mkdtemp(prefix=f".{name}.gitpuppet-removed-", dir=parent)
    try:
        os.rename(path, os.path.join(aside, name))
    except OSError as exc:
        os.rmdir(aside)
        raise ApplyError(f"cannot remove {path}: {exc.strerror}") from None
    shutil.rmtree(aside, ignore_errors=True)


def _chown_tree(root: str, uid: int | None, gid: int | None) -> None:
    """Give every entry of the tree that is not theirs to `uid`/`gid` (links themselves, never
    what they point to)."""
    try:
        for fd, name, st in _entries(root):
            if (uid is not None and st.st_uid != uid) or (gid is not None and st.st_gid != gid):
                os.chown(
                    name,
                    -1 if uid is None else uid,
                    -1 if gid is None else gid,
                    dir_fd=fd,
                    follow_symlinks=False,
                )
    except OSError as exc:
        raise ApplyError(f"cannot change the owner of {root}: {exc.strerror}") from None


TYPE: Any = GitType()
