"""The `user` and `git` types' `diff` as data (the pattern of test_type_diffs.py): the state as
`current` returns it in, the changes out. Nothing on the machine is read or changed: the account
databases and the checkout are built by hand, the types come from the registry."""

from __future__ import annotations

import typing
from typing import Any

import pytest

from gitpuppet.errors import ApplyError
from gitpuppet.model import REDACTED
from tests.unit.typecases import diff, field_class, make, state, state_class, summary

pytestmark = pytest.mark.unit

HASH = "$6$salt$hashhashhash"


def user_state(
    entry: dict[str, Any] | None,
    groups: dict[str, tuple[int, tuple[str, ...]]] | None = None,
    **extra: Any,
) -> Any:
    """A UserState: the passwd entry of `alice` (None: absent) and the groups that exist."""
    cls = state_class("user")
    entry_cls, accounts_cls = field_class(cls, "entry"), field_class(cls, "accounts")
    group_cls = typing.get_args(typing.get_type_hints(accounts_cls)["groups"])[1]
    made = None
    if entry is not None:
        fields = {"uid": 1001, "gid": 1001, "comment": "", "home": "/home/alice"}
        made = entry_cls("alice", **{**fields, "shell": "/bin/sh", **entry})
    known = {"alice": (1001, ()), "staff": (50, ()), **(groups or {})}
    table = {name: group_cls(name, gid, members) for name, (gid, members) in known.items()}
    users = {"alice": made} if made else {}
    return cls(made, accounts_cls(users, table, ()), **extra)


USER_ROWS: list[tuple[str, dict[str, Any], Any, list[tuple[str, Any, Any]]]] = [
    (
        "create",
        {"uid": 1001, "shell": "/bin/bash", "groups": ["staff", "adm", "staff"]},
        user_state(None),
        [
            ("ensure", "absent", "present"),
            ("uid", None, 1001),
            ("shell", None, "/bin/bash"),
            ("groups", [], ["adm", "staff"]),
        ],
    ),
    (
        "create-with-password",
        {"password": HASH},
        user_state(None),
        [("ensure", "absent", "present"), ("password", None, REDACTED)],
    ),
    ("converged", {"uid": 1001, "shell": "/bin/sh"}, user_state({}), []),
    ("unmanaged-left-alone", {}, user_state({"shell": "/bin/zsh", "uid": 7}), []),
    ("uid", {"uid": 1500}, user_state({}), [("uid", 1001, 1500)]),
    ("gid-by-name", {"gid": "staff"}, user_state({}), [("gid", "alice", "staff")]),
    ("gid-by-number", {"gid": 50}, user_state({"gid": 50}), []),
    ("gid-unnamed", {"gid": "staff"}, user_state({"gid": 4242}), [("gid", 4242, "staff")]),
    (
        "groups-whole-list",
        {"groups": ["staff"]},
        user_state({}, {"adm": (4, ("alice",))}),
        [("groups", ["adm"], ["staff"])],
    ),
    (
        "groups-same-set",
        {"groups": ["staff", "adm"]},
        user_state({}, {"adm": (4, ("alice",)), "staff": (50, ("bob", "alice"))}),
        [],
    ),
    ("home", {"home": "/srv/alice"}, user_state({}), [("home", "/home/alice", "/srv/alice")]),
    ("comment", {"comment": "Alice"}, user_state({}), [("comment", "", "Alice")]),
    (
        "password-differs",
        {"password": HASH},
        user_state({}, password="$6$x$old"),
        [("password", REDACTED, REDACTED)],
    ),
    ("password-same", {"password": HASH}, user_state({}, password=HASH), []),
    ("remove", {"ensure": "absent"}, user_state({}), [("ensure", "present", "absent")]),
    ("already-absent", {"ensure": "absent"}, user_state(None), []),
]


@pytest.mark.parametrize(
    ("attrs", "cur", "expected"), [r[1:] for r in USER_ROWS], ids=[r[0] for r in USER_ROWS]
)
def test_user_diff(attrs: dict[str, Any], cur: Any, expected: list) -> None:
    assert summary(diff("user", cur, make("user", "alice", **attrs))) == expected


