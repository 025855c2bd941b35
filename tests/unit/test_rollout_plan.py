"""The rollout's pure decision (SPEC §10): bucket, wave, due times, trailers, pause, halt.

The clock is a parameter (`now`): the one acceptable fake. The halt's `failures_on` is a fake
callable here (the reports repository behind it is another module's, tested end to end there).
"""

from __future__ import annotations

import hashlib

import pytest

from gitpuppet.errors import GitpuppetError
from gitpuppet.rollout.plan import (
    CommitView,
    active_pause,
    bucket,
    clean_reason,
    decide,
    wave_index,
)
from gitpuppet.rollout.settings import RolloutSettings, Wave

HOUR = 3600
WAVES = RolloutSettings((Wave(5, 0), Wave(30, HOUR), Wave(100, 4 * HOUR)), configured=True)
T0 = 1_700_000_000


def commit(name: str, when: int, trailer: str | None = None, body: str = "change") -> CommitView:
    message = f"{body}\n" + (f"\nRollout: {trailer}\n" if trailer else "")
    trailers = {"Rollout": trailer} if trailer else {}
    return CommitView(name * 40, when, message, trailers)


def node_in_wave(wave: int, settings: RolloutSettings = WAVES) -> str:
    """A node name whose wave (0-based) is `wave`."""
    for i in range(10_000):
        name = f"n{i}.example.com"
        if wave_index(settings, bucket(name)) == wave:
            return name
    raise AssertionError("no such node")


def test_bucket_is_the_documented_formula() -> None:
    for name in ("web01.example.com", "db-7", "ü.example"):
        expected = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 100
        assert bucket(name) == expected
    assert {bucket(f"n{i}") for i in range(2000)} == set(range(100))


@pytest.mark.parametrize(
    ("node_bucket", "wave"), [(0, 0), (4, 0), (5, 1), (29, 1), (30, 2), (99, 2)]
)
def test_wave_is_the_first_whose_percent_is_above_the_bucket(node_bucket: int, wave: int) -> None:
    assert wave_index(WAVES, node_bucket) == wave


@pytest.mark.parametrize(("wave", "hours_due"), [(0, 0), (1, 1), (2, 4)])
def test_a_commit_is_due_after_its_waves_delay(wave: int, hours_due: int) -> None:
    node = node_in_wave(wave)
    new = commit("b", T0)
    history = [new]
    before = decide(node, WAVES, history, "a" * 40, now=T0 + hours_due * HOUR - 1)
    assert before.commit == "a" * 40
    assert before.pending == new.id and before.due_at == T0 + hours_due * HOUR
    assert before.wave == wave + 1
    after = decide(node, WAVES, history, "a" * 40, now=T0 + hours_due * HOUR)
    assert after.commit == new.id and after.pending is None


def test_the_newest_due_commit_is_chosen_not_the_head() -> None:
    node = node_in_wave(2)
    history = [commit("c", T0 + 3 * HOUR), commit("b", T0)]
    d = decide(node, WAVES, history, "a" * 40, now=T0 + 5 * HOUR)
    assert d.commit == "b" * 40
    assert d.pending == "c" * 40 and d.due_at == T0 + 7 * HOUR
    assert "due" in (d.pending_line() or "")


def test_immediate_is_due_everywhere_at_once() -> None:
    for wave in range(3):
        d = decide(node_in_wave(wave), WAVES, [commit("r", T0, "immediate")], "a" * 40, now=T0)
        assert d.commit == "r" * 40


def test_future_dated_commit_is_due_only_then_with_a_warning() -> None:
    node = node_in_wave(0)
    d = decide(node, WAVES, [commit("f", T0 + 10 * HOUR)], "a" * 40, now=T0)
    assert d.commit == "a" * 40 and d.due_at == T0 + 10 * HOUR
    assert any("dated in the future" in w for w in d.warnings)


def test_no_settings_means_every_commit_due_at_once() -> None:
    d = decide("x", RolloutSettings(), [commit("b", T0)], "a" * 40, now=T0)
    assert d.commit == "b" * 40 and d.wave is None


