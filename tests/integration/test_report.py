"""Reports, the summary and state.json after real runs (`apply_tree` on a DirTree), and
`gitpuppet report`."""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gitpuppet.cli import cli
from gitpuppet.compile import DirTree
from gitpuppet.errors import GitpuppetError
from gitpuppet.model import Ref, sensitive_label
from gitpuppet.report import list_reports
from gitpuppet.session import Retention, RunOutcome, apply_tree
from tests.integration.helpers import FACTS, make_repo

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def run(repo: Path, state: Path, **kw: Any) -> RunOutcome:
    return apply_tree(DirTree(repo), node="t.example.com", facts=FACTS, state_dir=state, **kw)


def mixed_repo(root: Path, repo: Path) -> None:
    """A changed file, a failing exec, a skipped dependent, an unchanged file, a secret."""
    (root / "same").write_text("same")
    make_repo(
        repo,
        f"""\
        - file: {root}/motd
          content: "hello\\n"
        - exec: "sh -c 'echo broken >&2; exit 2'"
        - file: {root}/after
          content: x
          require: "exec:sh -c 'echo broken >&2; exit 2'"
        - file: {root}/same
          content: same
        - file: {root}/secret
          content: "hunter2\\n"
          sensitive: true
        """,
    )


def test_report_fields(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    mixed_repo(root, repo)
    outcome = run(
        repo,
        state,
        commit=COMMIT,
        environment="production",
        want_diff=True,
        keep=Retention(report_unchanged=True),  # unchanged ones are listed only when asked
    )
    assert outcome.exit_code == 6
    path = outcome.report_path
    assert path is not None and path.parent == state / "reports"
    assert re.fullmatch(r"\d{8}T\d{6}\.\d{6}Z-0123456789ab\.json", path.name)
    report = json.loads(path.read_text())
    assert report["node"] == "t.example.com"
    assert report["environment"] == "production"
    assert report["commit"] == COMMIT
    assert report["exit_code"] == 6 and report["noop"] is False and report["result"] == "failed"
    assert datetime.fromisoformat(report["start"]).tzinfo is not None
    assert 0 <= report["duration"] < 60
    assert report["counts"] == {
        "total": 5,
        "changed": 2,
        "failed": 1,
        "skipped": 1,
        "out_of_sync": 2,
        "restarted": 0,
        "unchanged": 1,
    }
    by_ref = {r["ref"]: r for r in report["resources"]}
    # apply order; a sensitive resource is named by its label (issue 8 item 7)
    assert list(by_ref) == [r.resource.label for r in outcome.results if r.resource]
    motd = by_ref[f"file:{root}/motd"]
    assert motd["class"] == "main" and motd["status"] == "changed"
    assert (motd["source"], motd["file"], motd["line"]) == (
        "classes/main.yaml:2",
        "classes/main.yaml",
        2,
    )
    content = next(c for c in motd["changes"] if c["attribute"] == "content")
    assert content["new"] is not None and content["redacted"] is False
    assert "+hello" in content["diff"]
    assert isinstance(motd["seconds"], float) and motd["seconds"] >= 0
    failed = by_ref["exec:sh -c 'echo broken >&2; exit 2'"]
    assert failed["status"] == "failed" and failed["message"].startswith("command exited 2")
    assert "broken" in failed["output"]
    skipped = by_ref[f"file:{root}/after"]
    assert skipped["status"] == "skipped" and "dependency exec:sh" in skipped["message"]
    assert by_ref[f"file:{root}/same"]["status"] == "unchanged"
    secret = by_ref[sensitive_label(Ref("file", f"{root}/secret"))]
    assert secret["changes"] and all(c["redacted"] for c in secret["changes"])
    assert all(c["old"] == c["new"] == "<redacted>" for c in secret["changes"])
    assert "hunter2" not in path.read_text()


def test_summary_is_world_readable_with_counts(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    mixed_repo(root, repo)
    outcome = run(repo, state, commit=COMMIT, environment="production")
    summary_path = state / "last_run_summary.json"
    assert stat.S_IMODE(os.stat(summary_path).st_mode) == 0o644
    summary = json.loads(summary_path.read_text())
    assert {
        "time",
        "duration",
        "commit",
        "node",
        "environment",
        "counts",
        "exit_code",
    } <= set(summary)
    assert summary["commit"] == COMMIT and summary["node"] == "t.example.com"
    assert summary["environment"] == "production" and summary["exit_code"] == 6
    assert summary["counts"] == outcome.counts
    for key in ("total", "changed", "failed", "skipped", "out_of_sync", "restarted"):
        assert key in summary["counts"]
    # The full reports and the state are for root only.
    assert stat.S_IMODE(os.stat(outcome.report_path).st_mode) == 0o600  # type: ignore[arg-type]
    assert stat.S_IMODE(os.stat(state / "state.json").st_mode) == 0o600


def test_reports_are_pruned_to_keep(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(repo, f"- file: {root}/a\n  content: a\n")
    paths = [run(repo, state, reports_keep=3).report_path for _ in range(5)]
    kept = sorted((state / "reports").iterdir())
    assert kept == paths[-3:]
    assert [r["_path"] for r in list_reports(state)] == [str(p) for p in reversed(paths[-3:])]
    assert [r["_path"] for r in list_reports(state, last=1)] == [str(paths[-1])]


def test_local_run_without_commit_is_named_local(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(repo, f"- file: {root}/a\n  content: a\n")
    outcome = run(repo, state)
    assert outcome.report_path is not None and outcome.report_path.name.endswith("-local.json")


def test_state_records_applied_and_last_good_commit(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(repo, f"- file: {root}/a\n  content: a\n")
    run(repo, state, commit="c1" * 20)
    saved = json.loads((state / "state.json").read_text())
    assert saved["applied_commit"] == saved["last_good_commit"] == "c1" * 20
    assert saved["last_exit_code"] == 2 and saved["last_run_result"] == "changed"
    assert saved["node"] == "t.example.com"
    make_repo(repo, "- exec: /bin/false\n")
    run(repo, state, commit="c2" * 20)
    saved = json.loads((state / "state.json").read_text())
    assert saved["applied_commit"] == "c2" * 20 and saved["last_good_commit"] == "c1" * 20
    assert saved["last_exit_code"] == 4 and saved["last_run_result"] == "failed"


def test_noop_run_records_no_commit(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(repo, f"- file: {root}/a\n  content: a\n")
    outcome = run(repo, state, commit="c1" * 20, noop=True)
    assert outcome.exit_code == 2 and not (root / "a").exists()
    saved = json.loads((state / "state.json").read_text())
    assert saved["applied_commit"] is None
    assert json.loads(outcome.report_path.read_text())["noop"] is True  # type: ignore[union-attr]


def test_corrupt_state_file_does_not_stop_a_run(
    env: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root, repo, state = env
    state.mkdir()
    (state / "state.json").write_text('{"pending_refreshes": ["exec:x"')
    make_repo(repo, f"- file: {root}/a\n  content: a\n")
    assert run(repo, state).exit_code == 2
    assert "unreadable" in capsys.readouterr().err
    assert json.loads((state / "state.json").read_text())["pending_refreshes"] == []


def test_compile_error_raises_and_writes_nothing(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(repo, f"- file: {root}/a\n  content: a\n  require: file:/nope\n")
    with pytest.raises(GitpuppetError, match="file:/nope"):
        run(repo, state)
    assert not state.exists() and not (root / "a").exists()


def test_report_command(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    mixed_repo(root, repo)
    run(repo, state, commit=COMMIT)
    make_repo(repo, f'- file: {root}/motd\n  content: "hello\\n"\n')
    run(repo, state)
    runner = CliRunner()
    env_ = {"GITPUPPET_CONFIG": "/nonexistent/config.yaml"}
    text = runner.invoke(cli, ["report", "--state-dir", str(state)], env=env_)
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    # Newest first: the clean local run, then the failed one with its failure and skip.
    assert "t.example.com  local  unchanged" in lines[0] and "exit 0" in lines[0]
    assert "t.example.com  0123456789  failed" in lines[1] and "exit 6" in lines[1]
    assert any("exec:sh -c" in line and ": failed: command exited 2" in line for line in lines)
    assert any(f"file:{root}/after: skipped" in line for line in lines)
    last = runner.invoke(
        cli, ["report", "--state-dir", str(state), "--last", "1", "--json"], env=env_
    )
    data = json.loads(last.stdout)
    assert len(data) == 1 and data[0]["exit_code"] == 0 and data[0]["commit"] is None
    both = json.loads(
        runner.invoke(cli, ["report", "--state-dir", str(state), "--json"], env=env_).stdout
    )
    assert [r["exit_code"] for r in both] == [0, 6]


def test_report_command_without_reports(tmp_path: Path) -> None:
    proc = CliRunner().invoke(
        cli,
        ["report", "--state-dir", str(tmp_path)],
        env={"GITPUPPET_CONFIG": "/nonexistent/config.yaml"},
    )
    assert proc.exit_code == 0 and "no reports yet" in proc.stderr


def test_damaged_reports_are_passed_over(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(repo, f"- file: {root}/a\n  content: a\n")
    good = run(repo, state).report_path
    (state / "reports/29991231T000000.000000Z-local.json").write_text("[1, 2]")
    (state / "reports/29991231T000001.000000Z-local.json").write_text("{truncated")
    assert [r["_path"] for r in list_reports(state)] == [str(good)]
    proc = CliRunner().invoke(
        cli,
        ["report", "--state-dir", str(state)],
        env={"GITPUPPET_CONFIG": "/nonexistent/config.yaml"},
    )
    # One run: its line, and (issue 9) the resource it changed under it.
    assert proc.exit_code == 0 and proc.stdout.count("\n") == 2
    assert proc.stdout.splitlines()[1].strip() == f"file:{root}/a: changed (ensure, content)"


def test_report_last_must_be_positive(tmp_path: Path) -> None:
    proc = CliRunner().invoke(
        cli,
        ["report", "--state-dir", str(tmp_path), "--last", "0"],
        env={"GITPUPPET_CONFIG": "/nonexistent/config.yaml"},
    )
    assert proc.exit_code == 2 and "--last" in proc.output


def test_unusable_state_dir_is_a_message_and_changes_nothing(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    state.write_text("a file, not a directory")
    make_repo(repo, f"- file: {root}/a\n  content: a\n")
    with pytest.raises(GitpuppetError, match=f"cannot use the state dir {state}"):
        run(repo, state)
    assert not (root / "a").exists()
