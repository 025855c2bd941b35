"""The file type on real files under a temporary directory, with real users and groups."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gitpuppet.backup import BackupStore
from gitpuppet.contract import ApplyContext
from gitpuppet.errors import ApplyError
from tests.integration import test_type_support as support
from tests.integration.test_type_support import Account, attrs_changed, changes_of, converge, make

ctx = support.ctx
account = support.account


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def no_temp_files(folder: Path) -> bool:
    return not [p for p in os.listdir(folder) if ".gitpuppet-" in p]


def test_creates_a_file_with_content_mode_owner_group(
    tmp_path: Path, ctx: ApplyContext, account: Account
) -> None:
    path = tmp_path / "motd"
    res = make(
        "file", str(path), content="hello\n", mode="0640", owner=account.user, group=account.group
    )
    changes = converge(res, ctx)
    assert set(attrs_changed(changes)) == {"ensure", "content", "mode", "owner", "group"}
    st = os.stat(path)
    assert path.read_bytes() == b"hello\n"
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, account.uid, account.gid)
    assert changes_of(res, ctx) == []
    assert no_temp_files(tmp_path)


def test_numeric_owner_and_group(tmp_path: Path, ctx: ApplyContext, account: Account) -> None:
    path = tmp_path / "f"
    path.write_text("x")
    res = make("file", str(path), owner=account.uid, group=str(account.gid))
    assert attrs_changed(converge(res, ctx)) == ["owner", "group"]
    assert (os.stat(path).st_uid, os.stat(path).st_gid) == (account.uid, account.gid)
    assert path.read_text() == "x"


def test_content_change_reports_a_diff_and_backs_up_the_old_content(
    tmp_path: Path, ctx: ApplyContext
) -> None:
    path = tmp_path / "conf"
    path.write_text("a\nb\n")
    os.chmod(path, 0o600)
    changes = converge(make("file", str(path), content="a\nc\n"), ctx)
    assert attrs_changed(changes) == ["content"]
    diff = changes[0].diff or ""
    assert f"--- {path}" in diff and f"+++ {path}" in diff
    assert "-b\n" in diff and "+c\n" in diff
    assert path.read_text() == "a\nc\n"
    assert mode_of(path) == 0o600  # an unmanaged mode is kept
    store = BackupStore(ctx.state_dir)
    (v1,) = store.versions(str(path))
    assert store.read(v1) == b"a\nb\n" and v1.mode == 0o600


def test_no_diff_unless_asked_and_none_for_binary(tmp_path: Path) -> None:
    path = tmp_path / "bin"
    path.write_bytes(b"\0\1\2")
    quiet = ApplyContext(state_dir=tmp_path / "s", want_diff=False)
    (change,) = changes_of(make("file", str(path), data=b"text\n"), quiet)
    assert change.diff is None and change.old.startswith("sha256:")
    loud = ApplyContext(state_dir=tmp_path / "s", want_diff=True)
    (change,) = changes_of(make("file", str(path), data=b"\0\3"), loud)
    assert change.diff is None


def test_sensitive_content_is_redacted(tmp_path: Path, ctx: ApplyContext) -> None:
    path = tmp_path / "secret"
    path.write_text("old-password\n")
    res = make("file", str(path), content="new-password\n", sensitive=True)
    (change,) = converge(res, ctx)
    assert change.redacted and change.diff is None
    assert "password" not in f"{change.old}{change.new}"
    assert path.read_text() == "new-password\n"


def test_mode_only_change_keeps_content_and_inode(tmp_path: Path, ctx: ApplyContext) -> None:
    path = tmp_path / "f"
    path.write_text("keep\n")
    inode = os.stat(path).st_ino
    changes = converge(make("file", str(path), content="keep\n", mode="0600"), ctx)
    assert [(c.attr, c.old, c.new) for c in changes] == [("mode", "0644", "0600")]
    assert os.stat(path).st_ino == inode and mode_of(path) == 0o600


def test_present_accepts_any_content_and_creates_empty(tmp_path: Path, ctx: ApplyContext) -> None:
    existing = tmp_path / "e"
    existing.write_text("whatever")
    assert converge(make("file", str(existing), ensure="present"), ctx) == []
    missing = tmp_path / "m"
    assert attrs_changed(converge(make("file", str(missing), ensure="present"), ctx)) == ["ensure"]
    assert missing.read_bytes() == b""


def test_replace_false_leaves_existing_content(tmp_path: Path, ctx: ApplyContext) -> None:
    path = tmp_path / "f"
    path.write_text("local edit\n")
    assert converge(make("file", str(path), content="default\n", replace=False), ctx) == []
    assert path.read_text() == "local edit\n"
    fresh = tmp_path / "g"
    converge(make("file", str(fresh), content="default\n", replace=False), ctx)
    assert fresh.read_text() == "default\n"


def test_absent_removes_and_backs_up(tmp_path: Path, ctx: ApplyContext) -> None:
    path = tmp_path / "gone"
    path.write_text("last words\n")
    assert attrs_changed(converge(make("file", str(path), ensure="absent"), ctx)) == ["ensure"]
    assert not path.exists()
    store = BackupStore(ctx.state_dir)
    assert store.read(store.versions(str(path))[0]) == b"last words\n"
    assert converge(make("file", str(path), ensure="absent"), ctx) == []


def test_backup_false_keeps_no_copy(tmp_path: Path, ctx: ApplyContext) -> None:
    path = tmp_path / "f"
    path.write_text("old")
    converge(make("file", str(path), content="new", backup=False), ctx)
    converge(make("file", str(path), ensure="absent", backup=False), ctx)
    assert BackupStore(ctx.state_dir).versions(str(path)) == []


def test_absent_directory_needs_force_when_not_empty(tmp_path: Path, ctx: ApplyContext) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "x").write_text("x")
    with pytest.raises(ApplyError, match="not empty.*force: true"):
        converge(make("file", str(folder), ensure="absent"), ctx)
    assert (folder / "x").exists()
    converge(make("file", str(folder), ensure="absent", force=True), ctx)
    assert not folder.exists()


def test_link_create_retarget_and_replace_a_file(tmp_path: Path, ctx: ApplyContext) -> None:
    link = tmp_path / "current"
    assert attrs_changed(converge(make("file", str(link), ensure="link", target="/a"), ctx)) == [
        "ensure",
        "target",
    ]
    assert os.readlink(link) == "/a"
    changes = converge(make("file", str(link), ensure="link", target="/b"), ctx)
    assert [(c.attr, c.old, c.new) for c in changes] == [("target", "/a", "/b")]
    plain = tmp_path / "plain"
    plain.write_text("was a file\n")
    converge(make("file", str(plain), ensure="link", target=str(link)), ctx)
    assert os.readlink(plain) == str(link)
    store = BackupStore(ctx.state_dir)
    assert store.read(store.versions(str(plain))[0]) == b"was a file\n"
    assert no_temp_files(tmp_path)


def test_directory_is_not_replaced_without_force(tmp_path: Path, ctx: ApplyContext) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "inside").write_text("x")
    for attrs in ({"content": "x"}, {"ensure": "link", "target": "/tmp"}):
        with pytest.raises(ApplyError, match="is a directory.*force: true"):
            converge(make("file", str(folder), **attrs), ctx)
        assert (folder / "inside").read_text() == "x"
    converge(make("file", str(folder), content="now a file\n", force=True), ctx)
    assert folder.read_text() == "now a file\n"


def test_directory_create_with_mode_and_file_replaced_only_with_force(
    tmp_path: Path, ctx: ApplyContext, account: Account
) -> None:
    folder = tmp_path / "d"
    res = make("file", str(folder), ensure="directory", mode="0750", owner=account.user)
    converge(res, ctx)
    assert folder.is_dir() and mode_of(folder) == 0o750
    assert os.stat(folder).st_uid == account.uid
    squatter = tmp_path / "s"
    squatter.write_text("file")
    with pytest.raises(ApplyError, match="not a directory.*force: true"):
        converge(make("file", str(squatter), ensure="directory"), ctx)
    converge(make("file", str(squatter), ensure="directory", force=True), ctx)
    assert squatter.is_dir()


def test_recurse_creates_fixes_and_leaves_unmanaged_without_purge(
    tmp_path: Path, ctx: ApplyContext
) -> None:
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text("old")
    (root / "local.txt").write_text("mine")
    tree = {"index.html": b"new", "css": None, "css/a.css": b"body{}"}
    res = make("file", str(root), ensure="directory", recurse=True, source="site", tree=tree)
    changes = converge(res, ctx)
    assert sorted(attrs_changed(changes)) == ["css/", "css/a.css", "index.html"]
    assert (root / "index.html").read_text() == "new"
    assert (root / "css/a.css").read_text() == "body{}"
    assert (root / "local.txt").read_text() == "mine"
    assert changes_of(res, ctx) == []
    store = BackupStore(ctx.state_dir)
    assert store.read(store.versions(str(root / "index.html"))[0]) == b"old"


def test_purge_removes_unmanaged_files_and_dirs(tmp_path: Path, ctx: ApplyContext) -> None:
    root = tmp_path / "conf.d"
    (root / "old/deep").mkdir(parents=True)
    (root / "old/deep/x.conf").write_text("x")
    (root / "stray.conf").write_text("stray")
    (root / "keep.conf").write_text("keep")
    os.symlink("/etc", root / "link-to-dir")
    tree = {"keep.conf": b"keep"}
    res = make(
        "file", str(root), ensure="directory", recurse=True, purge=True, source="c", tree=tree
    )
    changes = converge(res, ctx)
    assert sorted((c.attr, c.new) for c in changes) == [
        ("link-to-dir", "absent (purged)"),
        ("old", "absent (purged)"),
        ("stray.conf", "absent (purged)"),
    ]
    assert sorted(os.listdir(root)) == ["keep.conf"]
    assert os.path.isdir("/etc")  # the link was removed, not what it points to
    store = BackupStore(ctx.state_dir)
    assert store.read(store.versions(str(root / "stray.conf"))[0]) == b"stray"


def test_validate_rejects_and_keeps_the_old_content(tmp_path: Path, ctx: ApplyContext) -> None:
    path = tmp_path / "sudoers"
    path.write_text("good\n")
    validator = "sh -c 'grep -q good %; rc=$?; echo checked >&2; exit $rc'"
    res = make("file", str(path), content="bad\n", validate=validator)
    with pytest.raises(ApplyError, match="validate command rejected") as info:
        converge(res, ctx)
    assert "checked" in (info.value.output or "")
    assert path.read_text() == "good\n"
    assert no_temp_files(tmp_path)
    converge(make("file", str(path), content="good too\n", validate=validator), ctx)
    assert path.read_text() == "good too\n"


def test_validate_sees_the_new_content_at_the_percent_path(
    tmp_path: Path, ctx: ApplyContext
) -> None:
    path = tmp_path / "f"
    seen = tmp_path / "seen"
    res = make("file", str(path), content="payload\n", validate=f"cp % {seen}")
    converge(res, ctx)
    assert seen.read_text() == "payload\n"


def test_unknown_owner_and_group_fail_clearly(tmp_path: Path, ctx: ApplyContext) -> None:
    path = tmp_path / "f"
    path.write_text("intact")
    with pytest.raises(ApplyError, match="owner 'nosuchuser' does not exist"):
        converge(make("file", str(path), content="new", owner="nosuchuser"), ctx)
    with pytest.raises(ApplyError, match="group 'nosuchgroup' does not exist"):
        converge(make("file", str(path), content="new", group="nosuchgroup"), ctx)
    assert path.read_text() == "intact"


def test_missing_parent_names_the_fix(tmp_path: Path, ctx: ApplyContext) -> None:
    path = tmp_path / "nope" / "f"
    with pytest.raises(ApplyError) as info:
        converge(make("file", str(path), content="x"), ctx)
    text = str(info.value)
    assert f"parent directory {tmp_path}/nope does not exist" in text
    assert f"file: {tmp_path}/nope, ensure: directory" in text
    for attrs in ({"ensure": "directory"}, {"ensure": "link", "target": "/x"}):
        with pytest.raises(ApplyError, match="parent directory"):
            converge(make("file", str(path), **attrs), ctx)


def test_recurse_applies_owner_and_mode_inside_and_sees_drift(
    tmp_path: Path, ctx: ApplyContext, account: Account
) -> None:
    root = tmp_path / "tree"
    tree = {"sub": None, "sub/a": b"a", "b": b"b"}
    res = make(
        "file",
        str(root),
        ensure="directory",
        recurse=True,
        source="t",
        tree=tree,
        mode="0640",
        owner=account.user,
    )
    converge(res, ctx)
    # A directory gets x wherever r is set, as Puppet does: 0640 -> 0750.
    assert mode_of(root) == 0o750 and mode_of(root / "sub") == 0o750
    assert mode_of(root / "sub/a") == 0o640 and os.stat(root / "b").st_uid == account.uid
    os.chmod(root / "sub/a", 0o666)
    os.chown(root / "b", 0, 0)
    changes = converge(res, ctx)
    assert sorted(attrs_changed(changes)) == ["b owner", "sub/a mode"]
    assert mode_of(root / "sub/a") == 0o640 and os.stat(root / "b").st_uid == account.uid


def test_a_link_or_fifo_where_a_tree_file_belongs_is_replaced(
    tmp_path: Path, ctx: ApplyContext
) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    os.symlink("/etc/passwd", root / "a")
    os.mkfifo(root / "b")
    res = make(
        "file",
        str(root),
        ensure="directory",
        recurse=True,
        source="t",
        tree={"a": b"A", "b": b"B"},
    )
    assert sorted((c.attr, c.old) for c in converge(res, ctx)) == [("a", "link"), ("b", "other")]
    assert (root / "a").read_bytes() == b"A" and not (root / "a").is_symlink()
    assert (root / "b").read_bytes() == b"B"
    assert os.path.getsize("/etc/passwd") > 1
