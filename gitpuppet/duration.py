"""Durations as people write them in config: `30m`, `1h30m`, `90s`, `2h`, `1d`; a plain number is
seconds. Used by the agent config (interval, splay) and the rollout waves (`after:`)."""

from __future__ import annotations

import math
import re

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
# One or more <number><unit> parts, optionally separated by spaces: "1h30m", "1h 30m", "1.5h".
_PART = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-zA-Z]+)\s*")
_NUMBER = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*")
_UNIT_WORDS = {
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "day": "d",
    "days": "d",
    "week": "w",
    "weeks": "w",
}


def parse_duration(text: str | int | float, allow_zero: bool = False) -> float:
    """Seconds in `text` ("30m", "1h30m", "90s", 45); raises ValueError saying what is wrong.

    Negative, non-finite and (unless `allow_zero`) zero durations are rejected.
    """
    if isinstance(text, bool):
        # YAML turns `yes`/`on` into True; it is never meant as one second.
        raise ValueError(f"{text!r} is not a duration")
    if isinstance(text, int | float):
        seconds = float(text)
    elif isinstance(text, str):
        seconds = _parse_text(text)
    else:
        raise ValueError(f"{text!r} is not a duration (write e.g. 30m, 1h30m, 90s)")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{text!r} is not a duration: it must be positive")
    if seconds == 0 and not allow_zero:
        raise ValueError(f"{text!r} is zero: give a positive duration such as 30m")
    return seconds


def _parse_text(text: str) -> float:
    stripped = text.strip()
    if stripped.startswith("-"):
        raise ValueError(f"{text!r} is not a duration: it must be positive")
    plain = _NUMBER.fullmatch(stripped)
    if plain:
        return float(plain.group(1))
    pos, total, seen = 0, 0.0, set()
    while pos < len(stripped):
        part = _PART.match(stripped, pos)
        if not part:
            break
        unit = part.group(2).lower()
        unit = _UNIT_WORDS.get(unit, unit)
        if unit not in UNITS:
            raise ValueError(
                f"{text!r}: unknown unit '{part.group(2)}' (use s, m, h, d or w, e.g. 1h30m)"
            )
        if unit in seen:
            raise ValueError(f"{text!r}: the unit '{unit}' is given twice")
        seen.add(unit)
        total += float(part.group(1)) * UNITS[unit]
        pos = part.end()
    if not stripped or pos != len(stripped):
        raise ValueError(f"{text!r} is not a duration (write e.g. 30m, 1h30m, 90s)")
    return total


def format_duration(seconds: float) -> str:
    """A short human form of `seconds`: 5400 -> "1h30m", 90 -> "1m30s", 2.5 -> "2.5s"."""
    if seconds < 60 and seconds != int(seconds):
        return f"{seconds:g}s"
    rest = int(round(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts) or "0s"
