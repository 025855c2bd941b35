"""state_dir/rollout.json: the rollout's last decision, for `gitpuppet status` and the fleet view.

Written atomically (gitpuppet's atomic-write helper, never through a planted link) at every
pull; read back as a `RolloutStatus`. Nothing secret is in it: commit ids, times, and a pause
reason already stripped of control characters (and URL credentials, by the readers' redaction).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitpuppet.atomic import StateWriteError
from gitpuppet.rollout.plan import Decision, pending_line
from gitpuppet.state import read_json, write_json_atomic

FILE_NAME = "rollout.json"


@dataclass
class RolloutStatus:
    """What the last pull decided about the rollout of this node."""

    node: str | None = None
    branch: str | None = None
    bucket: int | None = None
    wave: int | None = None
    head: str | None = None
    chosen: str | None = None
    pending: str | None = None
    due_at: float | None = None
    held: str | None = None
    paused: str | None = None
    ignored: str | None = None  # why the rollout was bypassed (--ignore-rollout, --branch)
    decided_at: float | None = None
    halt: bool = False  # the automatic halt applies: the next run reads the markers early


def status_of(
    decision: Decision, node: str, branch: str, ignored: str | None = None
) -> RolloutStatus:
    """The record of one decision."""
    return RolloutStatus(
        node=node,
        branch=branch,
        bucket=decision.bucket,
        wave=decision.wave,
        head=decision.head or None,
        chosen=decision.commit,
        pending=decision.pending,
        due_at=decision.due_at,
        held=decision.held,
        paused=decision.paused,
        ignored=ignored,
        decided_at=time.time(),
        halt=decision.halt,
    )


def save_rollout_status(state_dir: Path, status: RolloutStatus) -> str | None:
    """Write rollout.json; returns a warning instead of raising when it cannot be written."""
    try:
        write_json_atomic(Path(state_dir) / FILE_NAME, dataclasses.asdict(status), mode=0o644)
    except (OSError, StateWriteError) as exc:
        return f"cannot record the rollout status in {state_dir}: {exc}"
    return None


def load_rollout_status(state_dir: Path) -> RolloutStatus | None:
    """The last decision, or None (no pull yet, or an unreadable file)."""
    try:
        raw: Any = read_json(Path(state_dir) / FILE_NAME)
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    known = {f.name for f in dataclasses.fields(RolloutStatus)}
    try:
        return RolloutStatus(**{k: v for k, v in raw.items() if k in known})
    except TypeError:
        return None


def status_lines(status: RolloutStatus | None) -> list[tuple[str, str]]:
    """(label, text) lines for `gitpuppet status`: bucket and wave, branch, pending, paused."""
    if status is None:
        return []
    wave = f"wave {status.wave}" if status.wave else "no rollout settings: every commit at once"
    lines = [("rollout", f"bucket {status.bucket}, {wave}, branch {status.branch}")]
    if status.ignored:
        lines.append(("rollout", f"ignored by {status.ignored}"))
    pending = pending_line(status.pending, status.due_at, status.held, status.wave)
    lines.append(("pending", pending or "none (the branch head is applied)"))
    if status.paused:
        lines.append(("rollout", f"paused: {status.paused}"))
    return lines
