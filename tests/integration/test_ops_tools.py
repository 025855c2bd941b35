"""What an operator reaches for after a run (issue 9 item 7), through the real CLI on real
files: `run --diff`, `report` (changed and failed resources, `--diff`), `backup list|show|diff`,
the restore note, `status` (next run only when scheduled, noop as pending changes), and the
refresh line of a resource with many notifiers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitpuppet.agent.lock import agent_marker
from gitpuppet.cli import cli
from tests.integration.helpers import apply, make_repo
from tests.integration.test_run_agent import Setup

NO_CONFIG = {"GITPUPPET_CONFIG": "/nonexistent/config.yaml"}


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def _cli(*args: str) -> str:
    result = CliRunner(env=NO_CONFIG).invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_run_diff_shows_the_diff_and_report_keeps_it(setup: Setup) -> None:
    setup.push("one")
    assert setup.run("run", "--now").returncode == 2
    setup.push("two")
    proc = setup.run("run", "--now", "--diff")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "-one" in proc.stdout and "+two" in proc.stdout
    listed = setup.run("report", "--last", "1")
    assert f"file:{setup.target}/motd: changed (content)" in listed.stdout, listed.stdout
    assert "+two" not in listed.stdout
    diffs = setup.run("report", "--last", "1", "--diff")
    assert "-one" in diffs.stdout and "+two" in diffs.stdout, diffs.stdout


def test_report_lists_failures_with_output_and_caps_diffs(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    big = root / "big"
    big.write_text("".join(f"old {i}\n" for i in range(20000)))
    make_repo(
        repo,
        f"""\
        - file: {big}
          content: "{{{{ range(20000) | map('string') | join('\\n') }}}}\\n"
        - file: {root}/secret
          content: "hunter2\\n"
          sensitive: true
        - exec: "sh -c 'echo it broke >&2; exit 3'"
        """,
    )
    (root / "secret").write_text("old secret\n")
    assert apply(repo, state).returncode == 6
    report = json.loads(sorted((state / "reports").glob("*.json"))[-1].read_text())
    by_ref = {r["ref"]: r for r in report["resources"]}
    diff = by_ref[f"file:{big}"]["changes"][0]["diff"]
    assert len(diff) <= 64 * 1024 + 100 and "characters cut" in diff
    text = _cli("report", "--state-dir", str(state), "--diff")
    assert "it broke" in text and "failed" in text
    assert "hunter2" not in text and "old secret" not in text
    assert "secret" not in json.dumps([c for r in report["resources"] for c in r["changes"]])


def test_backup_list_show_diff_and_the_restore_note(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    motd, key = root / "motd", root / "key"
    motd.write_text("hand-written\n")
    key.write_text("old-private-key\n")
    make_repo(
        repo,
        f"""\
        - file: {motd}
          content: "managed\\n"
        - file: {key}
          content: "new-private-key\\n"
          sensitive: true
        """,
    )
    assert apply(repo, state).returncode == 2
    sd = ["--state-dir", str(state)]
    recent = _cli("backup", "list", *sd)
    assert str(motd) in recent and str(key) in recent
    assert "[sensitive]" in recent
    assert _cli("backup", "show", str(motd), *sd) == "hand-written\n"
    diff = _cli("backup", "diff", str(motd), *sd)
    assert "-hand-written" in diff and "+managed" in diff
    assert (motd.read_text()) == "managed\n"  # show and diff restore nothing
    runner = CliRunner(env=NO_CONFIG)
    for verb in ("show", "diff"):
        refused = runner.invoke(cli, ["backup", verb, str(key), *sd])
        assert refused.exit_code == 1 and "sensitive" in refused.output
        assert "old-private-key" not in refused.output
    listed = json.loads(_cli("backup", "list", str(key), "--json", *sd))
    assert listed[0]["sensitive"] is True and listed[0]["digest"] is None
    restored = runner.invoke(cli, ["backup", "restore", str(motd), *sd])
    assert restored.exit_code == 0 and "next run puts the managed content back" in restored.output
    assert motd.read_text() == "hand-written\n"


def test_status_next_run_only_when_scheduled_and_noop_is_pending(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitpuppet.cli import status

    monkeypatch.setattr(status, "CRON_FILE", setup.tmp / "cron.d/gitpuppet")
    setup.push("one")
    assert setup.run("run", "--now", "--noop").returncode == 2
    runner = CliRunner(env={"GITPUPPET_CONFIG": str(setup.config)})
    text = runner.invoke(cli, ["status"]).stdout
    assert "pending changes" in text and "changed" not in text.split("counts:")[0]
    assert "1 pending" in text
    assert "next run:    not scheduled" in text
    data = json.loads(runner.invoke(cli, ["status", "--json"]).stdout)
    assert data["noop"] is True and data["pending_changes"] == 1 and data["next_run"] is None
    (setup.tmp / "cron.d").mkdir()
    (setup.tmp / "cron.d/gitpuppet").write_text("# test\n")
    assert "(cron)" in runner.invoke(cli, ["status"]).stdout
    (setup.tmp / "cron.d/gitpuppet").unlink()
    with agent_marker(setup.tmp / "run"):
        assert "(agent loop)" in runner.invoke(cli, ["status"]).stdout
    assert "not scheduled" in runner.invoke(cli, ["status"]).stdout


def test_a_refresh_with_many_notifiers_is_one_short_line(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(
        repo,
        f"""\
        - file: "{root}/f{{{{ item }}}}"
          content: x
          for_each: "{{{{ range(40) | list }}}}"
          notify: exec:count
        - exec: count
          command: /bin/true
          refreshonly: true
        """,
    )
    proc = apply(repo, state)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("exec:count")]
    assert f"notified by 40 resources: file:{root}/f0 and 39 more" in line, line
    assert len(line) < 200


def test_a_report_keeps_at_most_a_mebibyte_of_diffs(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    # 40 new files of 60 KB each: every diff fits its own cap, all of them do not fit the report.
    line = "x" * 59 + "\n"
    make_repo(
        repo, "".join(f'- file: {root}/f{i}\n  content: "{line * 1000}"\n' for i in range(40))
    )
    assert apply(repo, state).returncode == 2
    report = json.loads(sorted((state / "reports").glob("*.json"))[-1].read_text())
    diffs = [c["diff"] for r in report["resources"] for c in r["changes"] if "diff" in c]
    assert len(diffs) == 40
    kept = [d for d in diffs if not d.startswith("[diff not kept")]
    assert 10 <= len(kept) < 40 and sum(map(len, kept)) <= 1024 * 1024
    assert all(len(d) > 60_000 for d in kept)