def test_a_password_change_is_redacted_by_the_type_itself() -> None:
    res = make("user", "alice", password=HASH)
    (change,) = diff("user", user_state({}, password="$6$x$old"), res)
    assert change.redacted and HASH not in repr(change)


C1, C2 = "a" * 40, "b" * 40
SRC = "https://git.example.com/app.git"
PATH = "/srv/app"


def checkout(kind: str = "checkout", **fields: Any) -> Any:
    """A CheckoutState at PATH; `target` as a dict (revision, commit, branch)."""
    if kind == "checkout":
        fields = {"origin": SRC, "head": C1, **fields}
    return state("git", PATH, kind, **fields)


def target(commit: str | None, revision: str = "main") -> dict[str, Any]:
    return {"revision": revision, "commit": commit, "branch": revision}


GIT_ROWS: list[tuple[str, dict[str, Any], Any, list[tuple[str, Any, Any]]]] = [
    (
        "clone",
        {},
        checkout("missing", target=target(C1)),
        [("ensure", "absent", "present"), ("revision", None, C1[:12])],
    ),
    (
        "clone-into-empty-directory",
        {"owner": "www", "group": 33},
        checkout("empty", target=target(None, "v1.0")),
        [
            ("ensure", "empty directory", "present"),
            ("revision", None, "v1.0"),
            ("owner", None, "www"),
            ("group", None, "33"),
        ],
    ),
    ("present-never-moves", {}, checkout(), []),
    ("latest-up-to-date", {"ensure": "latest"}, checkout(target=target(C1)), []),
    (
        "latest-moves",
        {"ensure": "latest"},
        checkout(target=target(C2)),
        [("revision", C1[:12], C2[:12])],
    ),
    (
        "owners-and-groups",
        {"owner": "www", "group": "www"},
        checkout(owners={"root", "bob"}, groups={"root"}),
        [("owner", "bob, root", "www"), ("group", "root", "www")],
    ),
    ("remove", {"ensure": "absent"}, checkout(), [("ensure", "present", "absent")]),
    ("already-absent", {"ensure": "absent", "source": None}, checkout("missing"), []),
    ("same-source-other-spelling", {}, checkout(origin=SRC + "/"), []),
]


@pytest.mark.parametrize(
    ("attrs", "cur", "expected"), [r[1:] for r in GIT_ROWS], ids=[r[0] for r in GIT_ROWS]
)
def test_git_diff(attrs: dict[str, Any], cur: Any, expected: list) -> None:
    res = make("git", PATH, **{"source": SRC, **attrs})
    assert summary(diff("git", cur, res)) == expected


@pytest.mark.parametrize(
    ("attrs", "cur", "error"),
    [
        ({}, checkout("other", problem="is a file"), "/srv/app is a file, not a git checkout"),
        ({}, checkout(origin="https://elsewhere/x.git"), "is a checkout of https://elsewhere"),
        (
            {"ensure": "latest", "revision": "main"},
            checkout(target=target(C2), local_work=["2 files changed"]),
            "has local work, so gitpuppet will not move it to main",
        ),
        (
            {"ensure": "absent"},
            checkout(local_work=["1 commit not pushed"]),
            "has local work, so gitpuppet will not remove it",
        ),
    ],
    ids=["not-a-checkout", "other-source", "work-before-move", "work-before-remove"],
)
def test_git_diff_refuses_what_must_not_be_touched(
    attrs: dict[str, Any], cur: Any, error: str
) -> None:
    with pytest.raises(ApplyError, match=error):
        diff("git", cur, make("git", PATH, **{"source": SRC, **attrs}))


def test_git_diff_never_quotes_url_credentials() -> None:
    res = make("git", PATH, source="https://tok3nSecret99x@git.example.com/app.git")
    with pytest.raises(ApplyError) as err:
        diff("git", checkout(origin="https://other.example.com/x.git"), res)
    assert "tok3nSecret99x" not in str(err.value) and "***@git.example.com" in str(err.value)
