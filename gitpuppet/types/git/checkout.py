"""The git type's talk with the source: what a revision points to there, fetching, credentials.

Reused from the agent's git layer (gitpuppet/git): `Callbacks` (credentials, host-key checks and
the messages that go with them), `install_known_hosts`, `set_timeouts`, `describe_error`,
`parse_url` and `redact`.

Credentials are those `git clone` run by the same user would use: the first of
~/.ssh/id_ed25519, id_ecdsa, id_rsa, and host keys from ~/.ssh/known_hosts (an unknown or
changed host key is refused, never accepted). The agent's own deploy key is not used: a deploy
key usually opens one repository, the control repo. https takes user:token from the URL.
"""

from __future__ import annotations

import os
import pwd
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2
from pygit2.enums import CredentialType, Option, RepositoryOpenFlag

from gitpuppet.contract import ApplyContext
from gitpuppet.errors import ApplyError, GitpuppetError, did_you_mean
from gitpuppet.git.remote import (
    Callbacks,
    RemoteError,
    describe_error,
    install_known_hosts,
    set_timeouts,
)
from gitpuppet.git.urls import RemoteUrl, parse_url, redact

# The ssh folder whose key and known_hosts are used; None: the running user's ~/.ssh.
# Tests point it at a temporary folder.
SSH_DIR: Path | None = None
KEY_NAMES = ("id_ed25519", "id_ecdsa", "id_rsa")
FETCH_REFSPECS = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
_HEX = re.compile(r"[0-9a-f]{4,40}")
_FAILED = (pygit2.GitError, GitpuppetError, OSError, ValueError, KeyError)


def short(commit: str | None) -> str | None:
    """A commit id as reports show it."""
    return commit[:12] if commit else None


@dataclass(frozen=True, slots=True)
class Target:
    """Where `revision` points on the source: `commit` when known before fetching (a branch or
    tag the source advertised, a full commit id), `branch` when it is checked out as a branch."""

    revision: str
    commit: str | None
    branch: str | None

    def label(self) -> str:
        """The new value a report shows: the short commit id, or the revision as written."""
        return short(self.commit) or self.revision

    def resolve(self, repo: pygit2.Repository, source: str) -> pygit2.Commit:
        """The commit, read from `repo` after a fetch."""
        try:
            return repo.revparse_single(self.commit or self.revision).peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            raise ApplyError(
                f"commit {self.revision} is not on any branch or tag of {redact(source)}"
            ) from None


def ssh_folder() -> Path:
    """Where the ssh key and known_hosts are read from."""
    if SSH_DIR is not None:
        return SSH_DIR
    try:
        home = pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        home = os.path.expanduser("~")
    return Path(home) / ".ssh"


class _Callbacks(Callbacks):
    """The agent's callbacks, with advice that fits a git resource when there is no key."""

    def __init__(self, remote: RemoteUrl, ssh_dir: Path) -> None:
        key = next((ssh_dir / n for n in KEY_NAMES if (ssh_dir / n).is_file()), None)
        super().__init__(remote, key, ssh_dir / "known_hosts")
        self.ssh_dir = ssh_dir

    def credentials(
        self, url: str, username_from_url: str | None, allowed_types: CredentialType
    ) -> Any:
        """As the agent's, but say where the key is looked for."""
        wants_key = allowed_types & CredentialType.SSH_KEY
        if self.ssh_key is None and wants_key and not allowed_types & CredentialType.USERNAME:
            raise RemoteError(
                f"{self.where.host_label} asks for an ssh key and there is none in {self.ssh_dir}",
                f"put a key that may read the repository at {self.ssh_dir}/{KEY_NAMES[0]}",
            )
        return super().credentials(url, username_from_url, allowed_types)


@contextmanager
def transport(source: str, ctx: ApplyContext) -> Iterator[Callbacks]:
    """Callbacks for talking to `source`; for ssh, libgit2 is pointed at a private copy of the
    known_hosts for the duration (a process-wide setting, restored afterwards)."""
    set_timeouts()
    remote = parse_url(source)
    ssh_dir = ssh_folder()
    if remote.transport != "ssh":
        yield _Callbacks(remote, ssh_dir)
        return
    known = ssh_dir / "known_hosts"
    previous = pygit2.settings.homedir
    home = Path(ctx.state_dir) / ".git-resource.ssh-home"
    try:
        try:
            install_known_hosts(known if known.is_file() else Path(os.devnull), home)
        except (OSError, GitpuppetError) as exc:
            raise ApplyError(f"cannot prepare ssh for {redact(source)}: {exc}") from None
        yield _Callbacks(remote, ssh_dir)
    finally:
        if previous is not None:
            pygit2.settings.homedir = previous


