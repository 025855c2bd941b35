"""The agent never moves a node backwards (issue 8 items 2 and 3, SPEC §7.2).

A git outage re-applies the *applied* commit, not an older last good one; any compile failure
of a new commit falls back to it with exit 4; an ancestor or an older replayed commit offered as
the head is held (with the reason in the run, the report and `gitpuppet status`); a force-push to
a newer history is followed; allowed_signers validity is checked at the time the node first saw
a commit. Real git servers on 127.0.0.1, real ssh-signed commits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.gitservers import GitDaemon, SigningKey
from tests.integration.test_run_agent import Setup, git


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


@pytest.fixture
def daemon(setup: Setup) -> Iterator[GitDaemon]:
    """A git daemon serving this test's control repo; the test stops and starts it."""
    server = GitDaemon(setup.tmp)
    server.start()
    setup.write_config(repo=f"git://127.0.0.1:{server.port}/control.git")
    try:
        yield server
    finally:
        server.stop()


def classes(setup: Setup, content: str, failing: bool = False) -> str:
    """motd with `content`, an exec that counts refreshes of motd, and maybe a failing exec."""
    text = (
        f'resources:\n  - file: {setup.target}/motd\n    content: "{content}\\n"\n'
        f"  - exec: \"sh -c 'echo {content} >> {setup.target}/restarts'\"\n"
        f"    refreshonly: true\n    subscribe: file:{setup.target}/motd\n"
    )
    if failing:
        text += "  - exec: \"sh -c 'exit 3'\"\n"
    return text


def restarts(setup: Setup) -> list[str]:
    path = setup.target / "restarts"
    return path.read_text().split() if path.exists() else []


def status(setup: Setup) -> dict:  # type: ignore[type-arg]
    r = setup.run("status", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def test_git_outage_reapplies_the_applied_commit_not_the_last_good(
    setup: Setup, daemon: GitDaemon
) -> None:
    one = setup.push("one", classes(setup, "one"))
    assert setup.run("run", "--now").returncode == 2
    two = setup.push("two", classes(setup, "two", failing=True))
    assert setup.run("run", "--now").returncode == 6  # changed, and the exec failed
    data = status(setup)
    assert (data["applied_commit"], data["last_good_commit"]) == (two, one)
    assert restarts(setup) == ["one", "two"]
    daemon.stop()
    r = setup.run("run", "--now")
    assert r.returncode == 4, r.stdout + r.stderr  # only the failing exec; nothing rolled back
    assert "pull failed" in r.stderr
    assert f"applied the commit already applied, {two[:12]}, again instead" in r.stderr
    assert setup.motd() == "two\n" and restarts(setup) == ["one", "two"]
    daemon.start()
    assert setup.run("run", "--now").returncode == 4
    assert setup.motd() == "two\n" and restarts(setup) == ["one", "two"]


def test_compile_failure_not_ours_falls_back_with_exit_4(setup: Setup) -> None:
    """YAML nested 500 deep made the compiler raise RecursionError: `internal error`, exit 1."""
    good = setup.push("good")
    assert setup.run("run", "--now").returncode == 2
    deep = "[" * 500 + "]" * 500
    bad = setup.push("deep", f"resources:\n  - file: {setup.target}/motd\n    content: {deep}\n")
    (setup.target / "motd").write_text("drifted\n")
    r = setup.run("run", "--now")
    assert r.returncode == 6, r.stdout + r.stderr
    assert "internal error" not in r.stderr
    assert f"commit {bad[:12]} does not compile" in r.stderr
    assert f"{good[:12]}, again instead" in r.stderr and setup.motd() == "good\n"


def test_an_ancestor_served_as_head_is_held(setup: Setup) -> None:
    old = setup.push("old")
    assert setup.run("run", "--now").returncode == 2
    new = setup.push("new")
    assert setup.run("run", "--now").returncode == 2
    git(setup.work, "push", "-q", "-f", "origin", f"{old}:production")  # a replay / stale mirror
    (setup.target / "motd").write_text("drifted\n")
    r = setup.run("run", "--now")
    assert r.returncode == 6, r.stdout + r.stderr
    held = (
        f"held: the server offers {old[:12]}, an ancestor of the applied {new[:12]}: "
        "not moving backwards"
    )
    assert held in r.stderr and setup.motd() == "new\n"
    data = status(setup)
    assert data["applied_commit"] == new and held in data["messages"]
    human = setup.run("status").stdout
    assert f"held:        the server offers {old[:12]}, an ancestor of the applied" in human
    report = max((setup.state / "reports").glob("*.json"))
    assert held in json.loads(report.read_text())["messages"]


def test_force_push_to_a_newer_history_is_followed(setup: Setup) -> None:
    base = setup.push("base")
    setup.push("old line")
    assert setup.run("run", "--now").returncode == 2
    git(setup.work, "reset", "-q", "--hard", base)
    time.sleep(1.1)  # a newer committer time than the applied commit's
    (setup.work / "classes/main.yaml").write_text(
        f'resources:\n  - file: {setup.target}/motd\n    content: "rewritten\\n"\n'
    )
    git(setup.work, "commit", "-q", "-am", "rewritten")
    git(setup.work, "push", "-q", "-f", "origin", "production")
    newer = git(setup.work, "rev-parse", "HEAD")
    r = setup.run("run", "--now")
    assert r.returncode == 2, r.stdout + r.stderr
    assert setup.motd() == "rewritten\n" and status(setup)["applied_commit"] == newer


def _signed(setup: Setup, key: SigningKey, content: str, when: int | None = None) -> str:
    (setup.work / "nodes.yaml").write_text("t.example.com:\n  classes: [main]\n")
    (setup.work / "classes").mkdir(exist_ok=True)
    (setup.work / "classes/main.yaml").write_text(
        f'resources:\n  - file: {setup.target}/motd\n    content: "{content}\\n"\n'
    )
    git(setup.work, "add", "-A")
    sign = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key.key}"]
    stamp = [] if when is None else ["--date", f"@{when} +0000"]
    import os
    import subprocess

    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    if when is not None:
        env["GIT_COMMITTER_DATE"] = f"@{when} +0000"
    subprocess.run(
        ["git", *sign, "commit", "-q", "-S", *stamp, "-m", content],
        cwd=setup.work,
        env=env,
        check=True,
        capture_output=True,
    )
    git(setup.work, "push", "-q", "-f", "origin", "HEAD:production")
    return git(setup.work, "rev-parse", "HEAD")


