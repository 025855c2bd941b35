"""state.json: round trip, atomic writes, and a missing or corrupt file never ends a run."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from gitpuppet.state import State, load_state, save_state, write_json_atomic


def test_missing_file_is_a_fresh_state(tmp_path: Path) -> None:
    assert load_state(tmp_path / "nowhere") == State()


def test_round_trip(tmp_path: Path) -> None:
    state = State(
        applied_commit="a" * 40,
        last_good_commit="b" * 40,
        pending_refreshes=["service:nginx"],
        last_run_time=1700000000.5,
        last_run_result="changed",
        last_exit_code=2,
        node="web01",
        environment="production",
    )
    save_state(tmp_path, state)
    assert load_state(tmp_path) == state
    assert stat.S_IMODE(os.stat(tmp_path / "state.json").st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temp file left


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[1, 2]",
        '"a string"',
        '{"pending_refreshes": "service:x"}',
        '{"pending_refreshes": [1]}',
        '{"applied_commit": "abc", "pending_refreshes": [',
        "\udcff",
    ],
)
def test_corrupt_file_warns_and_starts_fresh(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "state.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    assert load_state(tmp_path) == State()
    assert "state.json is unreadable" in capsys.readouterr().err


def test_unknown_keys_from_a_newer_version_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text(json.dumps({"applied_commit": "c1", "future_key": 1}))
    assert load_state(tmp_path).applied_commit == "c1"


def test_atomic_write_replaces_and_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "summary.json"
    write_json_atomic(target, {"a": 1}, mode=0o644)
    write_json_atomic(target, {"a": 2}, mode=0o644)
    assert json.loads(target.read_text()) == {"a": 2}
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    assert sorted(p.name for p in target.parent.iterdir()) == ["summary.json"]


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_json_atomic(target, {"a": 1})

    class Unserialisable:
        def __str__(self) -> str:
            raise RuntimeError("cannot serialise")

    with pytest.raises(RuntimeError):
        write_json_atomic(target, {"a": Unserialisable()})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
