"""seen.json: first-seen times are kept, never moved later, and the file stays bounded."""

from __future__ import annotations

from pathlib import Path

from gitpuppet.git.seen import MAX_ENTRIES, load_seen, note_seen


def test_first_seen_time_is_kept_and_the_record_is_bounded(tmp_path: Path) -> None:
    note_seen(tmp_path, {"a" * 40: 100}, now=1000.0)
    note_seen(tmp_path, {"a" * 40: 100}, now=2000.0)  # seen again: still first seen at 1000
    assert load_seen(tmp_path)["a" * 40].first_seen == 1000.0
    many = {f"{i:040x}": i for i in range(1, MAX_ENTRIES + 50)}
    for i, (commit, when) in enumerate(many.items()):
        note_seen(tmp_path, {commit: when}, keep="a" * 40, now=3000.0 + i)
    record = load_seen(tmp_path)
    assert len(record) == MAX_ENTRIES + 1  # the newest, and the applied commit
    assert record["a" * 40].committed == 100
    assert f"{1:040x}" not in record and f"{MAX_ENTRIES + 49:040x}" in record


def test_unreadable_record_starts_empty(tmp_path: Path) -> None:
    (tmp_path / "seen.json").write_text("{garbage")
    assert load_seen(tmp_path) == {}
    assert "b" * 40 in note_seen(tmp_path, {"b" * 40: 5}, now=1.0)
