"""The user type on this machine's real account files (the tests run as root).

Every user and group is named `gpt` plus a random suffix and removed by the `made` fixture
(test_type_group.py), pass or fail. Homes live under the test's temporary directory, except
where the default /home/<name> is the point; those are removed too.
"""

from __future__ import annotations

import os
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from gitpuppet.apply.engine import apply_catalog
from gitpuppet.contract import ApplyContext
from gitpuppet.errors import ApplyError, SourceError
from gitpuppet.model import Catalog, Edge, EdgeKind, Status
from tests.integration import test_type_group as accounts
from tests.integration import test_type_support as support
from tests.integration.helpers import apply, make_repo
from tests.integration.test_type_group import (
    Made,
    engine_run,
    free_id,
    group,
    members,
    passwd,
    shadow_hash,
)
from tests.integration.test_type_support import attrs_changed, changes_of, converge, make

ctx = support.ctx
made = accounts.made

KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA1u3Y2x5Q8kq1H2VWLp6oZXQ9bq7t0wK1yYQh2Yz4nQ a@x"
KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJm5d3b0bE9q8n7Ew3uFZP1pZKQJQkYy2l5cW4y1k9cR b@y"
HASH = "$6$gptsalt$" + "Q" * 86


def new_hash() -> str:
    """A crypt-shaped hash no other test or file contains."""
    return "$6$" + uuid.uuid4().hex[:16] + "$" + uuid.uuid4().hex * 2


def mode_owner(path: Path) -> tuple[int, int, int]:
    st = os.lstat(path)
    return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid


def ids(name: str) -> tuple[int, int]:
    fields = passwd(name)
    assert fields is not None, f"user {name} does not exist"
    return int(fields[2]), int(fields[3])


# -- create with everything, then nothing left to do ----------------------------------------


def test_creates_a_user_with_every_attribute(made: Made, ctx: ApplyContext, tmp_path: Path) -> None:
    primary, extra1, extra2 = made.group(), made.group(), made.group()
    name, uid = made.name(), free_id()
    home = tmp_path / "home"
    attrs = {
        "uid": uid,
        "gid": primary,
        "groups": [extra2, extra1],
        "home": str(home),
        "managehome": True,
        "shell": "/bin/bash",
        "comment": "Test User,,,",
        "password": HASH,
        "authorized_keys": [KEY_A, KEY_B],
    }
    changes = converge(make("user", name, **attrs), ctx)
    assert attrs_changed(changes) == [
        "ensure",
        "uid",
        "gid",
        "home",
        "shell",
        "comment",
        "groups",
        "password",
        "authorized_keys",
    ]
    gid = int(group(primary)[2])  # type: ignore[index]
    assert passwd(name) == [name, "x", str(uid), str(gid), "Test User,,,", str(home), "/bin/bash"]
    assert members(extra1) == [name] and members(extra2) == [name] and members(primary) == []
    assert shadow_hash(name) == HASH
    assert mode_owner(home)[1:] == (uid, gid) and (home / ".profile").exists()  # from /etc/skel
    keys = home / ".ssh" / "authorized_keys"
    assert keys.read_text() == f"{KEY_A}\n{KEY_B}\n"
    assert mode_owner(keys) == (0o600, uid, gid)
    assert mode_owner(home / ".ssh") == (0o700, uid, gid)
    assert converge(make("user", name, **attrs), ctx) == []


def test_creates_a_plain_user_with_its_own_group(made: Made, ctx: ApplyContext) -> None:
    name = made.name()
    assert attrs_changed(converge(make("user", name), ctx)) == ["ensure"]
    uid, gid = ids(name)
    assert group(name) is not None and int(group(name)[2]) == gid  # type: ignore[index]
    assert not made.home(name).exists()  # no managehome: no home made
    assert changes_of(make("user", name), ctx) == []


def test_a_group_of_the_users_name_becomes_its_primary_group(made: Made, ctx: ApplyContext) -> None:
    """`group: x` beside `user: x` (no gid) is what people write; useradd alone refuses it."""
    name = made.group()
    converge(make("user", name), ctx)
    assert ids(name)[1] == int(group(name)[2])  # type: ignore[index]


def test_gid_may_be_a_number(made: Made, ctx: ApplyContext) -> None:
    primary = made.group()
    gid = int(group(primary)[2])  # type: ignore[index]
    name = made.name()
    converge(make("user", name, gid=gid), ctx)
    assert ids(name)[1] == gid
    assert changes_of(make("user", name, gid=str(gid)), ctx) == []
    assert changes_of(make("user", name, gid=primary), ctx) == []


