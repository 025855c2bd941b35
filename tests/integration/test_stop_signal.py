"""SIGTERM to `gitpuppet apply`, `run` and `agent` (real processes): the exec in flight finishes,
later resources are not applied, the report and the state are written, exit 4/6; a second
signal ends at once and takes the command in flight with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.helpers import apply_args, make_repo
from tests.integration.test_run_agent import Setup

# The first exec marks that it started, sleeps, then marks that it finished; the rest must not run.
RESOURCES = """\
- exec: slow
  command: "touch {root}/started; sleep 2; touch {root}/finished"
  shell: true
- exec: later
  command: "touch {root}/later"
  require: exec:slow
- file: {root}/motd
  content: "hello\\n"
- exec: restart
  command: "touch {root}/restarted"
  refreshonly: true
  subscribe: file:{root}/motd
"""


def _start(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gitpuppet.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "GITPUPPET_CONFIG": "/nonexistent/config.yaml", "NO_COLOR": "1"},
    )


def _wait_for(path: Path, proc: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            out, err = proc.communicate()
            raise AssertionError(f"{path} never appeared: {out}\n{err}")
        time.sleep(0.02)


def _report(state: Path) -> dict:  # type: ignore[type-arg]
    (path,) = (state / "reports").glob("*.json")
    return json.loads(path.read_text())


def _finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_sigterm_to_apply_finishes_the_exec_in_flight_and_reports(
    env: tuple[Path, Path, Path],
) -> None:
    root, repo, state = env
    make_repo(repo, RESOURCES.format(root=root))
    proc = _start(apply_args(repo, state))
    _wait_for(root / "started", proc)
    proc.send_signal(signal.SIGTERM)
    out, err = _finish(proc)
    assert proc.returncode == 6, (out, err)  # 2: exec:slow ran; 4: cut short
    assert (root / "finished").exists()  # the exec in flight ran to its end
    assert not (root / "later").exists() and not (root / "motd").exists()
    assert "SIGTERM: finishing the resource in flight" in err
    assert "warning: stopped by SIGTERM" in err
    report = _report(state)
    status = {r["ref"]: (r["status"], r.get("message", "")) for r in report["resources"]}
    assert status["exec:slow"][0] == "changed"
    for ref in ("exec:later", f"file:{root}/motd", "exec:restart"):
        assert status[ref] == ("skipped", "skipped: stopped by SIGTERM"), status
    assert report["exit_code"] == 6
    assert any("stopped by SIGTERM" in m for m in report["messages"])
    summary = json.loads((state / "last_run_summary.json").read_text())
    assert summary["exit_code"] == 6 and summary["counts"]["skipped"] == 3
    assert json.loads((state / "state.json").read_text())["last_exit_code"] == 6


def test_a_second_signal_ends_at_once_and_kills_the_command(
    env: tuple[Path, Path, Path],
) -> None:
    root, repo, state = env
    make_repo(repo, RESOURCES.format(root=root).replace("sleep 2", "sleep 30"))
    proc = _start(apply_args(repo, state))
    _wait_for(root / "started", proc)
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = _finish(proc)
    assert time.monotonic() - start < 15
    assert proc.returncode == 130, (out, err)
    assert "interrupted" in err
    time.sleep(0.5)
    assert not (root / "finished").exists()  # the sleep was killed with its group
    assert not (root / "later").exists()


def test_sigterm_to_run_writes_the_report_and_state(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    root = setup.target
    setup.push("x", classes="resources:\n" + _indent(RESOURCES.format(root=root)))
    proc = _start(["run", "--now", "--config", str(setup.config)])
    _wait_for(root / "started", proc)
    proc.send_signal(signal.SIGTERM)
    out, err = _finish(proc)
    assert proc.returncode == 6, (out, err)
    assert (root / "finished").exists() and not (root / "later").exists()
    report = _report(setup.state)
    assert report["counts"]["skipped"] == 3 and report["exit_code"] == 6
    state = json.loads((setup.state / "state.json").read_text())
    assert state["last_exit_code"] == 6


def test_sigterm_to_the_agent_ends_the_run_in_flight_cleanly(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    root = setup.target
    setup.push("x", classes="resources:\n" + _indent(RESOURCES.format(root=root)))
    setup.write_config(interval="3600s")
    proc = _start(["agent", "--config", str(setup.config)])
    _wait_for(root / "started", proc)
    proc.send_signal(signal.SIGTERM)
    out, err = _finish(proc)
    assert proc.returncode == 0, (out, err)
    assert (root / "finished").exists() and not (root / "later").exists()
    assert "run finished with exit code 6" in err
    assert _report(setup.state)["counts"]["skipped"] == 3


def _indent(text: str) -> str:
    return "".join(f"  {line}\n" for line in text.splitlines())
