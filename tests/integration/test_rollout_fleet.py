"""200 simulated nodes choosing among real git commits with chosen committer dates (SPEC §10).

The commits are real (pygit2, `Signature` with the time we choose) in a real node repository;
the clock is a parameter of `choose` (the one acceptable fake). Every node "runs" at each
instant and keeps what it applied, as an agent would.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest

from gitpuppet.git.repo import NodeRepo
from gitpuppet.rollout.choose import RolloutSettingsError, choose
from gitpuppet.rollout.plan import bucket

HOUR = 3600
T0 = 1_700_000_000
NODES = [f"node{i:03d}.example.com" for i in range(200)]
WAVES = """rollout:
  waves:
    - {percent: 5, after: 0m}
    - {percent: 30, after: 1h}
    - {percent: 100, after: 4h}
"""


class History:
    """A bare repository whose tracking branch the test grows commit by commit."""

    def __init__(self, path: Path) -> None:
        self.repo = pygit2.init_repository(str(path), bare=True)
        self.node_repo = NodeRepo(path, [], "main")
        self.head: str | None = None

    def commit(self, when: int, message: str, files: dict[str, str] | None = None) -> str:
        files = {"gitpuppet.yaml": WAVES, "nodes.yaml": "default: {}\n", **(files or {})}
        builder = self.repo.TreeBuilder()
        for name, text in files.items():
            builder.insert(name, self.repo.create_blob(text.encode()), pygit2.GIT_FILEMODE_BLOB)
        sig = pygit2.Signature("Op", "op@example.com", when, 0)
        parents = [pygit2.Oid(hex=self.head)] if self.head else []
        oid = self.repo.create_commit(
            "refs/remotes/origin/main", sig, sig, message, builder.write(), parents
        )
        self.head = str(oid)
        return self.head


@pytest.fixture
def history(tmp_path: Path) -> History:
    return History(tmp_path / "repo.git")


def run_fleet(
    history: History,
    applied: dict[str, str | None],
    now: int,
    failures_on: Callable[[str], list[str]] | None = None,
) -> None:
    """Every node decides at `now` and applies what it chose."""
    assert history.head is not None
    for node in NODES:
        d = choose(
            history.node_repo, history.head, node, applied[node], now=now, failures_on=failures_on
        )
        if d.commit is not None:
            applied[node] = d.commit


def share(applied: dict[str, str | None], commit: str) -> float:
    return sum(c == commit for c in applied.values()) / len(NODES)


def expected(percent: int) -> float:
    return sum(bucket(n) < percent for n in NODES) / len(NODES)


def test_fraction_on_the_new_commit_follows_the_waves(history: History) -> None:
    old = history.commit(T0 - 10 * 24 * HOUR, "base")
    applied: dict[str, str | None] = dict.fromkeys(NODES)
    run_fleet(history, applied, T0)
    assert share(applied, old) == 1.0
    new = history.commit(T0, "new motd")
    for offset, percent in [(-60, 0), (0, 5), (59 * 60, 5), (HOUR, 30), (3 * HOUR, 30)]:
        run_fleet(history, applied, T0 + offset)
        assert share(applied, new) == expected(percent), offset
        # Within the hash's granularity: 200 names spread over 100 buckets.
        assert abs(share(applied, new) - percent / 100) <= 0.07
    run_fleet(history, applied, T0 + 4 * HOUR)
    assert share(applied, new) == 1.0


def test_immediate_reaches_every_node_at_once(history: History) -> None:
    history.commit(T0 - 10 * 24 * HOUR, "base")
    applied: dict[str, str | None] = dict.fromkeys(NODES)
    run_fleet(history, applied, T0)
    urgent = history.commit(T0, "fix the CVE\n\nRollout: immediate\n")
    run_fleet(history, applied, T0)
    assert share(applied, urgent) == 1.0


def test_an_immediate_revert_keeps_the_bad_commit_from_later_waves(history: History) -> None:
    history.commit(T0 - 10 * 24 * HOUR, "base")
    applied: dict[str, str | None] = dict.fromkeys(NODES)
    run_fleet(history, applied, T0)
    bad = history.commit(T0, "bad", {"bad.txt": "1\n"})
    ever_bad: set[str] = set()
    for offset in range(0, 20 * 60, 5 * 60):  # canaries pick it up during 20 minutes
        run_fleet(history, applied, T0 + offset)
        ever_bad |= {n for n, c in applied.items() if c == bad}
    revert = history.commit(T0 + 20 * 60, 'Revert "bad"\n\nRollout: immediate\n')
    for offset in range(20 * 60, 10 * HOUR, 10 * 60):
        run_fleet(history, applied, T0 + offset)
        ever_bad |= {n for n, c in applied.items() if c == bad}
    assert ever_bad and all(bucket(n) < 5 for n in ever_bad)
    assert share(applied, revert) == 1.0


def test_pause_holds_the_fleet_and_resume_releases_it(history: History) -> None:
    history.commit(T0 - 10 * 24 * HOUR, "base")
    applied: dict[str, str | None] = dict.fromkeys(NODES)
    run_fleet(history, applied, T0)
    change = history.commit(T0, "change")
    run_fleet(history, applied, T0 + 10)
    canaries = share(applied, change)
    assert canaries == expected(5)
    pause = history.commit(T0 + 60, "hold on: the change breaks logins\n\nRollout: pause\n")
    for offset in (2 * HOUR, 5 * HOUR, 48 * HOUR):
        run_fleet(history, applied, T0 + offset)
        assert share(applied, change) == canaries  # nobody moves, not even onto the pause
        assert share(applied, pause) == 0
    resume = history.commit(T0 + 48 * HOUR, "logins fixed upstream\n\nRollout: resume\n")
    run_fleet(history, applied, T0 + 48 * HOUR)
    # Waves count from the commits' own times: the change and the pause are long due for all.
    assert share(applied, resume) == expected(5)
    assert share(applied, pause) == 1 - expected(5)


def test_halt_stops_later_waves_after_n_canary_failures(history: History) -> None:
    """failures_on is a fake callable: the reports repository behind it is another module's."""
    waves = WAVES + "  halt_after_failures: 3\n"
    history.commit(T0 - 10 * 24 * HOUR, "base", {"gitpuppet.yaml": waves})
    applied: dict[str, str | None] = dict.fromkeys(NODES)
    run_fleet(history, applied, T0)
    bad = history.commit(T0, "bad", {"gitpuppet.yaml": waves, "x": "1"})
    run_fleet(history, applied, T0 + 60)
    canaries = [n for n in NODES if applied[n] == bad]
    assert len(canaries) == expected(5) * len(NODES) >= 3
    reported: list[str] = canaries[:2]
    run_fleet(history, applied, T0 + HOUR, failures_on=lambda c: reported if c == bad else [])
    assert share(applied, bad) == expected(30)  # two failures: not yet halted
    reported = canaries[:3]
    run_fleet(history, applied, T0 + 5 * HOUR, failures_on=lambda c: reported if c == bad else [])
    assert share(applied, bad) == expected(30)  # halted: wave 3 stays where it is
    fix = history.commit(T0 + 5 * HOUR, "fix", {"gitpuppet.yaml": waves, "x": "2"})
    run_fleet(history, applied, T0 + 9 * HOUR, failures_on=lambda c: reported if c == bad else [])
    assert share(applied, fix) == 1.0


