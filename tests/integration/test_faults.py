"""Faults through `gitpuppet apply`: a full and a read-only filesystem (a real small tmpfs) fail
the resource and keep the original file intact; the rest of the catalog still converges."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import apply, make_repo


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs, unmounted afterwards."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and mount): {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_filesystem_fails_and_keeps_the_original(tmp_path: Path, tmpfs: Path) -> None:
    original = b"original content\n" * 100
    (tmpfs / "conf").write_bytes(original)
    (tmpfs / "filler").write_bytes(b"x" * (60 * 1024 - len(original)))  # nearly full
    big = "y" * (40 * 1024)
    repo = make_repo(
        tmp_path / "repo",
        f'- file: {tmpfs}/conf\n  content: "{big}"\n  backup: false\n'
        f"- file: {tmp_path}/other\n  content: fine\n",
    )
    proc = apply(repo, tmp_path / "state")
    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert f"file:{tmpfs}/conf: failed: cannot write {tmpfs}/conf" in proc.stdout
    assert (tmpfs / "conf").read_bytes() == original
    assert sorted(p.name for p in tmpfs.iterdir()) == ["conf", "filler"]  # no temp file left
    assert (tmp_path / "other").read_text() == "fine"


def test_read_only_filesystem_fails_and_keeps_the_original(tmp_path: Path, tmpfs: Path) -> None:
    (tmpfs / "conf").write_text("original\n")
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    repo = make_repo(tmp_path / "repo", f"- file: {tmpfs}/conf\n  content: new\n")
    proc = apply(repo, tmp_path / "state")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "Read-only file system" in proc.stdout
    assert (tmpfs / "conf").read_text() == "original\n"


# SIGKILL in the middle of a write: tests/integration/test_type_file_faults.py (25 kills, 8 MB).
