"""The type tests' `converge` helper takes the production path: the applier itself, with the
write batch for file and cron, not a loop of its own that writes each file at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitpuppet.contract import ApplyContext
from gitpuppet.errors import ApplyError
from gitpuppet.resources.fsutil import WriteBatch
from tests.integration.test_type_support import converge, ctx, make

__all__ = ["ctx"]  # the fixture, used by name


def test_converge_stages_file_writes_in_the_batch_and_commits_them(
    tmp_path: Path, ctx: ApplyContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    committed: list[int] = []
    commit = WriteBatch.commit

    def counting_commit(self: WriteBatch) -> dict[object, str]:
        committed.append(len(self))
        return commit(self)

    monkeypatch.setattr(WriteBatch, "commit", counting_commit)
    path = tmp_path / "motd"
    changes = converge(make("file", str(path), content="hello\n"), ctx)
    assert [c.attr for c in changes] == ["ensure", "content"]
    assert committed == [1]  # staged, then committed by the applier
    assert path.read_text() == "hello\n"
    assert ctx.batch is None  # the applier hands the batch to the type only while it applies


def test_a_rename_that_fails_at_commit_reaches_the_test_as_an_apply_error(
    tmp_path: Path, ctx: ApplyContext
) -> None:
    # The validate command puts a directory where the file goes, after the temp file is
    # written: only the commit of the batch can find that out.
    blocked = tmp_path / "blocked"
    res = make(
        "file",
        str(blocked),
        data=b"new\n",
        validate=f"sh -c 'mkdir {blocked} && touch {blocked}/x'",
    )
    with pytest.raises(ApplyError, match=f"cannot replace {blocked}"):
        converge(res, ctx)
    assert blocked.is_dir() and not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_what_the_type_raised_reaches_the_test_whole(tmp_path: Path, ctx: ApplyContext) -> None:
    res = make("file", str(tmp_path / "f"), content="x\n", owner="nosuchuser-gp")
    with pytest.raises(ApplyError, match="owner 'nosuchuser-gp' does not exist") as info:
        converge(res, ctx)
    assert type(info.value) is ApplyError and info.value.hint is not None
