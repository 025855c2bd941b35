"""The automatic halt end to end (SPEC §10, issue 10 item 3): real `gitpuppet run` processes of
canary and later-wave nodes, one control repo and one reports repo over file://. Canaries that
fail on a commit push halt markers; a later-wave node reads them and stays where it is once
`halt_after_failures` of them failed, and not before; a newer commit lifts the halt."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from gitpuppet.state import load_state
from tests.integration.fleetsim import (
    branch_file,
    make_control_repo,
    make_node,
    make_reports_repo,
    refs,
)
from tests.integration.gitservers import git

pytestmark = pytest.mark.integration

WAVES = """\
rollout:
  waves:
    - {percent: 50, after: 0m}
    - {percent: 100, after: 0m}
  halt_after_failures: 2
"""


def _bucket(name: str) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 100


def _names(prefix: str, wave_one: bool, count: int) -> list[str]:
    """Node names whose bucket puts them in wave 1 (bucket < 50) or in wave 2."""
    names = (f"{prefix}-{i}.example.com" for i in range(1000))
    return [n for n in names if (_bucket(n) < 50) == wave_one][:count]


def _push(work: Path, files: dict[str, str], message: str) -> str:
    for rel, text in files.items():
        (work / rel).write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    git("push", "-q", "origin", "production", cwd=work)
    return git("rev-parse", "HEAD", cwd=work).strip()


def test_halt_fires_after_n_failed_canaries_and_never_before(tmp_path: Path) -> None:
    target = tmp_path / "target"
    control, work = make_control_repo(tmp_path, target)
    base = _push(work, {"gitpuppet.yaml": WAVES}, "rollout settings")
    reports = make_reports_repo(tmp_path / "reports.git")
    canaries = [
        make_node(tmp_path / "nodes", n, control, {"repo": f"file://{reports}"})
        for n in _names("canary", True, 2)
    ]
    later = [
        make_node(tmp_path / "nodes", n, control, {"repo": f"file://{reports}"})
        for n in _names("later", False, 2)
    ]
    for node in canaries + later:
        assert node.run().returncode == 2, node.name
        assert load_state(node.state).applied_commit == base
    # A commit that fails on every node (its file's folder is missing).
    bad_class = f'resources:\n  - file: {target}/missing/{{{{ node.name }}}}\n    content: "x\\n"\n'
    bad = _push(work, {"classes/good.yaml": bad_class}, "a bad change")

    first = canaries[0].run()
    assert first.returncode == 4, first.stdout + first.stderr  # its resource failed
    assert refs(reports, "refs/heads/halt/") == [f"refs/heads/halt/{bad}/{canaries[0].name}"]
    # One failure of the two the halt needs: the later wave still applies the commit.
    assert later[0].run().returncode == 4
    assert load_state(later[0].state).applied_commit == bad

    assert canaries[1].run().returncode == 4
    # later[0] failed on it too, but it is in the last wave: no later wave reads its marker.
    assert len(refs(reports, f"refs/heads/halt/{bad}/")) == 2
    held = later[1].run()
    state = load_state(later[1].state)
    assert state.applied_commit == base, held.stdout + held.stderr  # halted: it stays
    rollout = json.loads((later[1].state / "rollout.json").read_text())
    assert rollout["held"] and "failed" in rollout["held"], rollout
    summary = branch_file(reports, later[1].name, "summary.json")
    assert summary["wave"] == 2 and summary["held"], summary

    # A fix pushed after it is a newer commit: the halt does not hold it.
    good_class = f'resources:\n  - file: {target}/{{{{ node.name }}}}\n    content: "ok\\n"\n'
    fixed = _push(work, {"classes/good.yaml": good_class}, "revert the bad change")
    assert later[1].run().returncode in (0, 2)
    assert load_state(later[1].state).applied_commit == fixed
