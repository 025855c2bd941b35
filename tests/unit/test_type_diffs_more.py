"""The diff tables of package, service and group (see test_type_diffs.py), and the service
change computation that otherwise runs only in the systemd container."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.typecases import diff, field_class, make, state, state_class, summary

PKG = "gitpuppet-test-a"


def pkg_state(version: str | None, candidate: str | None = None, **installed: Any) -> Any:
    available = None
    if candidate is not None:
        available = field_class(state_class("package"), "available")(candidate)
    return state("package", installed={"version": version, **installed}, available=available)


@pytest.mark.parametrize(
    ("ensure", "cur", "expected"),
    [
        ("present", pkg_state("1.0-1"), []),
        ("present", pkg_state(None, "2.0-1"), [("ensure", None, "2.0-1")]),
        ("installed", pkg_state(None), [("ensure", None, "installed")]),
        ("latest", pkg_state("1.0-1", "2.0-1"), [("ensure", "1.0-1", "2.0-1")]),
        ("latest", pkg_state("2.0-1", "2.0-1"), []),
        ("latest", pkg_state("1.0-1"), []),  # nothing newer known
        ("absent", pkg_state("1.0-1"), [("ensure", "1.0-1", None)]),
        ("absent", pkg_state(None), []),
        (
            "absent",
            pkg_state(None, broken="half-installed"),
            [("ensure", "half-installed (broken)", None)],
        ),
        ("purged", pkg_state(None, leftovers=True), [("ensure", "config files", None)]),
        ("purged", pkg_state(None), []),
    ],
    ids=[
        "installed",
        "install",
        "install-unknown",
        "upgrade",
        "newest",
        "no-candidate",
        "remove",
        "gone",
        "remove-broken",
        "purge-leftovers",
        "purged",
    ],
)
def test_package_diff(ensure: str, cur: Any, expected: list) -> None:
    assert summary(diff("package", cur, make("package", PKG, ensure=ensure))) == expected


# (found, active, enabled) now; ensure, enable declared; the changes.
SERVICE_ROWS: list[
    tuple[str, tuple[bool, str, str], dict[str, Any], list[tuple[str, Any, Any]]]
] = [
    ("start", (True, "stopped", "true"), {"ensure": "running"}, [("ensure", "stopped", "running")]),
    ("running", (True, "running", "true"), {"ensure": "running", "enable": True}, []),
    (
        "stop-and-disable",
        (True, "running", "true"),
        {"ensure": "stopped", "enable": False},
        [("enable", "true", "false"), ("ensure", "running", "stopped")],
    ),
    ("enable-only", (True, "running", "false"), {"enable": True}, [("enable", "false", "true")]),
    (
        "mask",
        (True, "stopped", "false"),
        {"enable": "mask", "ensure": "stopped"},
        [("enable", "false", "mask")],
    ),
    ("unmask", (True, "stopped", "mask"), {"enable": False}, [("enable", "mask", "false")]),
    # A static unit never starts at boot by itself: it counts as not enabled.
    (
        "static-is-not-enabled",
        (True, "running", "static"),
        {"enable": True},
        [("enable", "static", "true")],
    ),
    ("static-is-disabled", (True, "running", "static"), {"enable": False}, []),
    (
        "in-between",
        (True, "activating", "true"),
        {"ensure": "running"},
        [("ensure", "activating", "running")],
    ),
    ("unmanaged-state", (True, "running", "true"), {}, []),
]


@pytest.mark.parametrize(
    ("now", "attrs", "expected"), [r[1:] for r in SERVICE_ROWS], ids=[r[0] for r in SERVICE_ROWS]
)
def test_service_diff(now: tuple[bool, str, str], attrs: dict[str, Any], expected: list) -> None:
    found, active, enabled = now
    cur = state("service", "demo.service", found, active, enabled)
    assert summary(diff("service", cur, make("service", "demo", **attrs))) == expected


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        (
            {"ensure": "running", "enable": True},
            [("enable", "missing", "true"), ("ensure", "missing", "running")],
        ),
        ({"enable": "mask"}, [("enable", "missing", "mask")]),
        ({"ensure": "stopped", "enable": False}, []),  # missing is stopped and disabled already
    ],
    ids=["start-missing", "mask-missing", "missing-is-stopped"],
)
def test_service_diff_of_a_missing_unit(attrs: dict[str, Any], expected: list) -> None:
    cur = state("service", "demo.service", False, "stopped", "false")
    assert summary(diff("service", cur, make("service", "demo", **attrs))) == expected


def group_state(entry: tuple[int, tuple[str, ...]] | None) -> Any:
    cls = state_class("group")
    entry_cls, accounts_cls = field_class(cls, "entry"), field_class(cls, "accounts")
    made = entry_cls("web", *entry) if entry is not None else None
    return cls(made, accounts_cls({}, {"web": made} if made else {}, ()))


@pytest.mark.parametrize(
    ("attrs", "entry", "expected"),
    [
        (
            {"gid": 2000, "members": ["a"]},
            None,
            [("ensure", "absent", "present"), ("gid", None, 2000), ("members", [], ["a"])],
        ),
        ({}, None, [("ensure", "absent", "present")]),
        ({"gid": 2000}, (2001, ()), [("gid", 2001, 2000)]),
        ({"members": ["b", "a", "a"]}, (2000, ("a", "b")), []),  # a set, duplicates dropped
        ({"members": ["a"]}, (2000, ("a", "b")), [("members", ["a", "b"], ["a"])]),
        ({}, (2000, ("x",)), []),  # members unmanaged
        ({"ensure": "absent"}, (2000, ()), [("ensure", "present", "absent")]),
        ({"ensure": "absent"}, None, []),
    ],
    ids=["create", "create-bare", "gid", "same-members", "members", "unmanaged", "remove", "gone"],
)
def test_group_diff(attrs: dict[str, Any], entry: Any, expected: list) -> None:
    assert summary(diff("group", group_state(entry), make("group", "web", **attrs))) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0", "1.0", 0),
        ("1.10", "1.9", 1),
        ("1.9", "1.10", -1),
        ("1.0~rc1", "1.0", -1),
        ("1.0^post", "1.0", 1),
        ("1.0a", "1.0", 1),
        ("2", "a", 1),
        ("1.01", "1.1", 0),
        ("1.0", "1.0.1", -1),
    ],
)
def test_rpm_version_order(a: str, b: str, expected: int) -> None:
    # dnf's ordering, the pure function behind the dnf provider's same_version (imported by
    # module: the package type's diff can only reach it where dnf itself is usable).
    from gitpuppet.types.package.rpmver import vercmp

    assert vercmp(a, b) == expected
    assert vercmp(b, a) == -expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1:1.0-1", "2.0-1", 1),
        ("1.0-2.el9", "1.0-10.el9", -1),
        ("0:1.0-1", "1.0-1", 0),
    ],
)
def test_rpm_epoch_version_release_order(a: str, b: str, expected: int) -> None:
    from gitpuppet.types.package.rpmver import evr_cmp

    assert evr_cmp(a, b) == expected
