"""The line type, table-driven: file text in, file text out; then on real files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from gitpuppet.backup import BackupStore
from gitpuppet.contract import ApplyContext
from gitpuppet.errors import ApplyError
from tests.integration import test_type_support as support
from tests.integration.test_type_support import Account, changes_of, converge, make

ctx = support.ctx
account = support.account

SSHD = "Port 22\n#PermitRootLogin yes\nPermitRootLogin yes\nUsePAM yes\n"

# (case id, text before, attributes, text after)
CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("append to the end", "a\nb\n", {"line": "c"}, "a\nb\nc\n"),
    ("already there", "a\nc\nb\n", {"line": "c"}, "a\nc\nb\n"),
    ("empty file", "", {"line": "c"}, "c\n"),
    ("no final newline", "a\nb", {"line": "c"}, "a\nb\nc\n"),
    ("no final newline, present", "a\nc", {"line": "c"}, "a\nc"),
    (
        "match replaces the last matching line only",
        SSHD,
        {"line": "PermitRootLogin no", "match": "^#?PermitRootLogin"},
        "Port 22\n#PermitRootLogin yes\nPermitRootLogin no\nUsePAM yes\n",
    ),
    (
        "match already right",
        "x=1\nx=2\n",
        {"line": "x=2", "match": "^x="},
        "x=1\nx=2\n",
    ),
    (
        "match finds nothing: append",
        "a\n",
        {"line": "x=1", "match": "^x="},
        "a\nx=1\n",
    ),
    (
        "match finds nothing but the line is there",
        "x=1\na\n",
        {"line": "x=1", "match": "^nomatch"},
        "x=1\na\n",
    ),
    (
        "after: insert after the last matching line",
        "[main]\nk=v\n[other]\nz=1\n[main]\n",
        {"line": "new=1", "after": r"^\[main\]"},
        "[main]\nk=v\n[other]\nz=1\n[main]\nnew=1\n",
    ),
    (
        "after without a match: append",
        "a\n",
        {"line": "new", "after": "^nothing"},
        "a\nnew\n",
    ),
    (
        "after in the middle",
        "a\nb\nc\n",
        {"line": "new", "after": "^a$"},
        "a\nnew\nb\nc\n",
    ),
    (
        "absent removes every equal line",
        "a\nx\nb\nx\n",
        {"line": "x", "ensure": "absent"},
        "a\nb\n",
    ),
    (
        "absent by match",
        "keep\nPermitRootLogin yes\n#PermitRootLogin no\n",
        {"match": "^#?PermitRootLogin", "ensure": "absent"},
        "keep\n",
    ),
    ("absent when not there", "a\nb\n", {"line": "x", "ensure": "absent"}, "a\nb\n"),
    ("absent leaves an empty file", "x\n", {"line": "x", "ensure": "absent"}, ""),
    (
        "a line is compared whole, not as a substring",
        "xx\n",
        {"line": "x"},
        "xx\nx\n",
    ),
]


@pytest.mark.parametrize(
    ("before", "attrs", "after"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_line_cases(
    tmp_path: Path, ctx: ApplyContext, before: str, attrs: dict[str, Any], after: str
) -> None:
    path = tmp_path / "conf"
    path.write_text(before)
    attrs = dict(attrs)
    # The title is the line (the namevar); with only `match`, any title not in the file will do.
    res = make("line", attrs.pop("line", "no such line"), path=str(path), **attrs)
    changes = converge(res, ctx)
    assert path.read_text() == after
    assert bool(changes) is (before != after)
    assert changes_of(res, ctx) == []


def test_missing_file_fails_and_says_to_manage_it(tmp_path: Path, ctx: ApplyContext) -> None:
    path = tmp_path / "nope"
    res = make("line", "x=1", path=str(path))
    (change,) = changes_of(res, ctx)
    assert (change.attr, change.old) == ("file", "absent")
    with pytest.raises(ApplyError, match=f"{path} does not exist.*manage the file first"):
        converge(res, ctx)
    assert not path.exists()


def test_keeps_mode_and_owner_and_backs_up(
    tmp_path: Path, ctx: ApplyContext, account: Account
) -> None:
    path = tmp_path / "conf"
    path.write_text("a\n")
    os.chmod(path, 0o640)
    os.chown(path, account.uid, account.gid)
    inode = os.stat(path).st_ino
    (change,) = converge(make("line", "b", path=str(path)), ctx)
    assert change.diff is not None and "+b\n" in change.diff
    st = os.stat(path)
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o640, account.uid, account.gid)
    assert st.st_ino != inode  # replaced by rename, not rewritten in place
    store = BackupStore(ctx.state_dir)
    assert store.read(store.versions(str(path))[0]) == b"a\n"
    assert not [n for n in os.listdir(tmp_path) if ".gitpuppet-" in n]


def test_sensitive_line_is_redacted(tmp_path: Path, ctx: ApplyContext) -> None:
    path = tmp_path / "env"
    path.write_text("A=1\n")
    (change,) = converge(make("line", "TOKEN=s3cret", path=str(path), sensitive=True), ctx)
    assert change.redacted and change.diff is None and "s3cret" not in str(change.new)