def test_a_system_user_gets_a_system_uid(made: Made, ctx: ApplyContext) -> None:
    name = made.name()
    converge(make("user", name, system=True), ctx)
    assert ids(name)[0] < 1000
    assert changes_of(make("user", name, system=False), ctx) == []  # only at creation


# -- modify one attribute at a time ------------------------------------------------------------


@pytest.mark.parametrize("attr", ["uid", "gid", "shell", "comment", "password", "home"])
def test_changes_one_attribute(attr: str, made: Made, ctx: ApplyContext, tmp_path: Path) -> None:
    name = made.user("-c", "old comment", "-d", str(tmp_path / "old"))
    other_group = made.group()
    new = {
        "uid": free_id(),
        "gid": other_group,
        "shell": "/bin/bash",
        "comment": "new comment",
        "password": new_hash(),
        "home": str(tmp_path / "new"),
    }[attr]
    changes = converge(make("user", name, **{attr: new}), ctx)
    assert attrs_changed(changes) == [attr]
    fields = passwd(name)
    assert fields is not None
    if attr == "password":
        assert changes[0].redacted and new not in repr(changes)
        assert shadow_hash(name) == new
    elif attr == "gid":
        assert changes[0].old == name and fields[3] == group(other_group)[2]  # type: ignore[index]
    else:
        index = {"uid": 2, "comment": 4, "home": 5, "shell": 6}[attr]
        assert fields[index] == str(new)
    assert changes_of(make("user", name, **{attr: new}), ctx) == []


def test_supplementary_groups_are_managed_whole(made: Made, ctx: ApplyContext) -> None:
    g1, g2, g3 = made.group(), made.group(), made.group()
    name = made.user("-G", f"{g1},{g2}")
    changes = converge(make("user", name, groups=[g3, g2]), ctx)
    assert [(c.attr, c.old, c.new) for c in changes] == [
        ("groups", sorted([g1, g2]), sorted([g2, g3]))
    ]
    assert members(g1) == [] and members(g2) == [name] and members(g3) == [name]
    assert changes_of(make("user", name, groups=[g2, g3, g2]), ctx) == []
    converge(make("user", name, groups=[]), ctx)
    assert members(g2) == [] and members(g3) == []
    subprocess.run(["gpasswd", "-a", name, g1], check=True, capture_output=True)
    assert changes_of(make("user", name), ctx) == []  # not given: left alone
    assert members(g1) == [name]


# -- managehome ------------------------------------------------------------------------------


def test_managehome_makes_the_default_home(made: Made, ctx: ApplyContext) -> None:
    name = made.name()
    home = made.home(name)
    converge(make("user", name, managehome=True), ctx)
    assert home.is_dir() and mode_owner(home)[1:] == ids(name)


def test_home_moves_with_managehome(made: Made, ctx: ApplyContext, tmp_path: Path) -> None:
    name = made.name()
    old, new = tmp_path / "old", tmp_path / "new"
    converge(make("user", name, home=str(old), managehome=True), ctx)
    (old / "notes").write_text("mine\n")
    changes = converge(make("user", name, home=str(new), managehome=True), ctx)
    assert [(c.attr, c.old, c.new) for c in changes] == [("home", str(old), str(new))]
    assert not old.exists() and (new / "notes").read_text() == "mine\n"


def test_home_without_managehome_only_changes_the_field(
    made: Made, ctx: ApplyContext, tmp_path: Path
) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    name = made.user("-m", "-d", str(old))
    converge(make("user", name, home=str(new)), ctx)
    assert passwd(name)[5] == str(new)  # type: ignore[index]
    assert old.is_dir() and not new.exists()


def test_a_home_cannot_move_onto_an_existing_path(
    made: Made, ctx: ApplyContext, tmp_path: Path
) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    name = made.user("-m", "-d", str(old))
    new.mkdir()
    with pytest.raises(ApplyError) as err:
        converge(make("user", name, home=str(new), managehome=True), ctx)
    assert f"{new} already exists" in str(err.value) and "managehome: false" in str(err.value)
    assert passwd(name)[5] == str(old)  # type: ignore[index]


