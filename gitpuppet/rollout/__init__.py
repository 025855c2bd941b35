"""Staged rollout without a coordinator (SPEC §10): waves by a hash of the node name, commits
due by their committer time, `Rollout:` trailers (immediate, pause, resume) and the automatic
halt read from the reports repository.

Layers: `settings` (gitpuppet.yaml's `rollout:`), `plan` (pure: bucket, wave, decide; the clock
is a parameter), `choose` (reads the node's clone), `record` (rollout.json for status).
"""

from __future__ import annotations

from gitpuppet.rollout.plan import CommitView, Decision, bucket, decide, wave_index
from gitpuppet.rollout.settings import RolloutSettings, Wave, load_rollout, parse_rollout

__all__ = [
    "CommitView",
    "Decision",
    "RolloutSettings",
    "Wave",
    "bucket",
    "decide",
    "load_rollout",
    "parse_rollout",
    "wave_index",
]
