"""The metrics file read by real Prometheus tools: prometheus_client's text parser and
`promtool check metrics` (Debian's prometheus package; tests/run unpacks it, $PROMTOOL names it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gitpuppet.metrics import STATUSES, RunMetrics, render

CACHE_PROMTOOL = Path(__file__).resolve().parents[1] / ".cache" / "prometheus" / "usr/bin/promtool"
HOSTILE = 'we"ird\\name\nnext} x{y="1"'

CASES = {
    "first run": RunMetrics(timestamp=1_700_000_000.5, duration=0.25, exit_code=1),
    "converged": RunMetrics(
        timestamp=1_700_000_000,
        duration=12.125,
        exit_code=2,
        statuses={"changed": 3, "unchanged": 40},
        refreshed=1,
        commit="3f9c2e1d" * 5,
        node="web1.example.com",
        environment="production",
        last_success=1_700_000_000,
    ),
    "hostile labels": RunMetrics(
        timestamp=1_700_000_000,
        duration=1,
        exit_code=6,
        commit=HOSTILE,
        node=HOSTILE,
        environment="prod\\",
        fell_back=True,
        noop=True,
        disabled=True,
    ),
}


def promtool() -> str | None:
    found = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if found:
        return found
    return str(CACHE_PROMTOOL) if CACHE_PROMTOOL.exists() else None


@pytest.mark.parametrize("case", CASES)
def test_prometheus_client_parses_every_sample(case: str) -> None:
    m = CASES[case]
    families = {f.name: f for f in text_string_to_metric_families(render(m))}
    assert all(f.type == "gauge" and f.documentation for f in families.values())
    value = {f: families[f].samples[0].value for f in families if len(families[f].samples) == 1}
    assert value["gitpuppet_last_run_timestamp_seconds"] == m.timestamp
    assert value["gitpuppet_last_run_duration_seconds"] == m.duration
    assert value["gitpuppet_last_run_exit_code"] == m.exit_code
    assert value["gitpuppet_last_success_timestamp_seconds"] == (m.last_success or 0)
    assert value["gitpuppet_disabled"] == int(m.disabled)
    by_status = {
        s.labels["status"]: s.value for s in families["gitpuppet_last_run_resources"].samples
    }
    assert by_status == {s: m.statuses.get(s, 0) for s in STATUSES}
    (info,) = families["gitpuppet_applied_commit_info"].samples
    assert info.name == "gitpuppet_applied_commit_info"
    assert info.labels == {
        "commit": m.commit or "",
        "node": m.node or "",
        "environment": m.environment or "",
    }


@pytest.mark.parametrize("case", CASES)
def test_promtool_check_metrics(case: str, tmp_path: Path) -> None:
    tool = promtool()
    if tool is None:
        pytest.skip(
            "promtool missing: tests/run unpacks Debian's prometheus package into tests/.cache"
        )
    done = subprocess.run(
        [tool, "check", "metrics"],
        input=render(CASES[case]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), (
        done.stdout + done.stderr
    )
