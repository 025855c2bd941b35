"""Splay and mirror order: stable per node, within bounds, spread over nodes."""

from __future__ import annotations

import random

from gitpuppet.agent.splay import mirror_start, name_fraction, splay_delay


def test_delay_is_stable_and_bounded() -> None:
    rng = random.Random(1)
    delays = [splay_delay("web01.example.com", 600, rng) for _ in range(20)]
    base = 600 * name_fraction("web01.example.com")
    assert all(base <= d <= min(600, base + 30) for d in delays)
    assert splay_delay("x", 0) == 0.0


def test_nodes_spread_over_splay_and_mirrors() -> None:
    fractions = [name_fraction(f"web{i:03d}") for i in range(200)]
    assert min(fractions) < 0.1 and max(fractions) > 0.9
    starts = {mirror_start(f"web{i:03d}", 3) for i in range(50)}
    assert starts == {0, 1, 2}
    assert mirror_start("web001", 1) == 0
