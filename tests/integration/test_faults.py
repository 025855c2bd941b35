"""Faults: a full and a read-only filesystem (a real small tmpfs), and a process killed with
SIGKILL while writing a file. The original file must always be intact: old or new, never partial."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
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


WRITER = """
import sys
from gitpuppet.resources.fsutil import atomic_write
path, n = sys.argv[1], 0
while True:
    n += 1
    atomic_write(path, (b"A" if n % 2 else b"B") * 4_000_000)
"""


def test_sigkill_while_writing_never_leaves_a_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "big"
    target.write_bytes(b"A" * 4_000_000)
    rng = random.Random(1234)
    for _ in range(15):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)])
        time.sleep(0.05 + rng.random() * 0.3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        data = target.read_bytes()
        assert len(data) == 4_000_000
        assert data in (b"A" * 4_000_000, b"B" * 4_000_000)
    # Temp files of killed writers may remain beside it; the target itself is always whole.
