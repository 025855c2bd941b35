"""The git side of the reports repository (SPEC §11): the node's local store, commits, pushes.

The node keeps a small bare repository, `<state_dir>/reports.git`, holding its own branch
`refs/heads/nodes/<name>`, the halt markers it wants on the server (`refs/heads/halt/<C>/<name>`)
and, under `refs/gitpuppet/pushed/`, what the server is known to hold. A new summary commit is
made on top of the last *pushed* one, so a server that is down for a week leaves one pending
commit, not a queue: the next run replaces it. Every push is forced (no other writer touches a
node's refs) and bounded by short timeouts, so a dead server costs a run seconds, not minutes.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from gitpuppet.config import AgentConfig
from gitpuppet.errors import GitpuppetError
from gitpuppet.git.remote import (
    Callbacks,
    describe_error,
    install_known_hosts,
    set_timeouts,
    trust_ca_file,
)
from gitpuppet.git.urls import parse_url

HISTORY = 10  # commits per node branch; the 11th summary starts a new root commit
PUSH_CONNECT_TIMEOUT_MS = 5_000
PUSH_IO_TIMEOUT_MS = 5_000  # per read or write: a small push never waits that long
PUSHED = "refs/gitpuppet/pushed/"


class ReportsUnavailable(GitpuppetError):
    """The reports repository could not be read or written; the message says why."""


def node_ref(node: str) -> str:
    """The node's branch; a ReportsUnavailable when the name cannot be a git branch name."""
    ref = f"refs/heads/nodes/{node}"
    if not node or not pygit2.reference_is_valid_name(ref) or node.startswith("-"):
        raise ReportsUnavailable(
            f"node name {node!r} cannot be used as a git branch name; reports are not pushed",
            "set node_name in the agent config to a DNS-like name",
        )
    return ref


def halt_ref(commit: str, node: str) -> str:
    """The halt marker of `node` for `commit` (a full hex commit id)."""
    if len(commit) not in (40, 64) or any(c not in "0123456789abcdef" for c in commit):
        raise ReportsUnavailable(f"{commit!r} is not a full commit id")
    return f"refs/heads/halt/{commit}/{node_ref(node).removeprefix('refs/heads/nodes/')}"


def open_store(state_dir: Path) -> pygit2.Repository:
    """The node's local reports repository (created on first use, and again when it is
    damaged: what it holds was pushed already, or is replaced by the next run's report)."""
    path = Path(state_dir) / "reports.git"
    if (path / "HEAD").is_file():
        try:
            return pygit2.Repository(str(path))
        except pygit2.GitError:
            shutil.rmtree(path)  # the state dir is root's alone (state.py refuses others)
    Path(state_dir).mkdir(parents=True, exist_ok=True, mode=0o755)
    return pygit2.init_repository(str(path), bare=True)


def _signature(node: str) -> pygit2.Signature:
    return pygit2.Signature("gitpuppet", f"gitpuppet@{node}", int(time.time()), 0)


def _parents_within_history(repo: pygit2.Repository, parent: pygit2.Oid | None) -> list[pygit2.Oid]:
    """[parent], or [] when the branch already holds HISTORY commits (a new root then)."""
    if parent is None:
        return []
    seen, oid = 0, parent
    while True:
        seen += 1
        if seen >= HISTORY:
            return []
        try:
            commit = repo.get(oid)
        except (pygit2.GitError, ValueError):
            return []
        if not isinstance(commit, pygit2.Commit) or not commit.parent_ids:
            return [parent]
        oid = commit.parent_ids[0]


def _target(repo: pygit2.Repository, name: str) -> pygit2.Oid | None:
    """What the direct ref `name` points at (None: no such ref)."""
    found = repo.references.get(name)
    if found is None or not isinstance(found.target, pygit2.Oid):
        return None
    return found.target


def _blob_of(repo: pygit2.Repository, ref: str, name: str) -> pygit2.Oid | None:
    """The blob `name` in the tip tree of `ref`, if both exist."""
    target = _target(repo, ref)
    found = repo.get(target) if target is not None else None
    if found is None:
        return None
    tree = found.peel(pygit2.Tree)
    return tree[name].id if name in tree else None


def commit_summary(
    repo: pygit2.Repository, node: str, files: dict[str, bytes | None], message: str
) -> pygit2.Oid:
    """Commit `files` on the node's branch, on top of its last pushed commit; a None content
    keeps the newest commit's blob of that name (a disabled run has no fresh facts)."""
    ref = node_ref(node)
    parents = _parents_within_history(repo, _target(repo, PUSHED + ref.removeprefix("refs/")))
    builder = repo.TreeBuilder()
    for name, content in sorted(files.items()):
        blob = repo.create_blob(content) if content is not None else _blob_of(repo, ref, name)
        if blob is None:
            blob = repo.create_blob(b"{}\n")
        builder.insert(name, blob, pygit2.GIT_FILEMODE_BLOB)
    tree = builder.write()
    sig = _signature(node)
    oid = repo.create_commit(None, sig, sig, message, tree, parents)
    repo.references.create(ref, oid, force=True)
    return oid