def test_pause_holds_every_node_and_resume_releases() -> None:
    bad = commit("b", T0 - 10 * HOUR)
    pause = commit("p", T0 - 9 * HOUR, "pause", body="stop: b breaks nginx")
    for wave in range(3):
        d = decide(node_in_wave(wave), WAVES, [pause, bad], "a" * 40, now=T0)
        assert d.commit == "a" * 40
        assert d.paused == "stop: b breaks nginx"
        assert "paused" in (d.pending_line() or "")
    resume = commit("r", T0 - HOUR, "resume")
    for wave in range(3):
        d = decide(node_in_wave(wave), WAVES, [resume, pause, bad], "a" * 40, now=T0)
        assert d.paused is None
        # Waves count from the commits' own times: b and p are due everywhere, r only in wave 1-2.
        assert d.commit == (resume.id if wave < 2 else pause.id)


def test_a_later_pause_after_a_resume_holds_again() -> None:
    history = [
        commit("q", T0, "pause"),
        commit("r", T0 - 1, "resume"),
        commit("p", T0 - 2, "pause"),
    ]
    assert active_pause(history) == history[0]
    assert active_pause(history[1:]) is None


def test_pause_reason_carries_no_terminal_escapes_and_is_short() -> None:
    """Attack: a commit message that rewrites the operator's terminal through `status`."""
    hostile = "oops \x1b]0;pwned\x07\x1b[2J\r\nreal reason" + "x" * 500 + "\n\nRollout: pause"
    reason = clean_reason(hostile)
    assert "\x1b" not in reason and "\x07" not in reason and "\r" not in reason
    assert reason.startswith("oops ") and len(reason) <= 200


def test_unknown_trailer_words_are_warned_about_and_ignored() -> None:
    d = decide(node_in_wave(2), WAVES, [commit("b", T0, "immediatly")], "a" * 40, now=T0)
    assert d.commit == "a" * 40
    assert any("immediatly" in w for w in d.warnings)


# -- the automatic halt ------------------------------------------------------------------------

HALT = RolloutSettings(WAVES.waves, halt_after_failures=2, configured=True)


def canaries(n: int) -> list[str]:
    out, i = [], 0
    while len(out) < n:
        if wave_index(HALT, bucket(f"c{i}")) == 0:
            out.append(f"c{i}")
        i += 1
    return out


def test_halt_fires_after_n_failing_canaries_and_never_before() -> None:
    """failures_on is a fake callable here: the reports repository is fleet's (see docstring)."""
    node = node_in_wave(1)
    bad = commit("b", T0)
    now = T0 + 2 * HOUR
    one = decide(node, HALT, [bad], "a" * 40, now, failures_on=lambda c: canaries(1))
    assert one.commit == bad.id
    two = decide(node, HALT, [bad], "a" * 40, now, failures_on=lambda c: canaries(2))
    assert two.commit == "a" * 40 and two.held and "halted" in two.held
    # Failures of nodes of its own (or a later) wave do not halt a wave-2 node.
    peers = [node_in_wave(1), node_in_wave(2), "zz-" + node_in_wave(2)]
    same = decide(node, HALT, [bad], "a" * 40, now, failures_on=lambda c: peers)
    assert same.commit == bad.id
    # The canaries themselves are never halted.
    first = decide(node_in_wave(0), HALT, [bad], "a" * 40, now, failures_on=lambda c: canaries(5))
    assert first.commit == bad.id


def test_a_newer_commit_lifts_the_halt_and_an_older_due_one_still_applies() -> None:
    node = node_in_wave(2)
    ok, bad = commit("o", T0 - 10 * HOUR), commit("b", T0 - 5 * HOUR)
    fails = {bad.id: canaries(3)}
    d = decide(node, HALT, [bad, ok], "a" * 40, T0, failures_on=lambda c: fails.get(c, []))
    assert d.commit == ok.id and d.pending == bad.id and "halted" in (d.held or "")
    fix = commit("f", T0 - 5 * HOUR + 60)
    d = decide(node, HALT, [fix, bad, ok], "a" * 40, T0, failures_on=lambda c: fails.get(c, []))
    assert d.commit == fix.id


def test_halt_check_that_cannot_be_read_holds_the_commit() -> None:
    def broken(commit: str) -> list[str]:
        raise GitpuppetError("reports repo unreachable")

    node, bad = node_in_wave(2), commit("b", T0 - 10 * HOUR)
    d = decide(node, HALT, [bad], "a" * 40, T0, failures_on=broken)
    assert d.commit == "a" * 40 and "unreachable" in (d.held or "")
    d = decide(node, HALT, [bad], "a" * 40, T0, failures_on=None)
    assert d.commit == "a" * 40 and "no reports repository" in (d.held or "")
