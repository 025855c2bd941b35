"""state.json under the state dir: applied and last good commits, pending refreshes, last run.

Every write is atomic (random temp name, fsync, rename: gitpuppet/atomic.py); a missing or
corrupt file, or a symlink planted in its place, starts fresh.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitpuppet.atomic import StateWriteError, read_nofollow, write_atomic


@dataclass
class State:
    """What a node remembers between runs."""

    applied_commit: str | None = None
    last_good_commit: str | None = None
    pending_refreshes: list[str] = field(default_factory=list)
    last_run_time: float | None = None
    last_run_result: str | None = None
    last_exit_code: int | None = None
    last_success_time: float | None = None  # last run that converged to the head (not noop)
    node: str | None = None
    environment: str | None = None


def write_json_atomic(
    path: Path, data: Any, mode: int = 0o600, compact: bool = False, sync: bool = True
) -> None:
    """Write JSON to `path` atomically with the given mode (`compact`: no indentation, so the
    C encoder is used; for large files such as reports). Never writes through a planted link;
    raises StateWriteError naming the path (a full disk, say)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateWriteError.of(path, exc) from None
    text = json.dumps(data, indent=None if compact else 2, default=str) + "\n"
    write_atomic(path, text.encode("utf-8"), mode=mode, sync=sync)


def read_json(path: Path) -> Any:
    """The JSON in `path`, read without following a symlink (OSError for one)."""
    return json.loads(read_nofollow(path).decode("utf-8"))


def load_state(state_dir: str | os.PathLike[str]) -> State:
    """The saved state, or a fresh one (with a warning when the file was unreadable)."""
    path = Path(state_dir) / "state.json"
    try:
        raw = read_json(path)
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        known = {f.name for f in dataclasses.fields(State)}
        state = State(**{k: v for k, v in raw.items() if k in known})
        pending = state.pending_refreshes
        if not isinstance(pending, list) or not all(isinstance(p, str) for p in pending):
            raise ValueError("pending_refreshes is not a list of references")
        return state
    except FileNotFoundError:
        return State()
    except (ValueError, TypeError, OSError) as exc:  # a planted symlink too (ELOOP)
        print(
            f"warning: {path} is unreadable ({exc}); starting with a fresh state "
            "(it is rewritten at the end of this run)",
            file=sys.stderr,
        )
        return State()


def save_state(state_dir: str | os.PathLike[str], state: State) -> None:
    """Write state.json atomically (mode 0600)."""
    write_json_atomic(Path(state_dir) / "state.json", dataclasses.asdict(state))
