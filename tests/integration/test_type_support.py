"""Helpers for the resource type tests: build a Resource, converge it through the real applier
(apply_catalog, so batched file writes and apply_together types take the production path),
and create real users and groups for ownership tests. No tests here."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gitpuppet.apply.engine import apply_catalog
from gitpuppet.contract import ApplyContext
from gitpuppet.errors import SourcePos
from gitpuppet.model import Catalog, Change, Resource, Status
from gitpuppet.types import get_type
from gitpuppet.types.build import build_params

POS = SourcePos("t.yaml", 1)


def make(type_name: str, title: str, data: bytes | None = None, **attrs: Any) -> Resource:
    """A Resource as the compiler would build it; `data` is FileParams.data (rendered content)."""
    sensitive = bool(attrs.pop("sensitive", False))
    tree = attrs.pop("tree", None)
    params = build_params(type_name, title, attrs, POS, {})
    if type_name == "file":
        if data is None and isinstance(attrs.get("content"), str):
            data = attrs["content"].encode()
        params.data = data
        params.tree = tree
    return Resource(type_name, title, params, POS, sensitive=sensitive)


def changes_of(res: Resource, ctx: ApplyContext) -> list[Change]:
    """diff(current()) for one resource: what the applier would report."""
    t = get_type(res.type)
    assert t is not None
    return t.diff(t.current(res, ctx), res, ctx)


def converge(res: Resource, ctx: ApplyContext) -> list[Change]:
    """Apply `res` through the applier (a catalog of one: the write batch, apply_together and
    the read-again check as in production); the changes it made. Raises what the type raised,
    or AssertionError when the state read again still differs."""
    assert get_type(res.type) is not None, f"no type {res.type}"
    catalog = Catalog("test.example.com", None, [res], [], [])
    outcome = apply_catalog(catalog, ctx, stop_reason=lambda: None)
    (result,) = outcome.results
    if result.status == Status.FAILED:
        error = outcome.errors.get(res.ref)
        if error is not None:
            raise error
        raise AssertionError(result.message)  # "did not converge: <attrs>"
    assert result.status in (Status.CHANGED, Status.UNCHANGED), result
    return result.changes


def attrs_changed(changes: list[Change]) -> list[str]:
    return [c.attr for c in changes]


@dataclass
class Account:
    """A real user with its own group, created for one test."""

    user: str
    group: str
    uid: int
    gid: int


@pytest.fixture
def ctx(tmp_path: Path) -> ApplyContext:
    return ApplyContext(state_dir=tmp_path / "state", want_diff=True)


@pytest.fixture
def account() -> Iterator[Account]:
    """A throwaway user and group (useradd/groupadd), removed afterwards."""
    name = "gpt" + uuid.uuid4().hex[:8]
    subprocess.run(["groupadd", name], check=True)
    subprocess.run(["useradd", "-M", "-N", "-g", name, "-s", "/usr/sbin/nologin", name], check=True)
    import grp
    import pwd

    try:
        yield Account(name, name, pwd.getpwnam(name).pw_uid, grp.getgrnam(name).gr_gid)
    finally:
        subprocess.run(["userdel", name], check=False)
        subprocess.run(["groupdel", name], check=False)