def test_invalid_settings_at_the_head_name_the_line(history: History) -> None:
    history.commit(T0 - HOUR, "base")
    broken = "rollout:\n  waves:\n    - {percent: 30}\n"
    head = history.commit(T0, "oops", {"gitpuppet.yaml": broken})
    with pytest.raises(RolloutSettingsError) as err:
        choose(history.node_repo, head, "n1", None, now=T0)
    assert "gitpuppet.yaml:3:" in str(err.value)


def test_unverified_commits_cannot_resume_a_pause(history: History) -> None:
    """Attack: under verify, an unsigned commit below a signed head says `Rollout: resume`.

    `trusted` stands for the agent's ssh verification (real signatures: test_git_verify.py)."""
    history.commit(T0 - 10 * 24 * HOUR, "base")
    applied = history.head
    history.commit(T0 - 9 * 24 * HOUR, "change")
    history.commit(T0 - 8 * 24 * HOUR, "stop\n\nRollout: pause\n")
    sneaky = history.commit(T0 - 7 * 24 * HOUR, "x\n\nRollout: resume\n")
    head = history.commit(T0 - 6 * 24 * HOUR, "signed work")
    d = choose(history.node_repo, head, "n1", applied, now=T0, trusted=lambda c: c != sneaky)
    assert d.paused == "stop" and d.commit == applied
