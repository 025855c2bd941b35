"""The group type on this machine's real /etc/group (the tests run as root).

Every name a test uses starts with `gpt` and a random suffix, and the `made` fixture removes
whatever it handed out, pass or fail; nothing else is touched. test_type_user.py uses the same
fixture and helpers.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gitpuppet.apply.engine import apply_catalog
from gitpuppet.contract import ApplyContext
from gitpuppet.errors import ApplyError, SourceError
from gitpuppet.model import Catalog, Resource, Status
from gitpuppet.resources.accounts import AccountsCache, read_accounts
from gitpuppet.types import get_type
from tests.integration import test_type_support as support
from tests.integration.test_type_support import attrs_changed, changes_of, converge, make

ctx = support.ctx


def _entry(path: str, name: str) -> list[str] | None:
    for line in Path(path).read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return fields
    return None


def passwd(name: str) -> list[str] | None:
    """The /etc/passwd fields of a user: name, x, uid, gid, comment, home, shell."""
    return _entry("/etc/passwd", name)


def group(name: str) -> list[str] | None:
    """The /etc/group fields of a group: name, x, gid, members."""
    return _entry("/etc/group", name)


def members(name: str) -> list[str]:
    fields = group(name)
    assert fields is not None, f"group {name} does not exist"
    return [m for m in fields[3].split(",") if m]


def gshadow_members(name: str) -> list[str]:
    fields = _entry("/etc/gshadow", name)
    assert fields is not None
    return [m for m in fields[3].split(",") if m]


def shadow_hash(name: str) -> str | None:
    fields = _entry("/etc/shadow", name)
    return fields[1] if fields else None


def free_id() -> int:
    """A number that is neither a uid nor a gid here (high, away from the allocators)."""
    used = {int(f.split(":")[2]) for f in Path("/etc/passwd").read_text().splitlines() if f}
    used |= {int(f.split(":")[2]) for f in Path("/etc/group").read_text().splitlines() if f}
    while True:
        n = random.randint(42000, 59000)
        if n not in used:
            return n


@dataclass
class Made:
    """Hands out fresh `gpt…` names and remembers them, so teardown can remove exactly those."""

    names: list[str] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)

    def name(self) -> str:
        """A fresh name for a user or group (not created)."""
        name = "gpt" + uuid.uuid4().hex[:10]
        self.names.append(name)
        return name

    def group(self, *args: str) -> str:
        """A real group made with groupadd."""
        name = self.name()
        subprocess.run(["groupadd", *args, name], check=True)
        return name

    def user(self, *args: str) -> str:
        """A real user with its own group, made with useradd (no home unless `-m` is given)."""
        name = self.name()
        home = [] if "-m" in args else ["-M"]
        subprocess.run(["useradd", *home, "-U", "-s", "/usr/sbin/nologin", *args, name], check=True)
        return name

    def home(self, name: str) -> Path:
        """/home/<name>, removed at teardown (for tests of the default home)."""
        path = Path("/home") / name
        self.paths.append(path)
        return path

    def cleanup(self) -> None:
        for name in self.names:
            if passwd(name) is not None:
                subprocess.run(["userdel", name], check=False, capture_output=True)
        for name in self.names:
            if group(name) is not None:
                subprocess.run(["groupdel", name], check=False, capture_output=True)
        for path in self.paths:
            shutil.rmtree(path, ignore_errors=True)
        left = [n for n in self.names if passwd(n) or group(n)]
        assert not left, f"test accounts left behind: {left}"


@pytest.fixture
def made() -> Iterator[Made]:
    accounts = Made()
    try:
        yield accounts
    finally:
        accounts.cleanup()


def engine_run(resources: list[Resource], ctx: ApplyContext, noop: bool = False) -> list[Status]:
    """Apply a catalog of these resources through the real applier; the statuses."""
    outcome = apply_catalog(Catalog("t", None, resources, [], []), ctx, noop=noop)
    for r in outcome.results:
        assert r.status != Status.FAILED, r.message
    return [r.status for r in outcome.results]


# -- create, modify, remove ----------------------------------------------------------------


def test_creates_a_group_with_a_gid(made: Made, ctx: ApplyContext) -> None:
    name, gid = made.name(), free_id()
    changes = converge(make("group", name, gid=gid), ctx)
    assert attrs_changed(changes) == ["ensure", "gid"]
    assert group(name) == [name, "x", str(gid), ""]
    assert converge(make("group", name, gid=gid), ctx) == []


def test_creates_a_group_with_the_next_free_gid(made: Made, ctx: ApplyContext) -> None:
    name = made.name()
    assert attrs_changed(converge(make("group", name), ctx)) == ["ensure"]
    fields = group(name)
    assert fields is not None and int(fields[2]) >= 1000
    assert changes_of(make("group", name), ctx) == []


def test_a_system_group_gets_a_system_gid(made: Made, ctx: ApplyContext) -> None:
    name = made.name()
    converge(make("group", name, system=True), ctx)
    fields = group(name)
    assert fields is not None and 100 <= int(fields[2]) < 1000
    # `system` only matters at creation: an existing group is not renumbered.
    plain = made.group()
    assert changes_of(make("group", plain, system=True), ctx) == []


def test_changes_the_gid(made: Made, ctx: ApplyContext) -> None:
    name = made.group()
    gid = free_id()
    changes = converge(make("group", name, gid=gid), ctx)
    assert [(c.attr, c.new) for c in changes] == [("gid", gid)]
    fields = group(name)
    assert fields is not None and fields[2] == str(gid)


def test_removes_a_group(made: Made, ctx: ApplyContext) -> None:
    name = made.group()
    changes = converge(make("group", name, ensure="absent"), ctx)
    assert [(c.attr, c.old, c.new) for c in changes] == [("ensure", "present", "absent")]
    assert group(name) is None and _entry("/etc/gshadow", name) is None
    assert converge(make("group", name, ensure="absent"), ctx) == []


def test_absent_for_a_group_that_never_existed_changes_nothing(
    made: Made, ctx: ApplyContext
) -> None:
    assert changes_of(make("group", made.name(), ensure="absent"), ctx) == []


# -- members ---------------------------------------------------------------------------------


def test_creates_a_group_with_members(made: Made, ctx: ApplyContext) -> None:
    alice, bob = made.user(), made.user()
    name = made.name()
    changes = converge(make("group", name, members=[alice, bob]), ctx)
    assert attrs_changed(changes) == ["ensure", "members"]
    assert members(name) == [alice, bob] and gshadow_members(name) == [alice, bob]
    assert converge(make("group", name, members=[alice, bob]), ctx) == []


def test_the_member_list_is_managed_whole(made: Made, ctx: ApplyContext) -> None:
    alice, bob, carol = made.user(), made.user(), made.user()
    name = made.group()
    converge(make("group", name, members=[alice, bob]), ctx)
    changes = converge(make("group", name, members=[bob, carol]), ctx)
    assert [(c.attr, c.old, c.new) for c in changes] == [("members", [alice, bob], [bob, carol])]
    assert sorted(members(name)) == sorted([bob, carol])
    assert sorted(gshadow_members(name)) == sorted([bob, carol])
    converge(make("group", name, members=[]), ctx)
    assert members(name) == [] and gshadow_members(name) == []


def test_member_order_and_duplicates_are_not_a_change(made: Made, ctx: ApplyContext) -> None:
    alice, bob = made.user(), made.user()
    name = made.group()
    converge(make("group", name, members=[alice, bob]), ctx)
    assert changes_of(make("group", name, members=[bob, alice, bob]), ctx) == []


def test_members_not_given_are_left_alone(made: Made, ctx: ApplyContext) -> None:
    alice = made.user()
    name = made.group()
    subprocess.run(["gpasswd", "-a", alice, name], check=True, capture_output=True)
    assert changes_of(make("group", name), ctx) == []
    assert converge(make("group", name, gid=free_id()), ctx) != []
    assert members(name) == [alice]


# -- errors a person can act on ---------------------------------------------------------------


def test_a_gid_taken_by_another_group_is_named(made: Made, ctx: ApplyContext) -> None:
    other = made.group()
    other_fields = group(other)
    assert other_fields is not None
    taken = int(other_fields[2])
    name = made.name()
    with pytest.raises(ApplyError) as err:
        converge(make("group", name, gid=taken), ctx)
    assert f"gid {taken} is already used by group {other}" in str(err.value)
    assert group(name) is None
    existing = made.group()
    with pytest.raises(ApplyError, match=f"already used by group {other}"):
        converge(make("group", existing, gid=taken), ctx)


def test_a_member_that_does_not_exist_is_named(made: Made, ctx: ApplyContext) -> None:
    alice, ghost = made.user(), made.name()
    name = made.group()
    with pytest.raises(ApplyError) as err:
        converge(make("group", name, members=[alice, ghost]), ctx)
    assert f"members of group {name} do not exist: {ghost}" in str(err.value)
    assert "require: user:" in str(err.value)
    assert members(name) == []


def test_removing_the_primary_group_of_a_user_names_the_user(made: Made, ctx: ApplyContext) -> None:
    owner = made.user()  # its own group, of the same name, is its primary group
    with pytest.raises(ApplyError) as err:
        converge(make("group", owner, ensure="absent"), ctx)
    assert f"it is the primary group of user {owner}" in str(err.value)
    assert group(owner) is not None


def test_a_name_the_tools_would_misread_fails_before_anything_runs(ctx: ApplyContext) -> None:
    for bad in ("-rf", "a:b", "a b", "x" * 40):
        with pytest.raises(SourceError, match="is not a valid group name"):
            make("group", bad)  # at compile time
        res = make("group", "gptok")
        res.params.name = bad  # built some other way: the type still refuses it
        with pytest.raises(ApplyError, match="is not a valid group name"):
            changes_of(res, ctx)
    with pytest.raises(SourceError, match="members '--help' is not a user name"):
        make("group", "gptok", members=["--help"])  # at compile time (issue 8)
    res = make("group", "gptok")
    res.params.members = ["--help"]  # built some other way: the type still refuses it
    with pytest.raises(ApplyError, match="is not a valid user name"):
        changes_of(res, ctx)


def test_the_tools_failure_is_attached(made: Made, ctx: ApplyContext) -> None:
    """A gid groupadd refuses (out of range) fails with groupadd's own words attached."""
    name = made.name()
    with pytest.raises(ApplyError) as err:
        converge(make("group", name, gid=2**32 + 5), ctx)
    assert f"creating group {name} failed (groupadd exited" in err.value.message
    assert err.value.output and "groupadd" in err.value.output
    with pytest.raises(SourceError, match="gid must be 0 or more"):
        make("group", name, gid=-5)


