"""A full state dir (issue 8 item 6), on a real small tmpfs: the run converges anyway, names the
path it could not write, keeps the refresh a change notified, and exits 4 (never 1 after
changes). A backup that cannot be made fails its resource and keeps the old content."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import apply, make_repo


@pytest.fixture
def state_fs(tmp_path: Path) -> Iterator[Path]:
    """A state dir alone on a 256 KiB tmpfs (unmounted afterwards), with its folders made."""
    mnt = tmp_path / "var"
    mnt.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and mount): {proc.stderr.strip()}")
    try:
        for sub in ("state", "state/backups", "state/reports"):
            (mnt / sub).mkdir(mode=0o700 if sub.endswith("backups") else 0o755)
        yield mnt / "state"
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(folder: Path) -> Path:
    """Write into `folder` until its filesystem has no block left; the filler file."""
    filler = folder.parent / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"x" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def notify_repo(tmp_path: Path, restart: str) -> Path:
    """A new file (nothing to back up) that notifies a refresh-only exec."""
    return make_repo(
        tmp_path / "repo",
        f"""\
        - file: {tmp_path}/app.conf
          content: "workers 4\\n"
          notify: "exec:{restart}"
        - exec: "{restart}"
          refreshonly: true
        """,
    )


def test_a_full_state_dir_still_delivers_the_refresh_and_exits_4(
    tmp_path: Path, state_fs: Path
) -> None:
    fill(state_fs)
    restarted = tmp_path / "restarted"
    repo = notify_repo(tmp_path, f"touch {restarted}")
    proc = apply(repo, state_fs)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 6, out  # changes made, and the state dir could not record them
    assert "internal error" not in out and "Traceback" not in out
    assert f"cannot write {state_fs}/state.json: No space left on device" in proc.stderr
    assert f"cannot write {state_fs}/last_run_summary.json" in proc.stderr
    assert (tmp_path / "app.conf").read_text() == "workers 4\n"
    assert restarted.exists()  # the refresh happened in this very run
    assert sorted(p.name for p in state_fs.iterdir()) == ["backups", "reports"]  # no temp left


def test_a_refresh_held_while_the_disk_was_full_is_written_when_room_comes_back(
    tmp_path: Path, state_fs: Path
) -> None:
    """The change is made on a full disk; the refresh fails; a later resource frees space: the
    refresh still due reaches state.json at the end, and the next run delivers it."""
    filler = fill(state_fs)
    flag = tmp_path / "may-restart"
    restart = f"sh -c 'test -e {flag} && touch {tmp_path}/restarted'"
    repo = make_repo(
        tmp_path / "repo",
        f"""\
        - file: {tmp_path}/app.conf
          content: "workers 4\\n"
          notify: "exec:{restart}"
        - exec: "rm -f {filler}"
          require: "file:{tmp_path}/app.conf"
        - exec: "{restart}"
          refreshonly: true
          require: "exec:rm -f {filler}"
        """,
    )
    first = apply(repo, state_fs)
    assert first.returncode == 6, first.stdout + first.stderr
    assert "No space left on device" in first.stderr
    state = json.loads((state_fs / "state.json").read_text())
    assert state["pending_refreshes"] == [f"exec:{restart}"]
    assert state["last_exit_code"] == 6
    flag.touch()
    second = apply(repo, state_fs)
    assert second.returncode == 2, second.stdout + second.stderr
    assert (tmp_path / "restarted").exists()
    assert json.loads((state_fs / "state.json").read_text())["pending_refreshes"] == []


def test_a_backup_that_cannot_be_made_fails_the_resource_and_keeps_the_old_content(
    tmp_path: Path, state_fs: Path
) -> None:
    conf = tmp_path / "app.conf"
    conf.write_text("precious old content\n")
    repo = make_repo(
        tmp_path / "repo",
        f"""\
        - file: {conf}
          content: "new content\\n"
        - file: {tmp_path}/other
          content: fine
        """,
    )
    fill(state_fs)
    proc = apply(repo, state_fs)
    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert f"file:{conf}: failed: cannot back up {conf} into {state_fs}/backups" in proc.stdout
    assert f"{conf} is left as it was" in proc.stdout
    assert conf.read_text() == "precious old content\n"
    assert (tmp_path / "other").read_text() == "fine"
