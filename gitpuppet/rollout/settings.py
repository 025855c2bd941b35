"""The `rollout:` section of gitpuppet.yaml (SPEC §10): waves and the automatic halt.

Checked strictly, every error naming gitpuppet.yaml and its line: percents are integers from 1
to 100, strictly increasing, the last one 100 (so every bucket has a wave); `after` durations
never decrease from one wave to the next; `halt_after_failures` is a positive integer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitpuppet.compile.loader import (
    PosDict,
    PosList,
    expect_mapping,
    parse_yaml,
    refuse_unknown_keys,
)
from gitpuppet.compile.source import SourceTree
from gitpuppet.duration import format_duration, parse_duration
from gitpuppet.errors import SourceError, SourcePos

FILE = "gitpuppet.yaml"
ROLLOUT_KEYS = ("waves", "halt_after_failures")
WAVE_KEYS = ("percent", "after")


@dataclass(frozen=True, slots=True)
class Wave:
    """One wave: the buckets below `percent`, due `after` seconds past a commit's time."""

    percent: int
    after: float

    def describe(self) -> str:
        """`30% after 1h`, for status lines."""
        return f"{self.percent}% after {format_duration(self.after)}"


@dataclass(frozen=True, slots=True)
class RolloutSettings:
    """The checked rollout settings; `waves` is never empty and ends at 100 percent."""

    waves: tuple[Wave, ...] = (Wave(100, 0.0),)
    halt_after_failures: int | None = None
    configured: bool = False  # False: no `rollout:` section (every commit due at once)


NO_ROLLOUT = RolloutSettings()


def load_rollout(tree: SourceTree) -> RolloutSettings:
    """The rollout settings of one commit's (or directory's) gitpuppet.yaml; SourceError if bad."""
    try:
        raw = tree.read_bytes(FILE)
    except FileNotFoundError:
        return NO_ROLLOUT
    data = expect_mapping(parse_yaml(raw, FILE), FILE, FILE)
    if "rollout" not in data or data["rollout"] is None:
        return NO_ROLLOUT
    return parse_rollout(data["rollout"], data.pos("rollout"))


def parse_rollout(raw: Any, pos: SourcePos) -> RolloutSettings:
    """Check the value of `rollout:` (loaded with positions); SourceError naming the line."""
    if not isinstance(raw, PosDict):
        raise SourceError(pos, "rollout must be a mapping with 'waves' (and 'halt_after_failures')")
    refuse_unknown_keys(raw, ROLLOUT_KEYS, "rollout setting")
    waves = _waves(raw["waves"], raw.pos("waves")) if "waves" in raw else NO_ROLLOUT.waves
    halt = raw.get("halt_after_failures")
    if halt is not None and (isinstance(halt, bool) or not isinstance(halt, int) or halt < 1):
        raise SourceError(
            raw.pos("halt_after_failures"),
            f"halt_after_failures must be a positive whole number, not {halt!r}",
            "e.g. halt_after_failures: 2 (halt when two canaries fail)",
        )
    return RolloutSettings(waves, halt, configured=True)


def _waves(raw: Any, pos: SourcePos) -> tuple[Wave, ...]:
    if not isinstance(raw, PosList) or not raw:
        raise SourceError(
            pos, "rollout.waves must be a non-empty list", "e.g. - {percent: 5, after: 0m}"
        )
    waves: list[Wave] = []
    for index, item in enumerate(raw):
        wave = _wave(item, raw.pos(index))
        if waves and wave.percent <= waves[-1].percent:
            raise SourceError(
                raw.pos(index),
                f"wave {index + 1}: percent {wave.percent} is not above the previous wave's "
                f"{waves[-1].percent}",
                "percents must increase from wave to wave",
            )
        if waves and wave.after < waves[-1].after:
            raise SourceError(
                raw.pos(index),
                f"wave {index + 1}: after {format_duration(wave.after)} is sooner than the "
                f"previous wave's {format_duration(waves[-1].after)}",
                "a later wave must not be due before an earlier one",
            )
        waves.append(wave)
    if waves[-1].percent != 100:
        raise SourceError(
            raw.pos(len(raw) - 1),
            f"the last wave has percent {waves[-1].percent}, so some nodes would never be due",
            "end the waves with percent: 100",
        )
    return tuple(waves)


def _wave(item: Any, pos: SourcePos) -> Wave:
    if not isinstance(item, PosDict):
        raise SourceError(pos, "a wave is a mapping: {percent: N, after: DURATION}")
    refuse_unknown_keys(item, WAVE_KEYS, "wave setting")
    if "percent" not in item:
        raise SourceError(pos, "a wave needs a percent", "e.g. {percent: 30, after: 1h}")
    percent = item["percent"]
    if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 100:
        raise SourceError(
            item.pos("percent"), f"percent must be a whole number from 1 to 100, not {percent!r}"
        )
    try:
        after = parse_duration(item.get("after", 0), allow_zero=True)
    except ValueError as exc:
        raise SourceError(item.pos("after"), f"after: {exc}") from None
    return Wave(percent, after)