def _unreachable(source: str, exc: BaseException, callbacks: Callbacks) -> ApplyError:
    return ApplyError(
        f"cannot fetch from {redact(source)}: {describe_error(parse_url(source), exc, callbacks)}"
    )


def list_heads(source: str, ctx: ApplyContext, repo: pygit2.Repository | None) -> dict[str, Any]:
    """The refs the source advertises (name -> commit id), and 'HEAD->' -> its branch."""
    with transport(source, ctx) as callbacks:
        holder = repo if repo is not None else pygit2.Repository()  # in memory: nothing written
        try:
            heads = holder.remotes.create_anonymous(source).list_heads(callbacks=callbacks)
        except _FAILED as exc:
            raise _unreachable(source, exc, callbacks) from None
    out: dict[str, Any] = {h.name: str(h.oid) for h in heads if h.name}
    head = next((h for h in heads if h.name == "HEAD"), None)
    out["HEAD->"] = head.symref_target if head is not None else None
    return out


def remote_target(
    source: str, revision: str, ctx: ApplyContext, repo: pygit2.Repository | None
) -> Target:
    """Where `revision` points on the source now (a full commit id needs no question)."""
    if re.fullmatch(r"[0-9a-f]{40}", revision):
        return Target(revision, revision, None)
    heads = list_heads(source, ctx, repo)
    if revision == "HEAD":
        if "HEAD" not in heads:
            raise ApplyError(f"{redact(source)} has no commits yet")
        branch = heads["HEAD->"]
        name = branch.removeprefix("refs/heads/") if branch else None
        return Target(revision, heads["HEAD"], name)
    for ref in (revision, f"refs/tags/{revision}", f"refs/heads/{revision}"):
        if ref.startswith("refs/") and ref in heads:
            if ref.startswith("refs/heads/"):
                return Target(revision, heads[ref], ref.removeprefix("refs/heads/"))
            return Target(revision, heads.get(ref + "^{}", heads[ref]), None)
    if _HEX.fullmatch(revision):
        commit = None
        if repo is not None:
            try:
                commit = str(repo.revparse_single(revision).peel(pygit2.Commit).id)
            except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
                commit = None
        return Target(revision, commit, None)
    names = [
        n.split("/", 2)[2]
        for n in heads
        if n.startswith(("refs/heads/", "refs/tags/")) and not n.endswith("^{}")
    ]
    raise ApplyError(
        f"revision '{revision}' is not a branch, tag or commit of {redact(source)}",
        hint=did_you_mean(revision, names),
    )


def fetch_all(repo: pygit2.Repository, source: str, ctx: ApplyContext) -> None:
    """Fetch every branch (into refs/remotes/origin/) and every tag of the source."""
    with transport(source, ctx) as callbacks:
        try:
            repo.remotes.create_anonymous(source).fetch(FETCH_REFSPECS, callbacks=callbacks)
        except _FAILED as exc:
            raise _unreachable(source, exc, callbacks) from None


def open_checkout(path: str) -> pygit2.Repository:
    """Open the repository at `path` itself (no search upwards), whoever owns it: the tree may
    have been given to `owner`, and libgit2 runs no hooks or filters from it."""
    previous = pygit2.option(Option.GET_OWNER_VALIDATION)
    pygit2.option(Option.SET_OWNER_VALIDATION, 0)
    try:
        return pygit2.Repository(path, RepositoryOpenFlag.NO_SEARCH)
    except pygit2.GitError as exc:
        raise ApplyError(str(exc)) from None
    finally:
        pygit2.option(Option.SET_OWNER_VALIDATION, 1 if previous else 0)


def _normal(url: str) -> str:
    remote = parse_url(url)
    if remote.transport == "local":
        path = url[len("file://") :] if url.startswith("file://") else url
        return os.path.realpath(path)
    text = redact(url).rstrip("/")
    return text.removesuffix(".git")


def same_source(origin: str | None, source: str) -> bool:
    """Whether a checkout's origin URL is `source` (file:// and a plain path are the same;
    a trailing / or .git does not matter for a network URL)."""
    return origin is not None and _normal(origin) == _normal(source)
