"""The one line printed per changed, pending, failed or skipped resource (SPEC §4.2)."""

from __future__ import annotations

import pytest

from gitpuppet.cli.output import line_for
from gitpuppet.model import Change, Ref, Result, Status


def line(status: Status, *changes: Change, message: str = "", refreshed: bool = False) -> str:
    ref = Ref.parse("package:curl")
    return line_for(Result(ref, status, list(changes), message, refreshed=refreshed))


@pytest.mark.parametrize(
    ("status", "changes", "message", "expected"),
    [
        (
            Status.CHANGED,
            [Change("ensure", None, "7.88.1-10")],
            "",
            "package:curl: ensure changed (absent -> 7.88.1-10)",
        ),
        (
            Status.WOULD_CHANGE,
            [Change("ensure", "7.88.1-9", "7.88.1-10")],
            "",
            "package:curl: would change ensure (7.88.1-9 -> 7.88.1-10)",
        ),
        (
            Status.CHANGED,
            [Change("mode", "0600", "0644"), Change("owner", "nobody", "root")],
            "would refresh service:x",
            "package:curl: mode, owner changed (mode 0600 -> 0644, owner nobody -> root; "
            "would refresh service:x)",
        ),
        # Created: the attribute names say enough.
        (
            Status.CHANGED,
            [Change("ensure", "absent", "file"), Change("content", None, "x", diff="+x\n")],
            "",
            "package:curl: ensure, content changed",
        ),
        # Content, diffs, redacted and long values are never printed on the line.
        (
            Status.CHANGED,
            [Change("password", "old-hash", "new-hash", redacted=True)],
            "",
            "package:curl: password changed",
        ),
        (
            Status.CHANGED,
            [Change("comment", "a", "x" * 41), Change("enable", False, True)],
            "",
            "package:curl: comment, enable changed (enable false -> true)",
        ),
        (Status.FAILED, [Change("ensure", None, "1")], "boom", "package:curl: failed: boom"),
    ],
)
def test_line_for(status: Status, changes: list[Change], message: str, expected: str) -> None:
    assert line(status, *changes, message=message) == expected
