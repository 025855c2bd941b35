"""A new machine joining a later wave (SPEC §10, issue 10): its first clone is shallow (the head
only), and the head is not due for its wave yet. It looks further back for the newest commit
that is due and applies that, instead of applying nothing for hours; with nothing due at all it
still waits, and a commit already deep enough is not fetched again."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from gitpuppet.agent.run import NothingApplied, run_once
from gitpuppet.config import load_config
from gitpuppet.rollout.plan import bucket
from gitpuppet.state import load_state
from tests.integration.fleetsim import make_control_repo, make_node
from tests.integration.gitservers import GitDaemon, HttpGit, git

pytestmark = pytest.mark.integration

HOUR = 3600
WAVES = """\
rollout:
  waves:
    - {percent: 1, after: 0m}
    - {percent: 100, after: 2h}
"""


def _later_wave_name() -> str:
    return next(f"new-{i}.example.com" for i in range(100) if bucket(f"new-{i}.example.com"))


def _commit(work: Path, rel: str, text: str, message: str, when: float) -> str:
    (work / rel).write_text(text)
    git("add", "-A", cwd=work)
    stamp = f"@{int(when)} +0000"
    env = {"GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_DATE": stamp}
    git("commit", "-q", "-m", message, cwd=work, env=env)
    git("push", "-q", "origin", "production", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


@pytest.fixture(params=["git", "http"])
def served(tmp_path: Path, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """The control repo over git daemon or git-http-backend: both fetch shallow."""
    target = tmp_path / "target"
    control, work = make_control_repo(tmp_path / "served", target)
    server = (
        GitDaemon(tmp_path / "served") if request.param == "git" else HttpGit(tmp_path / "served")
    )
    server.start()
    yield tmp_path, target, work, f"{request.param}://127.0.0.1:{server.port}/control.git"
    server.stop()


def test_a_new_later_wave_node_applies_the_newest_commit_due_for_it(served) -> None:  # type: ignore[no-untyped-def]
    tmp_path, target, work, url = served
    now = time.time()
    _commit(work, "gitpuppet.yaml", WAVES, "rollout settings", now - 5 * HOUR)
    due = _commit(work, "notes.txt", "one\n", "due for every wave", now - 3 * HOUR)
    _commit(work, "notes.txt", "two\n", "not due for wave 2 yet", now - 1 * HOUR)
    node = make_node(tmp_path / "nodes", _later_wave_name(), Path("/nonexistent"), {}, repo=url)
    config = load_config(node.config)
    result = run_once(config, now=True)
    assert result.commit == due, result.messages
    assert load_state(node.state).applied_commit == due
    assert (target / node.name).read_text() == "ok\n"
    assert any("looked further back" in m for m in result.messages), result.messages
    # The next run needs nothing older: it does not deepen again.
    again = run_once(config, now=True)
    assert again.commit == due and not any("further back" in m for m in again.messages)


def test_a_new_node_with_nothing_due_still_waits(served) -> None:  # type: ignore[no-untyped-def]
    tmp_path, target, work, url = served
    now = time.time()
    # make_control_repo's first commit is dated now: re-date the whole history recent.
    _commit(work, "gitpuppet.yaml", WAVES, "rollout settings", now - 30 * 60)
    node = make_node(tmp_path / "nodes", _later_wave_name(), Path("/nonexistent"), {}, repo=url)
    with pytest.raises(NothingApplied, match="is due"):
        run_once(load_config(node.config), now=True)
    assert not (target / node.name).exists()
