"""rpm's version ordering (rpmvercmp), for the dnf provider to pick the newest of several versions
without another call. Pure."""

from __future__ import annotations

import re

_SEGMENT = re.compile(r"(\d+)|([A-Za-z]+)|(~)|(\^)")


def _segments(text: str) -> list[str]:
    return [m.group(0) for m in _SEGMENT.finditer(text)]


def vercmp(a: str, b: str) -> int:
    """-1, 0 or 1 as rpm orders two version (or release) strings: digit runs numerically, letter
    runs alphabetically, a digit run newer than a letter run, `~` older than anything, `^` newer
    than the end of the string."""
    if a == b:
        return 0
    sa, sb = _segments(a), _segments(b)
    for x, y in zip(sa, sb, strict=False):
        if x != y and "~" in (x, y):
            return -1 if x == "~" else 1
        if x != y and "^" in (x, y):
            return 1 if x == "^" else -1
        if x.isdigit() != y.isdigit():
            return 1 if x.isdigit() else -1
        if x.isdigit():
            xi, yi = int(x), int(y)
            if xi != yi:
                return 1 if xi > yi else -1
        elif x != y:
            return 1 if x > y else -1
    if len(sa) == len(sb):
        return 0
    longer, sign = (sa, 1) if len(sa) > len(sb) else (sb, -1)
    rest = longer[min(len(sa), len(sb))]
    if rest == "~":
        return -sign
    if rest == "^":
        return sign
    return sign


def split_evr(evr: str) -> tuple[int, str, str]:
    """`[epoch:]version[-release]` -> (epoch, version, release)."""
    epoch, sep, rest = evr.partition(":")
    if not sep:
        epoch, rest = "0", evr
    version, _, release = rest.partition("-")
    return (int(epoch) if epoch.isdigit() else 0), version, release


def evr_cmp(a: str, b: str) -> int:
    """Compare two `[epoch:]version-release` strings as rpm does."""
    ea, va, ra = split_evr(a)
    eb, vb, rb = split_evr(b)
    if ea != eb:
        return 1 if ea > eb else -1
    return vercmp(va, vb) or vercmp(ra, rb)
