"""When this node first saw each commit it fetched (state_dir/seen.json), and its committer time.

A signer chooses the committer time of a commit; the node does not. allowed_signers'
`valid-before` / `valid-after` are therefore also checked at the time the node first saw the
commit, so a key that expired cannot sign a back-dated commit that verifies. The file is bounded
(the newest MAX_ENTRIES commits, the applied one always kept).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from gitpuppet.state import write_json_atomic

FILE_NAME = "seen.json"
MAX_ENTRIES = 500


@dataclass(frozen=True, slots=True)
class Seen:
    """A commit's first-seen time on this node and its committer time (epoch seconds)."""

    first_seen: float
    committed: int


def load_seen(state_dir: Path) -> dict[str, Seen]:
    """The record, empty when missing or unreadable (then the commits count as seen now)."""
    try:
        raw = json.loads((state_dir / FILE_NAME).read_text(encoding="utf-8"))
        return {
            str(commit): Seen(float(entry["first_seen"]), int(entry["committed"]))
            for commit, entry in raw["commits"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def note_seen(
    state_dir: Path, commits: dict[str, int], keep: str | None = None, now: float | None = None
) -> dict[str, Seen]:
    """Record `commits` (id -> committer time) as seen now unless seen before; returns the
    record. `keep` (the applied commit) is never dropped to honour MAX_ENTRIES."""
    record = load_seen(state_dir)
    when = time.time() if now is None else now
    new = {c: Seen(when, t) for c, t in commits.items() if c not in record}
    if not new:
        return record
    record.update(new)
    if len(record) > MAX_ENTRIES:
        newest = sorted(record, key=lambda c: record[c].first_seen, reverse=True)
        kept = set(newest[:MAX_ENTRIES]) | ({keep} if keep in record else set())
        record = {c: s for c, s in record.items() if c in kept}
    data = {
        "commits": {
            c: {"first_seen": s.first_seen, "committed": s.committed} for c, s in record.items()
        }
    }
    write_json_atomic(state_dir / FILE_NAME, data, compact=True)
    return record