def set_halt_marker(repo: pygit2.Repository, node: str, commit: str | None, message: str) -> bool:
    """Keep exactly one wanted halt marker (for `commit`) or none; True when that changed."""
    wanted = halt_ref(commit, node) if commit else None
    changed = False
    for name in list(repo.references):
        if name.startswith("refs/heads/halt/") and name != wanted:
            repo.references.delete(name)
            changed = True
    if wanted is not None and repo.references.get(wanted) is None:
        sig = _signature(node)
        oid = repo.create_commit(None, sig, sig, message, repo.TreeBuilder().write(), [])
        repo.references.create(wanted, oid)
        changed = True
    return changed


@dataclass
class PushPlan:
    """Refspecs to push to one URL, and the local `pushed/` refs to set or drop on success."""

    url: str
    specs: list[str] = field(default_factory=list)
    done: dict[str, pygit2.Oid | None] = field(default_factory=dict)


def plan_push(repo: pygit2.Repository, url: str, prefixes: tuple[str, ...]) -> PushPlan:
    """What the server lacks, for the local refs under `prefixes` (refs/heads/...)."""
    plan = PushPlan(url)
    names = list(repo.references)
    local = {n: _target(repo, n) for n in names if n.startswith(prefixes)}
    known = {
        "refs/" + n.removeprefix(PUSHED): _target(repo, n)
        for n in names
        if n.startswith(PUSHED) and ("refs/" + n.removeprefix(PUSHED)).startswith(prefixes)
    }
    for name, oid in sorted(local.items()):
        if known.get(name) != oid:
            plan.specs.append(f"+{name}:{name}")
            plan.done[name] = oid
    for name in sorted(set(known) - set(local)):
        plan.specs.append(f":{name}")
        plan.done[name] = None
    return plan


class _PushCallbacks(Callbacks):
    """The control repo's credentials and host-key checks, plus the server's verdict per ref."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.rejected: dict[str, str] = {}

    def push_update_reference(self, refname: str, message: str | None) -> None:
        """Remember a ref the server refused (message None: accepted)."""
        if message:
            self.rejected[refname] = message


@contextmanager
def _short_timeouts() -> Iterator[None]:
    pygit2.settings.server_connect_timeout = PUSH_CONNECT_TIMEOUT_MS
    pygit2.settings.server_timeout = PUSH_IO_TIMEOUT_MS
    try:
        yield
    finally:
        set_timeouts()


def _callbacks(config: AgentConfig, url: str) -> _PushCallbacks:
    remote_url = parse_url(url)
    known = config.known_hosts or Path("~/.ssh/known_hosts")
    if remote_url.transport == "ssh":
        home = Path(config.state_dir) / ".reports.git.ssh-home"
        known = install_known_hosts(config.known_hosts, home)
    if remote_url.transport == "https" and config.ca_file is not None:
        trust_ca_file(config.ca_file)
    return _PushCallbacks(remote_url, config.reports_ssh_key, known)


def push(repo: pygit2.Repository, config: AgentConfig, plan: PushPlan) -> None:
    """Push `plan`; on success record what the server now holds. ReportsUnavailable otherwise."""
    if not plan.specs:
        return
    try:
        callbacks = _callbacks(config, plan.url)
    except GitpuppetError as exc:
        raise ReportsUnavailable(str(exc), exc.hint) from None
    remote = repo.remotes.create_anonymous(plan.url)
    try:
        with _short_timeouts():
            remote.push(plan.specs, callbacks=callbacks)
    except (pygit2.GitError, GitpuppetError, OSError) as exc:
        reason = describe_error(callbacks.where, exc, callbacks)
        raise ReportsUnavailable(reason) from None
    for name, oid in plan.done.items():
        if name in callbacks.rejected:
            continue
        pushed = PUSHED + name.removeprefix("refs/")
        if oid is None:
            if repo.references.get(pushed) is not None:
                repo.references.delete(pushed)
        else:
            repo.references.create(pushed, oid, force=True)
    if callbacks.rejected:
        name, why = next(iter(callbacks.rejected.items()))
        raise ReportsUnavailable(f"the server refused {name}: {why}")


def list_refs(
    config: AgentConfig, url: str, prefix: str, *, short_timeouts: bool = True
) -> list[str]:
    """Names of the server's refs starting with `prefix` (one ref advertisement, no objects).

    `short_timeouts`: the push's timeouts for the call (libgit2's are process-wide: a caller
    in a thread passes False, keeps the fetch's, and bounds its own wait)."""
    repo = open_store(Path(config.state_dir))
    try:
        callbacks = _callbacks(config, url)
    except GitpuppetError as exc:
        raise ReportsUnavailable(str(exc), exc.hint) from None
    remote = repo.remotes.create_anonymous(url)
    try:
        with _short_timeouts() if short_timeouts else nullcontext():
            heads = remote.list_heads(callbacks=callbacks)
    except (pygit2.GitError, GitpuppetError, OSError) as exc:
        raise ReportsUnavailable(describe_error(callbacks.where, exc, callbacks)) from None
    return [h.name for h in heads if h.name and h.name.startswith(prefix)]


__all__ = [
    "HISTORY",
    "PushPlan",
    "ReportsUnavailable",
    "commit_summary",
    "halt_ref",
    "list_refs",
    "node_ref",
    "open_store",
    "plan_push",
    "push",
    "set_halt_marker",
]
