"""The backup store and `gitpuppet backup list/restore`, on real files and real owners."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitpuppet.backup import BackupStore
from gitpuppet.cli import cli
from gitpuppet.contract import ApplyContext
from gitpuppet.errors import GitpuppetError
from tests.integration import test_type_support as support
from tests.integration.test_type_support import Account, converge, make

account = support.account
NO_CONFIG = {"GITPUPPET_CONFIG": "/nonexistent/config.yaml"}


def test_objects_are_deduplicated_and_versions_numbered_newest_first(tmp_path: Path) -> None:
    store = BackupStore(tmp_path / "state")
    st = os.stat(tmp_path)
    d1 = store.save("/etc/a", b"one", st)
    d2 = store.save("/etc/a", b"two", st)
    d3 = store.save("/etc/a", b"one", st)
    store.save("/etc/b", b"one", st)
    assert d1 == d3 != d2
    objects = [p for p in (tmp_path / "state/backups/objects").rglob("*") if p.is_file()]
    assert len(objects) == 2
    assert (tmp_path / "state/backups/objects" / d1[:2] / d1[2:]).read_bytes() == b"one"
    versions = store.versions("/etc/a")
    assert [(v.version, v.digest) for v in versions] == [(1, d1), (2, d2), (3, d1)]
    assert versions[0].time >= versions[2].time
    assert [store.read(v) for v in versions] == [b"one", b"two", b"one"]
    assert store.versions("/etc/never") == []


def test_a_torn_index_line_is_passed_over(tmp_path: Path) -> None:
    store = BackupStore(tmp_path)
    store.save("/x", b"kept")
    with open(store._index("/x"), "a") as fh:
        fh.write('{"path": "/x", "ti')  # a crash in the middle of an append
    store.save("/x", b"newer")
    assert [store.read(v) for v in store.versions("/x")] == [b"newer", b"kept"]


def test_restore_puts_content_mode_and_owner_back_and_keeps_the_current(
    tmp_path: Path, account: Account
) -> None:
    path = tmp_path / "conf"
    path.write_text("original\n")
    os.chmod(path, 0o640)
    os.chown(path, account.uid, account.gid)
    ctx = ApplyContext(state_dir=tmp_path / "state")
    converge(make("file", str(path), content="managed\n", owner="root", mode="0644"), ctx)
    store = BackupStore(ctx.state_dir)
    chosen = store.restore(str(path), 1)
    assert chosen.mode == 0o640
    st = os.stat(path)
    assert path.read_text() == "original\n"
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, account.uid, account.gid)
    assert [store.read(v) for v in store.versions(str(path))] == [b"managed\n", b"original\n"]


def test_restore_errors_say_what_exists(tmp_path: Path) -> None:
    store = BackupStore(tmp_path)
    with pytest.raises(GitpuppetError, match="no backups of /x"):
        store.restore("/x")
    store.save("/x", b"a")
    with pytest.raises(GitpuppetError, match="versions 1 to 1, not 2"):
        store.restore("/x", 2)


def test_removed_file_can_be_restored(tmp_path: Path) -> None:
    path = tmp_path / "gone"
    path.write_text("precious\n")
    ctx = ApplyContext(state_dir=tmp_path / "state")
    converge(make("file", str(path), ensure="absent"), ctx)
    BackupStore(ctx.state_dir).restore(str(path))
    assert path.read_text() == "precious\n"


def test_cli_list_and_restore(tmp_path: Path) -> None:
    path = tmp_path / "motd"
    state = tmp_path / "state"
    ctx = ApplyContext(state_dir=state)
    path.write_text("v0\n")
    for text in ("v1\n", "v2\n", "v3\n"):
        converge(make("file", str(path), content=text), ctx)
    runner = CliRunner(env=NO_CONFIG)

    listed = runner.invoke(cli, ["backup", "list", str(path), "--state-dir", str(state)])
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert [ln.split()[0] for ln in lines] == ["1", "2", "3"]
    assert all("3 bytes" in ln and "mode 0644" in ln for ln in lines)

    as_json = runner.invoke(cli, ["backup", "list", str(path), "--state-dir", str(state), "--json"])
    data = json.loads(as_json.stdout)
    assert [v["version"] for v in data] == [1, 2, 3]
    assert data[0]["size"] == 3 and data[0]["mode"] == "0644" and data[0]["path"] == str(path)

    restored = runner.invoke(
        cli, ["backup", "restore", str(path), "--version", "3", "--state-dir", str(state)]
    )
    assert restored.exit_code == 0, restored.output
    assert path.read_text() == "v0\n"
    assert "restored" in restored.stderr
    # The content it replaced (v3) is now version 1.
    store = BackupStore(state)
    assert store.read(store.versions(str(path))[0]) == b"v3\n"


def test_cli_errors_are_messages_not_tracebacks(tmp_path: Path) -> None:
    runner = CliRunner(env=NO_CONFIG)
    state = str(tmp_path / "state")
    result = runner.invoke(cli, ["backup", "restore", "/etc/nothing", "--state-dir", state])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: no backups of /etc/nothing"
    empty = runner.invoke(cli, ["backup", "list", "/etc/nothing", "--state-dir", state])
    assert empty.exit_code == 0 and "no backups of /etc/nothing" in empty.stderr
    relative = runner.invoke(cli, ["backup", "list", "rel/path", "--state-dir", state, "--json"])
    assert relative.exit_code == 0 and json.loads(relative.stdout) == []


def test_cli_finds_backups_of_an_edit_made_through_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real-hosts"
    real.write_text("127.0.0.1 localhost\n")
    link = tmp_path / "hosts"
    link.symlink_to(real)
    state = tmp_path / "state"
    converge(make("host", "db", target=str(link), ip="10.0.0.5"), ApplyContext(state_dir=state))
    runner = CliRunner(env=NO_CONFIG)
    listed = runner.invoke(cli, ["backup", "list", str(link), "--state-dir", str(state), "--json"])
    assert [v["path"] for v in json.loads(listed.stdout)] == [str(real)]
    restored = runner.invoke(cli, ["backup", "restore", str(link), "--state-dir", str(state)])
    assert restored.exit_code == 0, restored.output
    assert link.is_symlink() and real.read_text() == "127.0.0.1 localhost\n"