@pytest.mark.parametrize("managehome", [True, False])
def test_absent_removes_the_home_only_with_managehome(
    managehome: bool, made: Made, ctx: ApplyContext, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    name = made.user("-m", "-d", str(home))
    changes = converge(make("user", name, ensure="absent", managehome=managehome), ctx)
    assert [(c.attr, c.old, c.new) for c in changes] == [("ensure", "present", "absent")]
    assert passwd(name) is None and shadow_hash(name) is None
    assert home.exists() is not managehome
    assert converge(make("user", name, ensure="absent"), ctx) == []


def test_absent_takes_the_user_out_of_its_groups(made: Made, ctx: ApplyContext) -> None:
    extra = made.group()
    name = made.user("-G", extra)
    converge(make("user", name, ensure="absent"), ctx)
    assert members(extra) == []


# -- authorized_keys ---------------------------------------------------------------------------


def keyed_user(made: Made, tmp_path: Path) -> tuple[str, Path]:
    home = tmp_path / "home"
    return made.user("-m", "-d", str(home)), home


def test_authorized_keys_are_written_whole_with_owner_and_modes(
    made: Made, ctx: ApplyContext, tmp_path: Path
) -> None:
    name, home = keyed_user(made, tmp_path)
    keys = home / ".ssh" / "authorized_keys"
    changes = converge(make("user", name, authorized_keys=[KEY_A]), ctx)
    assert [(c.attr, c.old, c.new) for c in changes] == [("authorized_keys", "absent", "1 key")]
    assert changes[0].diff is not None and f"+{KEY_A}" in changes[0].diff
    assert keys.read_text() == KEY_A + "\n"
    assert mode_owner(keys) == (0o600, *ids(name))
    assert mode_owner(keys.parent) == (0o700, *ids(name))
    # A key added by hand is not kept: the file is managed whole.
    keys.write_text(f"{KEY_A}\n{KEY_B}\n")
    changes = converge(make("user", name, authorized_keys=[KEY_A]), ctx)
    assert [(c.old, c.new) for c in changes] == [("2 keys", "1 key")]
    assert keys.read_text() == KEY_A + "\n"
    converge(make("user", name, authorized_keys=[]), ctx)
    assert keys.read_bytes() == b""
    assert not [p for p in keys.parent.iterdir() if ".gitpuppet-" in p.name]


def test_wrong_modes_and_owners_of_the_keys_are_fixed(
    made: Made, ctx: ApplyContext, tmp_path: Path
) -> None:
    name, home = keyed_user(made, tmp_path)
    keys = home / ".ssh" / "authorized_keys"
    res = make("user", name, authorized_keys=[KEY_A])
    converge(res, ctx)
    os.chmod(keys, 0o644)
    os.chown(keys.parent, 0, 0)
    os.chmod(keys.parent, 0o755)
    changes = converge(res, ctx)
    assert attrs_changed(changes) == ["authorized_keys"]
    assert "authorized_keys mode 0644" in changes[0].old
    assert "~/.ssh owned by root:root" in changes[0].old and "~/.ssh mode 0755" in changes[0].old
    assert changes[0].diff is None  # the content was right
    assert mode_owner(keys) == (0o600, *ids(name))
    assert mode_owner(keys.parent) == (0o700, *ids(name))


def test_keys_follow_a_uid_change(made: Made, ctx: ApplyContext, tmp_path: Path) -> None:
    name, home = keyed_user(made, tmp_path)
    converge(make("user", name, authorized_keys=[KEY_A]), ctx)
    uid = free_id()
    converge(make("user", name, uid=uid, authorized_keys=[KEY_A]), ctx)
    assert mode_owner(home / ".ssh" / "authorized_keys")[1] == uid


def test_keys_are_never_read_or_written_through_a_link(
    made: Made, ctx: ApplyContext, tmp_path: Path
) -> None:
    """A user may point ~/.ssh/authorized_keys at a root-only file: its content must not
    reach a diff, and the file must not change hands."""
    name, home = keyed_user(made, tmp_path)
    secret = tmp_path / "secret"
    secret.write_text("root-only-secret\n")
    os.chmod(secret, 0o600)
    (home / ".ssh").mkdir(mode=0o700)
    (home / ".ssh" / "authorized_keys").symlink_to(secret)
    changes = converge(make("user", name, authorized_keys=[KEY_A]), ctx)
    assert "authorized_keys is a link" in changes[0].old
    assert "root-only-secret" not in str(changes)
    assert secret.read_text() == "root-only-secret\n" and mode_owner(secret) == (0o600, 0, 0)
    keys = home / ".ssh" / "authorized_keys"
    assert not keys.is_symlink() and keys.read_text() == KEY_A + "\n"


def test_a_linked_ssh_directory_is_refused(made: Made, ctx: ApplyContext, tmp_path: Path) -> None:
    name, home = keyed_user(made, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    (home / ".ssh").symlink_to(elsewhere)
    with pytest.raises(ApplyError) as err:
        converge(make("user", name, authorized_keys=[KEY_A]), ctx)
    assert f"{home}/.ssh is not a directory" in str(err.value)
    assert list(elsewhere.iterdir()) == [] and mode_owner(elsewhere) == (0o755, 0, 0)


def test_keys_without_a_home_say_how_to_get_one(
    made: Made, ctx: ApplyContext, tmp_path: Path
) -> None:
    name = made.name()
    res = make("user", name, home=str(tmp_path / "nohome"), authorized_keys=[KEY_A])
    with pytest.raises(ApplyError) as err:
        converge(res, ctx)
    assert "does not exist" in str(err.value) and "managehome: true" in str(err.value)


# -- errors a person can act on -----------------------------------------------------------------


def test_a_missing_primary_group_is_named(made: Made, ctx: ApplyContext) -> None:
    name, missing = made.name(), made.name()
    with pytest.raises(ApplyError) as err:
        converge(make("user", name, gid=missing), ctx)
    assert f"primary group '{missing}' of user {name} does not exist" in str(err.value)
    assert passwd(name) is None
    gid = free_id()
    with pytest.raises(ApplyError, match=f"primary group gid {gid} of user {name}"):
        converge(make("user", name, gid=gid), ctx)
    existing = made.user()
    with pytest.raises(ApplyError, match=f"primary group '{missing}'"):
        converge(make("user", existing, gid=missing), ctx)


def test_a_uid_taken_by_another_user_is_named(made: Made, ctx: ApplyContext) -> None:
    holder = made.user()
    taken = ids(holder)[0]
    name = made.name()
    with pytest.raises(ApplyError) as err:
        converge(make("user", name, uid=taken), ctx)
    assert f"uid {taken} is already used by user {holder}" in str(err.value)
    assert passwd(name) is None
    existing = made.user()
    with pytest.raises(ApplyError, match=f"already used by user {holder}"):
        converge(make("user", existing, uid=taken), ctx)
    assert ids(existing)[0] != taken


def test_a_missing_supplementary_group_is_named(made: Made, ctx: ApplyContext) -> None:
    real, ghost1, ghost2 = made.group(), made.name(), made.name()
    name = made.name()
    with pytest.raises(ApplyError) as err:
        converge(make("user", name, groups=[real, ghost2, ghost1]), ctx)
    missing = ", ".join(sorted([ghost1, ghost2]))
    assert f"supplementary groups of user {name} do not exist: {missing}" in str(err.value)
    assert passwd(name) is None and members(real) == []


def test_a_plain_text_password_is_refused_without_showing_it(made: Made, ctx: ApplyContext) -> None:
    name = made.name()
    with pytest.raises(SourceError) as compile_err:  # at compile time, with file:line
        make("user", name, password="correct horse battery")
    assert "not a crypt(3) hash" in str(compile_err.value)
    assert "horse" not in str(compile_err.value)
    # The type refuses it too, whatever built the resource.
    res = make("user", name)
    res.params.password = "correct horse battery"
    with pytest.raises(ApplyError) as err:
        converge(res, ctx)
    assert "not a crypt(3) hash" in str(err.value) and "horse" not in str(err.value)
    assert passwd(name) is None


def test_bad_names_and_values_fail_before_anything_runs(ctx: ApplyContext) -> None:
    at_compile = [
        ({"title": "-o"}, "is not a valid user name"),
        ({"title": "gptok", "uid": -3}, "uid must be 0 or more"),
        ({"title": "gptok", "home": "relative/home"}, "is not absolute"),
        ({"title": "gptok", "authorized_keys": ["a\nb"]}, "must be one line"),
    ]
    for attrs, message in at_compile:
        title = attrs.pop("title")
        with pytest.raises(SourceError, match=message):
            make("user", title, **attrs)
    # What the schema lets through (names in lists, or resources built some other way) the
    # type still refuses before any tool runs.
    at_apply = [
        ({"groups": ["a,b"]}, "is not a valid group name"),
        ({"gid": "--help"}, "is not a valid group name"),
        ({"uid": -3}, "negative"),
        ({"home": "relative/home"}, "not an absolute path"),
        ({"authorized_keys": ["a\nb"]}, "spans several lines"),
    ]
    for attrs, message in at_apply:
        res = make("user", "gptok")
        for key, value in attrs.items():
            setattr(res.params, key, value)
        with pytest.raises(ApplyError, match=message):
            changes_of(res, ctx)


def test_a_tools_refusal_comes_with_its_output(made: Made, ctx: ApplyContext) -> None:
    name = made.name()
    res = make("user", name, shell="/bin/bash")
    res.params.comment = "bad:comment"  # refused at compile since issue 8: built some other way
    with pytest.raises(ApplyError) as err:
        converge(res, ctx)
    assert f"creating user {name} failed (useradd exited" in err.value.message
    assert err.value.output and "useradd" in err.value.output


# -- through the applier and the CLI -----------------------------------------------------------


def test_noop_through_the_engine_changes_nothing(
    made: Made, ctx: ApplyContext, tmp_path: Path
) -> None:
    grp_name, name, existing = made.name(), made.name(), made.user()
    home = tmp_path / "home"
    resources = [
        make("group", grp_name),
        make("user", name, gid=grp_name, home=str(home), managehome=True, password=HASH),
        make("user", existing, shell="/bin/bash", authorized_keys=[KEY_A]),
    ]
    ours = (grp_name, name, existing)

    def entries() -> list[list[str]]:
        # The lines that name these accounts: other workers add accounts of their own meanwhile.
        files = ("/etc/passwd", "/etc/group", "/etc/shadow")
        return [
            [line for line in Path(f).read_text().splitlines() if any(n in line for n in ours)]
            for f in files
        ]

    before = entries()
    assert engine_run(resources, ctx, noop=True) == [Status.WOULD_CHANGE] * 3
    assert entries() == before and not home.exists()
    edge = Edge(resources[0].ref, resources[1].ref, EdgeKind.AUTO)
    outcome = apply_catalog(Catalog("t", None, resources[:2], [edge], []), ctx)
    assert [r.status for r in outcome.results] == [Status.CHANGED] * 2
    assert ids(name)[1] == int(group(grp_name)[2]) and home.is_dir()  # type: ignore[index]
    assert engine_run(resources[:2], ctx) == [Status.UNCHANGED] * 2


def test_a_failed_user_is_reported_and_its_dependents_skipped(
    made: Made, ctx: ApplyContext
) -> None:
    name, missing = made.name(), made.name()
    user = make("user", name, gid=missing)
    later = make("group", made.name())
    edge = Edge(user.ref, later.ref, EdgeKind.ORDER)
    outcome = apply_catalog(Catalog("t", None, [user, later], [edge], []), ctx)
    assert [r.status for r in outcome.results] == [Status.FAILED, Status.SKIPPED]
    assert f"primary group '{missing}'" in outcome.results[0].message


def test_the_password_never_reaches_output_or_reports(made: Made, tmp_path: Path) -> None:
    name = made.name()
    first, second, third = new_hash(), new_hash(), new_hash()
    repo, state = tmp_path / "repo", tmp_path / "state"

    def run(password: str, *args: str, gid: str | None = None) -> str:
        extra = f"\n  gid: {gid}" if gid else ""
        make_repo(repo, f'- user: {name}\n  password: "{password}"\n  shell: /bin/sh{extra}\n')
        proc = apply(repo, state, "--diff", "-v", *args)
        text = proc.stdout + proc.stderr
        return f"exit {proc.returncode}\n{text}"

    out = run(first, "--noop")
    assert out.startswith("exit 2") and f"user:{name}" in out and passwd(name) is None
    out = run(first)
    assert out.startswith("exit 2") and shadow_hash(name) == first
    assert "password" in out  # the change is listed by name only
    out = run(second)
    assert out.startswith("exit 2") and shadow_hash(name) == second
    out += run(second)
    out += run(second, "--json")
    out += run(third, gid=made.name())  # a failing run: its message must not leak either
    assert f"user:{name}: failed" in out
    stored = "".join(p.read_text(errors="replace") for p in state.rglob("*") if p.is_file())
    assert "report" in "".join(str(p) for p in state.rglob("*"))
    for secret in (first, second, third):
        body = secret.rsplit("$", 1)[1]
        assert body not in out, "a password hash was printed"
        assert body not in stored, "a password hash was stored in the state dir"
