"""Symlink races on the files gitpuppet writes as root (issue 8 item 5): a real non-root user
plants links at the old predictable temp names (`.<name>.<pid>.tmp`) and at the targets; root
must neither write nor read through them, and refuses a state dir that user could change."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitpuppet.atomic import UnsafeStateDir, check_root_only
from gitpuppet.backup import BackupStore
from gitpuppet.errors import ApplyError
from gitpuppet.metrics import RunMetrics, write_metrics
from gitpuppet.report import build_report, list_reports, write_report
from gitpuppet.state import State, load_state, save_state
from tests.integration import test_type_support as support
from tests.integration.helpers import apply, make_repo
from tests.integration.test_type_support import Account

account = support.account
VICTIM = b"root:secret:line\n"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the attack needs root and a real user")


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A folder the test user can reach (pytest's own are 0700 under a 0700 root folder)."""
    base = Path(tempfile.mkdtemp(prefix="gp-symlinks-", dir="/tmp"))
    os.chmod(base, 0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def plant(account: Account, target: Path, link: Path) -> None:
    """`ln -s target link`, run as the unprivileged user."""
    subprocess.run(
        ["ln", "-s", str(target), str(link)], check=True, user=account.uid, group=account.gid
    )


def victim(tmp_path: Path) -> Path:
    """A root-owned file the attacker wants root to overwrite."""
    path = tmp_path / "root-only" / "shadow"
    path.parent.mkdir(mode=0o700)
    path.write_bytes(VICTIM)
    return path


def user_folder(tmp_path: Path, account: Account, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    os.chown(folder, account.uid, account.gid)
    return folder


def test_metrics_in_a_user_owned_textfile_folder_never_write_through_links(
    tmp_path: Path, account: Account
) -> None:
    """Debian's textfile folder belongs to the exporter's user: the safe write is the fix."""
    target = victim(tmp_path)
    folder = user_folder(tmp_path, account, "textfile")
    prom = folder / "gitpuppet.prom"
    plant(account, target, folder / f".gitpuppet.prom.{os.getpid()}.tmp")  # the old temp name
    plant(account, target, prom)
    write_metrics(prom, RunMetrics(timestamp=1.0, duration=2.0, exit_code=0))
    assert target.read_bytes() == VICTIM
    assert stat.S_ISREG(os.lstat(prom).st_mode)  # the link was replaced, not followed
    assert "gitpuppet_last_run_exit_code 0" in prom.read_text()
    assert stat.S_IMODE(os.stat(prom).st_mode) == 0o644


def test_state_json_is_neither_written_nor_read_through_links(
    tmp_path: Path, account: Account
) -> None:
    target = victim(tmp_path)
    state_dir = user_folder(tmp_path, account, "state")
    plant(account, target, state_dir / f".state.json.{os.getpid()}.tmp")
    plant(account, target, state_dir / "state.json")
    assert load_state(state_dir) == State()  # a link is unreadable state: start fresh
    save_state(state_dir, State(applied_commit="a" * 40))
    assert target.read_bytes() == VICTIM
    assert stat.S_ISREG(os.lstat(state_dir / "state.json").st_mode)
    assert load_state(state_dir).applied_commit == "a" * 40


def test_report_and_summary_never_write_through_links(tmp_path: Path, account: Account) -> None:
    target = victim(tmp_path)
    state_dir = user_folder(tmp_path, account, "state")
    (state_dir / "reports").mkdir()
    os.chown(state_dir / "reports", account.uid, account.gid)
    plant(account, target, state_dir / f".last_run_summary.json.{os.getpid()}.tmp")
    plant(account, target, state_dir / "last_run_summary.json")
    plant(account, target, state_dir / "reports" / "00000000T000000.000000Z-planted.json")
    report = build_report(
        None, node="n", environment=None, commit=None, start=0.0, exit_code=0, noop=False
    )
    files = write_report(state_dir, report)
    assert files.errors == [] and files.path is not None
    assert target.read_bytes() == VICTIM
    assert stat.S_ISREG(os.lstat(state_dir / "last_run_summary.json").st_mode)
    assert [r["_path"] for r in list_reports(state_dir)] == [str(files.path)]  # link not read


def test_backup_index_is_never_appended_through_a_link(tmp_path: Path, account: Account) -> None:
    target = victim(tmp_path)
    store = BackupStore(tmp_path / "state")
    store.save("/etc/other", b"makes the folders")
    index = store._index("/etc/motd")  # its name is predictable: sha256 of the path
    os.chown(index.parent, account.uid, account.gid)
    plant(account, target, index)
    with pytest.raises(ApplyError, match=r"cannot back up /etc/motd into .*; /etc/motd is left"):
        store.save("/etc/motd", b"old motd")
    assert target.read_bytes() == VICTIM


@pytest.mark.parametrize(
    ("where", "mode", "owned_by_user", "message"),
    [
        ("state", 0o755, True, "is owned by uid"),
        ("state", 0o777, False, "is writable by other users (mode 0777, no sticky bit)"),
        ("state", 0o775, False, "is writable by its group"),
        ("parent", 0o755, True, "(above the state dir"),
        ("parent", 0o777, False, "(above the state dir"),
    ],
)
def test_a_state_dir_another_user_can_change_is_refused(
    tmp_path: Path, account: Account, where: str, mode: int, owned_by_user: bool, message: str
) -> None:
    parent = tmp_path / "var"
    state_dir = parent / "gitpuppet"
    state_dir.mkdir(parents=True)
    folder = state_dir if where == "state" else parent
    os.chmod(folder, mode)
    if owned_by_user:
        os.chown(folder, account.uid, account.gid)
    with pytest.raises(UnsafeStateDir, match=r"refusing the state dir .*gitpuppet") as err:
        check_root_only(state_dir)
    assert message in str(err.value) and str(folder) in str(err.value)
    assert "chmod go-w" in str(err.value)


def test_sticky_world_writable_ancestor_and_root_symlink_are_accepted(tmp_path: Path) -> None:
    sticky = tmp_path / "tmp"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)  # like /tmp
    (sticky / "real").mkdir()
    os.symlink(sticky / "real", tmp_path / "link")  # like /var/run -> /run, owned by root
    check_root_only(tmp_path / "link" / "gitpuppet")  # not created yet: fine


def test_a_symlinked_state_dir_resolving_into_a_user_folder_is_refused(
    tmp_path: Path, account: Account
) -> None:
    folder = user_folder(tmp_path, account, "home")
    os.symlink(folder, tmp_path / "state")
    with pytest.raises(UnsafeStateDir, match="is owned by uid"):
        check_root_only(tmp_path / "state")


def test_apply_refuses_a_user_writable_state_dir_and_changes_nothing(
    tmp_path: Path, account: Account
) -> None:
    state_dir = user_folder(tmp_path, account, "state")
    repo = make_repo(tmp_path / "repo", f"- file: {tmp_path}/motd\n  content: hi\n")
    proc = apply(repo, state_dir)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"refusing the state dir {state_dir}: {state_dir} is owned by uid" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "motd").exists()
    assert list(state_dir.iterdir()) == []