def _verify(setup: Setup, key: SigningKey, options: str = 'namespaces="git"') -> None:
    kind, blob = key.pub.split()[:2]
    signers = setup.tmp / "allowed_signers"
    signers.write_text(f"{key.principal} {options} {kind} {blob}\n")
    setup.config.write_text(setup.config.read_text() + f"verify:\n  allowed_signers: {signers}\n")


def test_replayed_older_signed_commit_is_held_under_verify(
    setup: Setup, signing_key: SigningKey
) -> None:
    """Two signed commits of unrelated histories: the older one served as head is not applied."""
    _verify(setup, signing_key)
    now = int(time.time())
    old = _signed(setup, signing_key, "old", when=now - 86400)
    git(setup.work, "checkout", "-q", "--orphan", "other")
    new = _signed(setup, signing_key, "new", when=now - 3600)
    assert setup.run("run", "--now").returncode == 2 and setup.motd() == "new\n"
    git(setup.work, "push", "-q", "-f", "origin", f"{old}:production")
    (setup.target / "motd").write_text("drifted\n")
    r = setup.run("run", "--now")
    assert r.returncode == 6, r.stdout + r.stderr
    assert f"held: the server offers {old[:12]}, not a descendant of the applied {new[:12]}" in (
        r.stderr
    )
    assert "not moving backwards" in r.stderr and setup.motd() == "new\n"


def test_backdated_commit_of_an_expired_key_is_refused(
    setup: Setup, signing_key: SigningKey
) -> None:
    """The key expired yesterday; a commit it signs now with yesterday's date must not pass."""
    yesterday = time.strftime("%Y%m%d", time.gmtime(time.time() - 86400))
    _verify(setup, signing_key, f'namespaces="git",valid-before="{yesterday}"')
    backdated = _signed(setup, signing_key, "backdated", when=int(time.time()) - 3 * 86400)
    r = setup.run("run", "--now")
    assert r.returncode == 1, r.stdout + r.stderr  # nothing applied before: nothing to fall back to
    assert f"commit {backdated[:7]}" in r.stderr
    assert "the time this node first saw it" in r.stderr
    assert not (setup.target / "motd").exists()
    seen = json.loads((setup.state / "seen.json").read_text())["commits"]
    assert seen[backdated]["first_seen"] > time.time() - 120
