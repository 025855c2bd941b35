"""Never backwards (SPEC §7.2 step 3): may the node move from its applied commit to another?

No ancestor of the applied commit is applied (a rollback is a new commit), and under `verify`
no commit whose committer time is older than the applied one's (a replayed old signed commit).
A force-push to a newer history is followed. The node's clone keeps little history, so a commit
that is neither a known descendant nor a known ancestor of the applied one counts as an
ancestor when it is older than it: an old commit replayed from beyond the kept history.
"""

from __future__ import annotations

import time

from gitpuppet.errors import GitpuppetError
from gitpuppet.git.repo import NodeRepo

NOT_BACK = "not moving backwards"


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def backwards(
    repo: NodeRepo, candidate: str, applied: str | None, applied_time: int | None, verify: bool
) -> str | None:
    """Why `candidate` would move the node back from `applied` (a `held: ...` line), or None.

    `applied_time` is the applied commit's committer time as recorded when it was seen, used
    when the clone no longer holds that commit.
    """
    if applied is None or candidate == applied:
        return None
    offer = f"held: the server offers {candidate[:12]}"
    mine = f"the applied {applied[:12]}"
    cand_time = repo.commit_info(candidate).committer_time
    try:
        applied_time = repo.commit_info(applied).committer_time
        known = True
    except GitpuppetError:  # lost with a broken clone: only the recorded time is left
        known = False
    if known and repo.is_ancestor(candidate, applied):
        return f"{offer}, an ancestor of {mine}: {NOT_BACK}"
    older = applied_time is not None and cand_time < applied_time
    if known and repo.is_ancestor(applied, candidate):
        if verify and older:
            return (
                f"{offer}, committed {_when(cand_time)}, before {mine} "
                f"({_when(applied_time or 0)}): {NOT_BACK}"
            )
        return None
    if older:
        return (
            f"{offer}, not a descendant of {mine} and older than it "
            f"({_when(cand_time)} < {_when(applied_time or 0)}): {NOT_BACK}"
        )
    return None
