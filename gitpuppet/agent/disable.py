"""`gitpuppet disable` / `enable`: a file under state_dir holding why, when and who."""

from __future__ import annotations

import getpass
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from gitpuppet.errors import GitpuppetError
from gitpuppet.state import write_json_atomic

FILE_NAME = "disabled"


@dataclass(frozen=True)
class Disabled:
    """Why runs are stopped, since when (epoch seconds) and by whom."""

    reason: str
    since: float
    by: str

    def describe(self) -> str:
        """`disabled by alice at 2026-11-21 18:00:00 UTC: kernel upgrade`."""
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.since))
        return f"disabled by {self.by} at {when}: {self.reason}"


class RunDisabled(GitpuppetError):
    """Runs are disabled: the run is skipped (exit 3)."""

    exit_code = 3


def _who() -> str:
    # SUDO_USER names the person behind `sudo gitpuppet disable`, which is what status should show.
    user = os.environ.get("SUDO_USER")
    if not user:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = str(os.getuid())
    return user


def disable(state_dir: str | os.PathLike[str], reason: str | None) -> Disabled:
    """Stop runs until `enable`; the reason is shown by `status` and by every skipped run."""
    info = Disabled(reason or "no reason given", time.time(), _who())
    Path(state_dir).mkdir(parents=True, exist_ok=True, mode=0o755)
    write_json_atomic(
        Path(state_dir) / FILE_NAME,
        {"reason": info.reason, "since": info.since, "by": info.by},
        mode=0o644,
    )
    return info


def enable(state_dir: str | os.PathLike[str]) -> Disabled | None:
    """Allow runs again; returns what the disable said (None when runs were not disabled)."""
    info = disabled(state_dir)
    (Path(state_dir) / FILE_NAME).unlink(missing_ok=True)
    return info


def disabled(state_dir: str | os.PathLike[str]) -> Disabled | None:
    """The disable record, or None; an unreadable file still counts as disabled."""
    path = Path(state_dir) / FILE_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        return Disabled(f"(unreadable {path}: {exc.strerror})", path.stat().st_mtime, "?")
    try:
        raw = json.loads(text)
        return Disabled(str(raw["reason"]), float(raw["since"]), str(raw["by"]))
    except (ValueError, KeyError, TypeError):
        # Someone wrote the file by hand (`echo reason > disabled`): its text is the reason.
        return Disabled(text.strip() or "no reason given", path.stat().st_mtime, "?")
