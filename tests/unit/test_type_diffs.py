"""Every type's `diff` as data: the current state in, the desired attributes in, the changes
out (pyinfra's way: facts in, operations out). Nothing on the machine is read or changed; the
state is built as `current` would return it. Types come from the registry (typecases.py)."""

from __future__ import annotations

from typing import Any
from unittest.mock import ANY

import pytest

from gitpuppet.model import REDACTED
from gitpuppet.types import get_type
from tests.unit.typecases import diff, make, state, summary

Row = tuple[str, str, dict[str, Any], Any, list[tuple[str, Any, Any]]]

FILE = "/etc/motd"
FILE_ROWS: list[Row] = [
    (
        "absent-to-file",
        FILE,
        {"content": "hi\n"},
        {"kind": None},
        [("ensure", "absent", "file"), ("content", None, ANY)],
    ),
    ("same-content", FILE, {"content": "hi\n"}, {"kind": "file", "data": b"hi\n"}, []),
    (
        "other-content",
        FILE,
        {"content": "hi\n"},
        {"kind": "file", "data": b"ho\n"},
        [("content", ANY, ANY)],
    ),
    ("mode", FILE, {"mode": "0640"}, {"kind": "file", "mode": 0o644}, [("mode", "0644", "0640")]),
    ("mode-kept-when-unmanaged", FILE, {}, {"kind": "file", "mode": 0o600}, []),
    ("owner", FILE, {"owner": "root"}, {"kind": "file", "uid": 1000}, [("owner", ANY, "root")]),
    ("remove", FILE, {"ensure": "absent"}, {"kind": "file"}, [("ensure", "file", "absent")]),
    ("already-absent", FILE, {"ensure": "absent"}, {"kind": None}, []),
    (
        "directory-over-file",
        "/srv/d",
        {"ensure": "directory"},
        {"kind": "file"},
        [("ensure", "file", "directory")],
    ),
    (
        "link-target",
        "/etc/l",
        {"ensure": "link", "target": "/b"},
        {"kind": "link", "target": "/a"},
        [("target", "/a", "/b")],
    ),
    ("link-ok", "/etc/l", {"ensure": "link", "target": "/a"}, {"kind": "link", "target": "/a"}, []),
    ("present-keeps-a-link", FILE, {"ensure": "present"}, {"kind": "link", "target": "/x"}, []),
    (
        "sensitive-content",
        FILE,
        {"content": "s3cret\n", "sensitive": True},
        {"kind": "file", "data": b"old\n"},
        [("content", REDACTED, REDACTED)],
    ),
]


@pytest.mark.parametrize(
    ("path", "attrs", "cur", "expected"), [r[1:] for r in FILE_ROWS], ids=[r[0] for r in FILE_ROWS]
)
def test_file_diff(path: str, attrs: dict[str, Any], cur: dict[str, Any], expected: list) -> None:
    assert summary(diff("file", state("file", **cur), make("file", path, **attrs))) == expected


def test_file_content_diff_is_a_unified_diff_when_asked() -> None:
    res = make("file", FILE, content="new\n")
    (change,) = diff("file", state("file", kind="file", data=b"old\n"), res, want_diff=True)
    assert change.diff is not None and "-old" in change.diff and "+new" in change.diff
    (quiet,) = diff("file", state("file", kind="file", data=b"old\n"), res)
    assert quiet.diff is None


@pytest.mark.parametrize(
    ("cur", "expected"),
    [
        (True, [("executed", "notrun", [0])]),
        (False, []),
    ],
    ids=["should-run", "guarded"],
)
def test_exec_diff(cur: bool, expected: list) -> None:
    assert summary(diff("exec", cur, make("exec", "/bin/true"))) == expected