# -- through the applier: noop, verify, the cache --------------------------------------------


def test_noop_through_the_engine_changes_nothing(made: Made, ctx: ApplyContext) -> None:
    alice = made.user()
    new, existing = made.name(), made.group()

    def ours() -> list[str]:  # other workers add groups of their own meanwhile
        lines = Path("/etc/group").read_text().splitlines()
        return [line for line in lines if any(n in line for n in (alice, new, existing))]

    before = ours()
    resources = [
        make("group", new, gid=free_id(), members=[alice]),
        make("group", existing, members=[alice]),
    ]
    assert engine_run(resources, ctx, noop=True) == [Status.WOULD_CHANGE] * 2
    assert group(new) is None and members(existing) == []
    assert ours() == before
    assert engine_run(resources, ctx) == [Status.CHANGED] * 2
    assert members(new) == [alice] and members(existing) == [alice]
    assert engine_run(resources, ctx) == [Status.UNCHANGED] * 2


def test_the_cache_is_read_once_and_dropped_after_a_change(made: Made, ctx: ApplyContext) -> None:
    first = read_accounts(ctx)
    assert read_accounts(ctx) is first  # files unchanged: the run's copy
    name = made.name()
    converge(make("group", name), ctx)
    assert ctx.caches.get(AccountsCache).accounts is not first
    assert name in read_accounts(ctx).groups


def test_a_group_made_behind_the_runs_back_is_seen(made: Made, ctx: ApplyContext) -> None:
    """A package's install script may add a group mid-run: the cached copy is not trusted then."""
    name = made.name()
    gtype = get_type("group")
    assert gtype is not None
    res = make("group", name, ensure="absent")
    assert gtype.diff(gtype.current(res, ctx), res, ctx) == []
    subprocess.run(["groupadd", name], check=True)
    assert attrs_changed(gtype.diff(gtype.current(res, ctx), res, ctx)) == ["ensure"]
