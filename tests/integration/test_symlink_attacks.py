"""A local user against `file` and `line`: links planted in a directory the user owns, before
the run and between the read and the write. Root must never write, chown, link or delete
outside the user's own directory. Real users (useradd), real files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitpuppet.contract import ApplyContext
from gitpuppet.errors import ApplyError
from gitpuppet.resources.fsutil import WriteBatch
from gitpuppet.types import get_type
from tests.integration import test_type_support as support
from tests.integration.test_type_support import Account, converge, make

ctx = support.ctx
account = support.account

SECRET = b"root:secret\n"


@dataclass
class Scene:
    """A home that the user owns and a root-only directory with a secret in it."""

    home: Path
    vault: Path
    user: Account

    @property
    def secret(self) -> Path:
        return self.vault / "secret"

    def untouched(self) -> None:
        st = os.lstat(self.secret)
        assert self.secret.read_bytes() == SECRET
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, 0o600)
        assert sorted(os.listdir(self.vault)) == ["secret"]


@pytest.fixture
def scene(tmp_path: Path, account: Account) -> Iterator[Scene]:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chown(home, account.uid, account.gid)
    vault = tmp_path / "vault"
    vault.mkdir(mode=0o700)
    (vault / "secret").write_bytes(SECRET)
    os.chmod(vault / "secret", 0o600)
    yield Scene(home, vault, account)


def _plant(link: Path, target: Path, uid: int) -> None:
    """A link made by the user (owned by it, as `ln -s` run by the user would be)."""
    os.symlink(target, link)
    os.lchown(link, uid, -1)


def _apply(res: object, ctx: ApplyContext) -> None:
    """read, diff and apply, as the applier does (raises what apply raises)."""
    t = get_type(res.type)  # type: ignore[attr-defined]
    assert t is not None
    cur = t.current(res, ctx)  # type: ignore[arg-type]
    t.apply(res, cur, t.diff(cur, res, ctx), ctx)  # type: ignore[arg-type]


def test_file_is_not_written_through_a_linked_parent(scene: Scene, ctx: ApplyContext) -> None:
    _plant(scene.home / ".ssh", scene.vault, scene.user.uid)
    res = make("file", str(scene.home / ".ssh/secret"), content="pwned\n", owner=scene.user.user)
    with pytest.raises(ApplyError, match=r"\.ssh is a symbolic link .* non-root user"):
        converge(res, ctx)
    scene.untouched()


def test_owner_and_mode_are_not_set_through_a_linked_parent(
    scene: Scene, ctx: ApplyContext
) -> None:
    _plant(scene.home / ".ssh", scene.vault, scene.user.uid)
    res = make(
        "file",
        str(scene.home / ".ssh/secret"),
        ensure="present",
        owner=scene.user.user,
        mode="0666",
    )
    with pytest.raises(ApplyError, match="symbolic link"):
        converge(res, ctx)
    scene.untouched()


def test_nothing_is_deleted_through_a_linked_parent(scene: Scene, ctx: ApplyContext) -> None:
    _plant(scene.home / "old", scene.vault, scene.user.uid)
    res = make("file", str(scene.home / "old/secret"), ensure="absent")
    with pytest.raises(ApplyError, match="symbolic link"):
        converge(res, ctx)
    scene.untouched()


def test_a_link_is_not_made_through_a_linked_parent(scene: Scene, ctx: ApplyContext) -> None:
    _plant(scene.home / "bin", scene.vault, scene.user.uid)
    res = make("file", str(scene.home / "bin/tool"), ensure="link", target="/bin/true")
    with pytest.raises(ApplyError, match="symbolic link"):
        converge(res, ctx)
    scene.untouched()


def test_directory_swapped_for_a_link_between_read_and_write(
    scene: Scene, ctx: ApplyContext
) -> None:
    conf = scene.home / "conf"
    conf.mkdir()
    os.chown(conf, scene.user.uid, scene.user.gid)
    res = make("file", str(conf / "secret"), content="pwned\n", owner=scene.user.user)
    t = get_type("file")
    assert t is not None
    cur = t.current(res, ctx)
    changes = t.diff(cur, res, ctx)
    assert changes
    conf.rename(scene.home / "conf.away")  # the race, made deterministic
    _plant(conf, scene.vault, scene.user.uid)
    with pytest.raises(ApplyError, match="symbolic link"):
        t.apply(res, cur, changes, ctx)
    scene.untouched()


def test_a_staged_write_lands_in_the_directory_that_was_checked(
    scene: Scene, ctx: ApplyContext
) -> None:
    """Swapped after the write was staged: the rename happens in the directory the walk
    opened (now moved away), never in the one the link points to."""
    conf = scene.home / "conf"
    conf.mkdir()
    res = make("file", str(conf / "secret"), content="new\n")
    ctx.batch = WriteBatch()
    ctx.batch.owner = res.ref
    _apply(res, ctx)
    assert len(ctx.batch) == 1
    conf.rename(scene.home / "conf.away")
    _plant(conf, scene.vault, scene.user.uid)
    assert ctx.batch.commit() == {}
    assert (scene.home / "conf.away/secret").read_bytes() == b"new\n"
    scene.untouched()


def test_purge_does_not_delete_through_a_directory_swapped_for_a_link(
    scene: Scene, ctx: ApplyContext
) -> None:
    top = scene.home / "site"
    (top / "sub").mkdir(parents=True)
    (top / "sub/secret").write_bytes(b"mine\n")
    res = make(
        "file", str(top), ensure="directory", recurse=True, purge=True, tree={"keep": b"k\n"}
    )
    t = get_type("file")
    assert t is not None
    cur = t.current(res, ctx)
    changes = t.diff(cur, res, ctx)
    assert any(c.attr == "sub/secret" or c.attr == "sub" for c in changes)
    (top / "sub").rename(scene.home / "sub.away")
    _plant(top / "sub", scene.vault, scene.user.uid)
    try:
        t.apply(res, cur, changes, ctx)
    except ApplyError:
        pass  # refusing is fine; deleting the vault's secret is not
    scene.untouched()
    assert os.path.islink(top / "sub") or not os.path.lexists(top / "sub")


def test_recurse_does_not_read_or_descend_into_a_link(scene: Scene, ctx: ApplyContext) -> None:
    top = scene.home / "site"
    top.mkdir()
    _plant(top / "sub", scene.vault, scene.user.uid)
    res = make(
        "file",
        str(top),
        ensure="directory",
        recurse=True,
        purge=True,
        tree={"sub": None, "sub/secret": b"pwned\n"},
    )
    converge(res, ctx)
    scene.untouched()
    assert (top / "sub").is_dir() and not (top / "sub").is_symlink()
    assert (top / "sub/secret").read_bytes() == b"pwned\n"


def test_a_hard_link_to_roots_file_is_not_chowned(scene: Scene, ctx: ApplyContext) -> None:
    os.link(scene.secret, scene.home / "hl")
    res = make("file", str(scene.home / "hl"), ensure="present", owner=scene.user.user)
    with pytest.raises(ApplyError, match="hard links"):
        converge(res, ctx)
    st = os.stat(scene.secret)
    assert (st.st_uid, st.st_mode & 0o7777) == (0, 0o600)


def test_a_link_in_roots_own_directory_is_still_followed(tmp_path: Path, ctx: ApplyContext) -> None:
    real = tmp_path / "real"
    real.mkdir()
    os.symlink(real, tmp_path / "alias")
    converge(make("file", str(tmp_path / "alias/f"), content="x\n"), ctx)
    assert (real / "f").read_text() == "x\n"


# line


def test_line_does_not_edit_through_a_link_at_the_path(scene: Scene, ctx: ApplyContext) -> None:
    _plant(scene.home / ".bashrc", scene.secret, scene.user.uid)
    res = make("line", "root::0:0::/root:/bin/sh", path=str(scene.home / ".bashrc"))
    with pytest.raises(ApplyError, match=r"\.bashrc is a symbolic link.*follow: true"):
        converge(res, ctx)
    scene.untouched()
    assert os.path.islink(scene.home / ".bashrc")


def test_line_follow_refuses_a_link_a_user_planted(scene: Scene, ctx: ApplyContext) -> None:
    _plant(scene.home / ".bashrc", scene.secret, scene.user.uid)
    res = make("line", "x", path=str(scene.home / ".bashrc"), follow=True)
    with pytest.raises(ApplyError, match="non-root user"):
        converge(res, ctx)
    scene.untouched()


def test_line_is_not_written_through_a_linked_parent(scene: Scene, ctx: ApplyContext) -> None:
    _plant(scene.home / "etc", scene.vault, scene.user.uid)
    res = make("line", "x", path=str(scene.home / "etc/secret"))
    with pytest.raises(ApplyError, match="symbolic link"):
        converge(res, ctx)
    scene.untouched()


def test_line_parent_swapped_between_read_and_write(scene: Scene, ctx: ApplyContext) -> None:
    conf = scene.home / "conf"
    conf.mkdir()
    (conf / "secret").write_bytes(SECRET)
    res = make("line", "x", path=str(conf / "secret"))
    t = get_type("line")
    assert t is not None
    cur = t.current(res, ctx)
    changes = t.diff(cur, res, ctx)
    conf.rename(scene.home / "conf.away")
    _plant(conf, scene.vault, scene.user.uid)
    with pytest.raises(ApplyError, match="symbolic link"):
        t.apply(res, cur, changes, ctx)
    scene.untouched()


def test_line_follow_edits_the_target_of_roots_link(tmp_path: Path, ctx: ApplyContext) -> None:
    real = tmp_path / "real.conf"
    real.write_text("a\n")
    os.symlink("real.conf", tmp_path / "conf")
    converge(make("line", "b", path=str(tmp_path / "conf"), follow=True), ctx)
    assert real.read_text() == "a\nb\n"
    assert os.readlink(tmp_path / "conf") == "real.conf"
