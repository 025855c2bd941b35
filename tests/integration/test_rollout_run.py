"""`gitpuppet run` and `status` under a staged rollout (SPEC §10), over file:// with real git.

The node t.example.com is in bucket 3: with waves 1% now / 100% after 1h it is in wave 2, so a
commit dated now waits an hour, one dated two hours ago is due.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.test_run_agent import GIT_ENV, Setup

WAVES = "rollout:\n  waves:\n    - {percent: 1, after: 0m}\n    - {percent: 100, after: 1h}\n"


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def push(
    setup: Setup, content: str, ago: int, message: str | None = None, settings: str = WAVES
) -> str:
    """Commit motd `content` dated `ago` seconds before now, push, return the id."""
    work = setup.work
    (work / "nodes.yaml").write_text("t.example.com:\n  classes: [main]\n")
    (work / "classes").mkdir(exist_ok=True)
    (work / "classes/main.yaml").write_text(
        f'resources:\n  - file: {setup.target}/motd\n    content: "{content}\\n"\n'
    )
    (work / "gitpuppet.yaml").write_text(settings)
    when = f"@{int(time.time()) - ago} +0000"
    env = {**GIT_ENV, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when}

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=work, env=env, check=True, capture_output=True, text=True
        ).stdout.strip()

    git("add", "-A")
    git("commit", "-q", "--allow-empty", "-m", message or f"motd {content}")
    git("push", "-q", "origin", "HEAD")
    return git("rev-parse", "HEAD")


def status(setup: Setup) -> dict:  # type: ignore[type-arg]
    r = setup.run("status", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def test_a_new_commit_waits_for_the_wave_then_ignore_rollout_applies_it(setup: Setup) -> None:
    old = push(setup, "one", ago=2 * 3600)
    assert setup.run("run", "--now").returncode == 2
    new = push(setup, "two", ago=0)
    r = setup.run("run", "--now")
    assert r.returncode == 0, r.stderr
    assert setup.motd() == "one\n"
    assert f"rollout: {new[:12]} due" in r.stdout
    data = status(setup)
    assert data["applied_commit"] == old
    roll = data["rollout"]
    assert (roll["bucket"], roll["wave"], roll["pending"]) == (3, 2, new)
    assert roll["due_at"] == pytest.approx(time.time() + 3600, abs=120)
    text = setup.run("status").stdout
    assert "bucket 3, wave 2, branch production" in text and f"{new[:12]} due" in text
    forced = setup.run("run", "--now", "--ignore-rollout")
    assert forced.returncode == 2, forced.stderr
    assert setup.motd() == "two\n"
    assert status(setup)["rollout"]["ignored"] == "--ignore-rollout"


def test_pause_in_git_holds_and_status_says_why(setup: Setup) -> None:
    push(setup, "one", ago=3 * 3600)
    assert setup.run("run", "--now").returncode == 2
    push(setup, "two", ago=2 * 3600)
    push(setup, "two", ago=2 * 3600 - 60, message="two breaks logins\n\nRollout: pause\n")
    r = setup.run("run", "--now")
    assert r.returncode == 0, r.stderr
    assert setup.motd() == "one\n"
    text = setup.run("status").stdout
    assert "paused: two breaks logins" in text
    push(setup, "three", ago=2 * 3600 - 120, message="fixed\n\nRollout: resume\n")
    assert setup.run("run", "--now").returncode == 2
    assert setup.motd() == "three\n"
    assert status(setup)["rollout"]["paused"] is None


def test_invalid_rollout_settings_keep_the_applied_commit(setup: Setup) -> None:
    push(setup, "one", ago=3 * 3600)
    assert setup.run("run", "--now").returncode == 2
    push(setup, "two", ago=2 * 3600, settings="rollout:\n  waves:\n    - {percent: 50}\n")
    r = setup.run("run", "--now")
    assert r.returncode == 4, r.stderr
    assert setup.motd() == "one\n"
    assert "gitpuppet.yaml:3:" in r.stderr and "percent: 100" in r.stderr


def test_run_branch_applies_another_branch_once(setup: Setup) -> None:
    push(setup, "one", ago=3 * 3600)
    assert setup.run("run", "--now").returncode == 2
    subprocess.run(["git", "checkout", "-q", "-b", "hotfix"], cwd=setup.work, check=True)
    fix = push(setup, "hot", ago=0)  # not due for wave 2: --branch is an operator's one-off
    r = setup.run("run", "--now", "--branch", "hotfix")
    assert r.returncode == 2, r.stderr
    assert setup.motd() == "hot\n"
    config = setup.config.read_text()
    assert "branch: production" in config and "hotfix" not in config
    data = status(setup)
    assert data["applied_commit"] == fix
    assert data["rollout"]["branch"] == "hotfix"
    report = sorted((setup.state / "reports").iterdir())[-1]
    assert json.loads(report.read_text())["environment"] == "hotfix"
    # Back on the configured branch: its head is an ancestor of the applied commit, and a
    # node never moves backwards; it stays on the hotfix until production moves on.
    again = setup.run("run", "--now")
    assert again.returncode == 4, again.stderr
    assert "an ancestor of the applied" in again.stderr and "not moving backwards" in again.stderr
    assert setup.motd() == "hot\n"


@pytest.mark.parametrize("bad", ["main:refs/gitpuppet/applied", "../x", "-x", "a b"])
def test_run_branch_refuses_a_name_that_is_not_a_branch(setup: Setup, bad: str) -> None:
    """Attack: a --branch value that would make the fetch refspec overwrite the node's marks."""
    push(setup, "one", ago=3 * 3600)
    r = setup.run("run", "--now", "--branch", bad)
    assert r.returncode == 1
    assert "not a valid branch name" in r.stderr
    assert not (setup.state / "repo.git").exists()
