"""The rollout's git side: read the commits newer than the applied one and the settings of the
newest, then let `plan.decide` choose (SPEC §10).

Under `verify`, only commits that verify count: a commit that does not is never chosen and its
`Rollout:` trailers are ignored, and the settings come from the head, which the agent refuses
anyway when it does not verify (so an unsigned commit a mirror slips in cannot speed a rollout
up, resume a pause or lift a halt).
"""

from __future__ import annotations

from collections.abc import Callable

from gitpuppet.errors import GitpuppetError, SourceError
from gitpuppet.git.repo import KEEP_HISTORY_LIMIT, NodeRepo
from gitpuppet.rollout.plan import CommitView, Decision, FailuresOn, bucket, decide
from gitpuppet.rollout.settings import RolloutSettings, load_rollout


class RolloutSettingsError(GitpuppetError):
    """The newest commit's rollout settings are wrong: the node stays where it is (exit 4)."""


def pending_commits(
    repo: NodeRepo, head: str, applied: str | None, limit: int = KEEP_HISTORY_LIMIT
) -> list[str]:
    """First-parent commits from `head` down to (not including) the applied commit or any
    ancestor of it, newest first: the commits the node has not applied yet."""
    out: list[str] = []
    for commit in repo.first_parent_history(head, limit):
        if applied is not None and repo.is_ancestor(commit, applied):
            break
        out.append(commit)
    return out


def _view(repo: NodeRepo, commit: str) -> CommitView:
    info = repo.commit_info(commit)
    return CommitView(info.id, info.committer_time, info.message, info.trailers)


def rollout_settings(repo: NodeRepo, commit: str) -> RolloutSettings:
    """The rollout settings of `commit`; RolloutSettingsError naming gitpuppet.yaml:line."""
    try:
        return load_rollout(repo.tree(commit))
    except SourceError as exc:
        raise RolloutSettingsError(
            f"the rollout settings of {commit[:12]} are invalid: {exc}",
            "fix gitpuppet.yaml in a new commit; the applied commit is kept meanwhile",
        ) from None


def choose(
    repo: NodeRepo,
    head: str,
    node: str,
    applied: str | None,
    *,
    now: float,
    failures_on: FailuresOn | None = None,
    trusted: Callable[[str], bool] | None = None,
    pending: list[str] | None = None,
) -> Decision:
    """The rollout's decision for `node`; RolloutSettingsError when the head's are invalid.

    `pending`: `pending_commits(repo, head, applied)` when the caller has it already."""
    if trusted is not None and not trusted(head):
        # The agent's verification refuses the head and says why; nothing to stage.
        return Decision(head, head, bucket(node), None)
    settings = rollout_settings(repo, head)
    commits = pending if pending is not None else pending_commits(repo, head, applied)
    if trusted is not None:
        commits = [c for c in commits if c == head or trusted(c)]
    history = [_view(repo, c) for c in commits]
    return decide(node, settings, history, applied, now, failures_on)
