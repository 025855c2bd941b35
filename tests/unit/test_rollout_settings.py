"""gitpuppet.yaml's `rollout:` checked strictly, each error naming gitpuppet.yaml:line."""

from __future__ import annotations

import pytest

from gitpuppet.compile.source import DirTree
from gitpuppet.errors import SourceError
from gitpuppet.rollout.settings import NO_ROLLOUT, RolloutSettings, Wave, load_rollout

GOOD = """\
hierarchy: [common.yaml]
rollout:
  halt_after_failures: 2
  waves:
    - {percent: 5, after: 0m}
    - {percent: 30, after: 1h}
    - {percent: 100, after: 4h}
"""


def load(tmp_path, text: str) -> RolloutSettings:  # type: ignore[no-untyped-def]
    (tmp_path / "gitpuppet.yaml").write_text(text)
    return load_rollout(DirTree(tmp_path))


def test_good_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = load(tmp_path, GOOD)
    assert s.waves == (Wave(5, 0), Wave(30, 3600), Wave(100, 14400))
    assert s.halt_after_failures == 2 and s.configured


def test_absent_file_or_section_is_no_rollout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert load_rollout(DirTree(tmp_path)) == NO_ROLLOUT
    assert load(tmp_path, "hierarchy: [common.yaml]\n") == NO_ROLLOUT


BAD = [
    ("rollout: [1]\n", 1, "must be a mapping"),
    ("rollout:\n  wave: []\n", 2, "did you mean 'waves'"),
    ("rollout:\n  waves: []\n", 2, "non-empty list"),
    ("rollout:\n  waves:\n    - {percent: 0}\n    - {percent: 100}\n", 3, "1 to 100"),
    ("rollout:\n  waves:\n    - {percent: 101}\n", 3, "1 to 100"),
    ("rollout:\n  waves:\n    - {percent: 50.5}\n    - {percent: 100}\n", 3, "whole number"),
    ("rollout:\n  waves:\n    - {percent: 30}\n    - {percent: 10}\n", 4, "not above"),
    ("rollout:\n  waves:\n    - {percent: 30}\n    - {percent: 60}\n", 4, "percent: 100"),
    (
        "rollout:\n  waves:\n    - {percent: 30, after: 2h}\n    - {percent: 100, after: 1h}\n",
        4,
        "sooner than",
    ),
    ("rollout:\n  waves:\n    - {percent: 100, after: soon}\n", 3, "not a duration"),
    ("rollout:\n  waves:\n    - {percent: 100, after: -1h}\n", 3, "positive"),
    ("rollout:\n  waves:\n    - {percnt: 100}\n", 3, "did you mean 'percent'"),
    ("rollout:\n  waves:\n    - 100\n", 3, "a wave is a mapping"),
    ("rollout:\n  halt_after_failures: 0\n", 2, "positive whole number"),
    ("rollout:\n  halt_after_failures: yes\n", 2, "positive whole number"),
]


@pytest.mark.parametrize(("text", "line", "words"), BAD)
def test_bad_settings_name_file_and_line(tmp_path, text: str, line: int, words: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SourceError) as err:
        load(tmp_path, text)
    assert str(err.value).startswith(f"gitpuppet.yaml:{line}: "), str(err.value)
    assert words in str(err.value)
