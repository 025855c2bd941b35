"""Bring the reports repository's `nodes/*` branches into a local cache (pygit2), and read them.

One bare cache repository per reports URL (per shard), named by a hash of the URL so that no
credential or path from the URL ends up in a file name. Only `refs/heads/nodes/*` is fetched
(halt markers and anything else a node pushed stay on the server), pruned, so a branch deleted
upstream disappears from the view. The shards are fetched in parallel (a few threads: libgit2
waits on the network without holding the GIL), each into its own repository object.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pygit2
from pygit2.enums import FetchPrune

from gitpuppet.errors import GitpuppetError
from gitpuppet.git.remote import Callbacks, describe_error, install_known_hosts, set_timeouts
from gitpuppet.git.urls import parse_url
from gitpuppet.redact import redact_url

NODE_REFS = "refs/fleet/nodes/"
REFSPEC = f"+refs/heads/nodes/*:{NODE_REFS}*"
SHARD = "{shard}"
FETCH_THREADS = 8


@dataclass(frozen=True, slots=True)
class Source:
    """Where the reports are: the URL (may hold `{shard}`), shards, credentials."""

    url: str
    shards: int = 1
    ssh_key: Path | None = None
    known_hosts: Path | None = None

    def urls(self) -> list[str]:
        """One URL per shard (SPEC §11: `{shard}` replaced by 0 … shards-1)."""
        if SHARD not in self.url:
            return [self.url]
        return [self.url.replace(SHARD, str(i)) for i in range(self.shards)]


@dataclass
class Fetched:
    """The cache repositories that were fetched, and what went wrong with the others."""

    repos: list[pygit2.Repository] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def cache_path(root: Path, url: str) -> Path:
    """The cache repository for one URL under `root` (named by a hash of the URL)."""
    return root / (hashlib.sha256(url.encode()).hexdigest()[:16] + ".git")


def fetch_all(source: Source, cache_root: Path) -> Fetched:
    """Fetch every shard's node branches into caches under `cache_root`.

    A shard that cannot be fetched is an error line in the result (its cached copy, if any,
    is not used: the view must not pass off old reports as current). Raises GitpuppetError only
    when no shard at all could be fetched.
    """
    set_timeouts()
    cache_root.mkdir(parents=True, exist_ok=True, mode=0o700)
    known = _known_hosts(source, cache_root)
    urls = source.urls()

    def one(url: str) -> pygit2.Repository | str:
        try:
            return _fetch_one(url, cache_path(cache_root, url), source.ssh_key, known)
        except GitpuppetError as exc:
            return redact_url(str(exc))

    out = Fetched()
    with ThreadPoolExecutor(max_workers=min(FETCH_THREADS, len(urls))) as pool:
        for got in pool.map(one, urls):  # in shard order, whatever order they finish in
            if isinstance(got, str):
                out.errors.append(got)
            else:
                out.repos.append(got)
    if not out.repos:
        raise GitpuppetError(
            "no reports repository could be fetched: " + "; ".join(out.errors),
            "check reports.repo in the agent config (or --reports-repo) and its credentials",
        )
    return out


def _known_hosts(source: Source, cache_root: Path) -> Path:
    if any(parse_url(u).transport == "ssh" for u in source.urls()):
        return install_known_hosts(source.known_hosts, cache_root / ".ssh-home")
    return source.known_hosts or Path("~/.ssh/known_hosts")


def _fetch_one(url: str, path: Path, ssh_key: Path | None, known: Path) -> pygit2.Repository:
    if (path / "HEAD").is_file():
        repo = pygit2.Repository(str(path))
    else:
        repo = pygit2.init_repository(str(path), bare=True)
    remote_url = parse_url(url)
    callbacks = Callbacks(remote_url, ssh_key, known)
    try:
        remote = repo.remotes.create_anonymous(url)
        remote.fetch([REFSPEC], callbacks=callbacks, prune=FetchPrune.PRUNE)
    except (pygit2.GitError, GitpuppetError, OSError, ValueError) as exc:
        raise GitpuppetError(
            f"{redact_url(url)}: {describe_error(remote_url, exc, callbacks)}"
        ) from None
    return repo


def node_tips(repo: pygit2.Repository) -> Iterator[tuple[str, pygit2.Commit | None]]:
    """(node name as the branch spells it, tip commit or None if it is not a commit)."""
    for name in repo.references:
        if not name.startswith(NODE_REFS):
            continue
        node = name[len(NODE_REFS) :]
        try:
            obj = repo.get(repo.references[name].target)
        except (pygit2.GitError, KeyError, ValueError):
            obj = None
        yield node, obj if isinstance(obj, pygit2.Commit) else None