TEXT_ROWS: list[tuple[str, str, dict[str, Any], str | None, list[tuple[str, Any, Any]]]] = [
    (
        "line-file-missing",
        "line",
        {"path": "/etc/x", "line": "a=1"},
        None,
        [("file", "absent", "present")],
    ),
    (
        "line-added",
        "line",
        {"path": "/etc/x", "line": "a=1"},
        "b=2\n",
        [("content", "1 lines", "2 lines")],
    ),
    ("line-there", "line", {"path": "/etc/x", "line": "a=1"}, "b=2\na=1\n", []),
    (
        "line-replaced-by-match",
        "line",
        {"path": "/etc/x", "line": "a=1", "match": "^a="},
        "a=0\n",
        [("content", "1 lines", "1 lines")],
    ),
    (
        "line-removed",
        "line",
        {"path": "/etc/x", "line": "a=1", "ensure": "absent"},
        "a=1\nb=2\n",
        [("content", "2 lines", "1 lines")],
    ),
    (
        "host-created-with-its-file",
        "host",
        {"ip": "10.0.0.1"},
        None,
        [("content", "0 lines", "1 lines")],
    ),
    ("host-there", "host", {"ip": "10.0.0.1"}, "10.0.0.1\tdb\n", []),
    (
        "host-moved",
        "host",
        {"ip": "10.0.0.2"},
        "# hosts\n10.0.0.1\tdb\n",
        [("content", "2 lines", "2 lines")],
    ),
]


@pytest.mark.parametrize(
    ("type_name", "attrs", "cur", "expected"),
    [r[1:] for r in TEXT_ROWS],
    ids=[r[0] for r in TEXT_ROWS],
)
def test_text_edit_diff(
    type_name: str, attrs: dict[str, Any], cur: str | None, expected: list
) -> None:
    title = "db" if type_name == "host" else "l"
    assert summary(diff(type_name, cur, make(type_name, title, **attrs))) == expected


def test_a_sensitive_line_is_redacted() -> None:
    res = make("line", "l", path="/etc/x", line="token=abc", sensitive=True)
    assert summary(diff("line", "", res)) == [("content", REDACTED, REDACTED)]


CRON = {"command": "/usr/bin/backup", "minute": "5"}


CRON_ROWS: list[tuple[str, dict[str, Any], dict[str, Any], list[tuple[str, Any, Any]]]] = [
    ("new-job", CRON, {"kind": None}, [("ensure", "absent", "present"), ("content", None, ANY)]),
    (
        "remove",
        {**CRON, "ensure": "absent"},
        {"kind": "file", "data": b"x"},
        [("ensure", "present", "absent")],
    ),
    ("already-gone", {**CRON, "ensure": "absent"}, {"kind": None}, []),
    (
        "a-directory-in-the-way",
        CRON,
        {"kind": "directory"},
        [("ensure", "directory", "present"), ("content", None, ANY)],
    ),
]


@pytest.mark.parametrize(
    ("attrs", "cur", "expected"), [r[1:] for r in CRON_ROWS], ids=[r[0] for r in CRON_ROWS]
)
def test_cron_diff(attrs: dict[str, Any], cur: dict[str, Any], expected: list) -> None:
    res = make("cron", "backup", **attrs)
    assert summary(diff("cron", state("cron", "/etc/cron.d/backup", **cur), res)) == expected


@pytest.mark.parametrize(
    ("mode", "uid", "expected"),
    [
        (0o644, 0, []),
        (0o600, 0, [("mode", "0600", "0644")]),
        (0o644, None, []),
    ],
    ids=["right", "mode", "owner-unknown"],
)
def test_cron_file_metadata(mode: int, uid: int | None, expected: list) -> None:
    res = make("cron", "backup", **CRON)
    cur = state("cron", "/etc/cron.d/backup", "file", render_of(res), mode, uid, 0)
    assert summary(diff("cron", cur, res)) == expected


def render_of(res: Any) -> bytes:
    """The job file the cron type writes for `res` (its module's pure `render`)."""
    module = __import__(type(get_type("cron")).__module__, fromlist=["render"])
    return module.render(res.params, str(res.ref))  # type: ignore[no-any-return]
