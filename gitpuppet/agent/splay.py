"""Per-node delay before a run: stable from the node name, plus a little jitter (SPEC §7.1)."""

from __future__ import annotations

import hashlib
import random

# Jitter is a small share of the splay so a node's start stays predictable but two nodes with
# colliding hashes still do not hit the server in the same second.
JITTER_FRACTION = 0.05
JITTER_MAX = 30.0


def name_fraction(node: str) -> float:
    """A number in [0, 1) from sha256 of the node name: the same on every run of that node."""
    digest = hashlib.sha256(node.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def splay_delay(node: str, splay: float, rng: random.Random | None = None) -> float:
    """Seconds to wait before this node's run: its stable share of `splay` plus jitter."""
    if splay <= 0:
        return 0.0
    jitter = min(splay * JITTER_FRACTION, JITTER_MAX) * (rng or random).random()
    return min(splay, splay * name_fraction(node) + jitter)


def mirror_start(node: str, count: int) -> int:
    """Which mirror this node tries first, so a fleet spreads its fetches over them."""
    if count <= 1:
        return 0
    digest = hashlib.sha256(b"mirror:" + node.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count
