"""Which commit a node may apply under the rollout (SPEC §10): pure, the clock passed in.

Given the node's name, the rollout settings, the first-parent commits newer than the applied
one (newest first) and `now`, `decide` picks the newest commit that is *due* for the node's wave
and not halted, or keeps the applied commit (a pause, nothing due yet). It never looks at
commits older than the applied one, so it never chooses a move backwards.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gitpuppet.errors import GitpuppetError
from gitpuppet.rollout.settings import RolloutSettings

FailuresOn = Callable[[str], list[str]]
TRAILER = "Rollout"
WORDS = ("immediate", "pause", "resume")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
REASON_MAX = 200


def bucket(node: str) -> int:
    """The node's bucket, 0..99: int(sha256(node_name).hexdigest()[:8], 16) % 100."""
    return int(hashlib.sha256(node.encode("utf-8")).hexdigest()[:8], 16) % 100


def wave_index(settings: RolloutSettings, node_bucket: int) -> int:
    """0-based index of the first wave whose percent is above the bucket."""
    for index, wave in enumerate(settings.waves):
        if wave.percent > node_bucket:
            return index
    return len(settings.waves) - 1  # unreachable: the last wave is 100%


@dataclass(frozen=True, slots=True)
class CommitView:
    """What the rollout reads of a commit: id, committer time, message and trailers."""

    id: str
    time: int
    message: str
    trailers: dict[str, str]

    @property
    def words(self) -> set[str]:
        """The `Rollout:` trailer's words (`immediate`, `pause`, `resume`), lower case."""
        value = self.trailers.get(TRAILER, "")
        return {w for w in re.split(r"[\s,]+", value.lower()) if w}


@dataclass
class Decision:
    """The rollout's answer for one node, and what `status` shows about it.

    `commit` is what to apply (the applied one when held; None when nothing was ever applied
    and nothing is due). `pending` is the newest commit not applied, with when it becomes due
    (`due_at`) or why it is held (`held`).
    """

    commit: str | None
    head: str
    bucket: int
    wave: int | None  # numbered from 1; None without rollout settings
    pending: str | None = None
    due_at: float | None = None
    held: str | None = None
    paused: str | None = None
    warnings: list[str] = field(default_factory=list)
    halt: bool = False  # the automatic halt applies to this node (a later wave, N set)
    counted: bool = True  # this node's failures count toward a later wave's halt

    def pending_line(self) -> str | None:
        """`<commit> due <when> (wave N)` or `<commit> held: <why>`; None when up to date."""
        return pending_line(self.pending, self.due_at, self.held, self.wave)


def pending_line(
    pending: str | None, due_at: float | None, held: str | None, wave: int | None
) -> str | None:
    """The status line about the commit not applied yet, or None."""
    if pending is None:
        return None
    if held:
        return f"{pending[:12]} held: {held}"
    if due_at is not None:
        return f"{pending[:12]} due {_when(due_at)}" + (f" (wave {wave})" if wave else "")
    return f"{pending[:12]} not applied"


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def clean_reason(message: str) -> str:
    """A pause reason for one status line: the message without its trailers, no control bytes."""
    paragraphs = [p for p in re.split(r"\n\s*\n", message.strip()) if p.strip()]
    if len(paragraphs) > 1 and re.match(rf"^{TRAILER}\s*:", paragraphs[-1], re.M | re.I):
        paragraphs = paragraphs[:-1]
    text = _CONTROL.sub(" ", " ".join(paragraphs))
    text = " ".join(text.split()) or "no reason given"
    return text if len(text) <= REASON_MAX else text[: REASON_MAX - 1] + "…"


def active_pause(history: Sequence[CommitView]) -> CommitView | None:
    """The pause commit in force: the newest `pause` with no `resume` after it, or None."""
    for commit in history:
        words = commit.words
        if "resume" in words:
            return None
        if "pause" in words:
            return commit
    return None


def decide(
    node: str,
    settings: RolloutSettings,
    history: Sequence[CommitView],
    applied: str | None,
    now: float,
    failures_on: FailuresOn | None = None,
) -> Decision:
    """The newest due, not halted commit of `history` (newer than `applied`, newest first)."""
    node_bucket = bucket(node)
    index = wave_index(settings, node_bucket)
    head = history[0].id if history else (applied or "")
    decision = Decision(applied, head, node_bucket, index + 1 if settings.configured else None)
    halt_on = settings.halt_after_failures is not None
    decision.halt = halt_on and index > 0
    decision.counted = halt_on and index < len(settings.waves) - 1
    if not history:
        return decision
    decision.pending = history[0].id
    _warn_odd_trailers(history, decision)
    pause = active_pause(history)
    if pause is not None:
        decision.paused = clean_reason(pause.message)
        decision.held = f"paused by {pause.id[:12]}: {decision.paused}"
        return decision
    halts = _Halts(settings, index, node, failures_on)
    for commit in history:
        due_at = commit.time + (0.0 if "immediate" in commit.words else settings.waves[index].after)
        if commit.time > now:
            decision.warnings.append(
                f"commit {commit.id[:12]} is dated in the future ({_when(commit.time)}); "
                "it is due only then"
            )
        if due_at > now:
            if commit.id == decision.pending:
                decision.due_at = due_at
            continue
        why = halts.reason(commit.id)
        if why is not None:
            if commit.id == decision.pending:
                decision.held = why
            continue
        decision.commit = commit.id
        decision.pending = None if commit.id == head else decision.pending
        return decision
    return decision


def _warn_odd_trailers(history: Sequence[CommitView], decision: Decision) -> None:
    for commit in history:
        odd = sorted(commit.words - set(WORDS))
        if odd:
            decision.warnings.append(
                f"commit {commit.id[:12]}: unknown 'Rollout:' trailer word(s) {', '.join(odd)} "
                f"ignored (known: {', '.join(WORDS)})"
            )


class _Halts:
    """The automatic halt: is a commit held because enough earlier-wave nodes failed on it?"""

    def __init__(
        self, settings: RolloutSettings, index: int, node: str, failures_on: FailuresOn | None
    ) -> None:
        self.settings = settings
        self.index = index
        self.node = node
        self.failures_on = failures_on

    def reason(self, commit: str) -> str | None:
        """Why `commit` is halted for this node, or None (wave 1 is never halted)."""
        need = self.settings.halt_after_failures
        if need is None or self.index == 0:
            return None
        if self.failures_on is None:
            return (
                f"halt check for {commit[:12]} impossible: rollout.halt_after_failures is set "
                "but this node has no reports repository (add reports: {repo: URL} to its config)"
            )
        try:
            failed = self.failures_on(commit)
        except (GitpuppetError, OSError, ValueError) as exc:
            return f"halt check for {commit[:12]} failed ({exc}); not applied until it can be read"
        earlier = sorted({n for n in failed if wave_index(self.settings, bucket(n)) < self.index})
        if len(earlier) < need:
            return None
        shown = ", ".join(earlier[:5]) + (", …" if len(earlier) > 5 else "")
        return (
            f"halted: {len(earlier)} node(s) of earlier waves failed on {commit[:12]} "
            f"({shown}); halt_after_failures is {need}: waiting for a newer commit"
        )
