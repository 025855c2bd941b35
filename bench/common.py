"""Shared by the benchmarks: timing whole processes (wall time, peak RSS)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FACTS = HERE / "facts.yaml"
GITPUPPET = [sys.executable, "-m", "gitpuppet.cli"]
ENV = {**os.environ, "GITPUPPET_CONFIG": "/nonexistent/config.yaml"}


def timed(argv: list[str], ok: tuple[int, ...] = (0, 2)) -> tuple[float, float]:
    """Run once: (wall seconds, peak RSS in MB of that process).

    The disk is settled first (sync), so a run does not pay for writing back what the setup
    or the previous run left dirty."""
    os.sync()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in ok:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{' '.join(argv)} exited {code}: {err}")
    return wall, usage.ru_maxrss / 1024


def median_of(argv: list[str], runs: int = 5, ok: tuple[int, ...] = (0, 2)) -> tuple[float, float]:
    samples = [timed(argv, ok) for _ in range(runs)]
    return statistics.median(s[0] for s in samples), max(s[1] for s in samples)


def verdict(value: float, target: float | None) -> str:
    if target is None:
        return ""
    return f"≤ {target:g}  {'ok' if value <= target else 'MISSED'}"
