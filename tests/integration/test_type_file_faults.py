"""The file type when the machine fights back: read-only and full filesystems, a writer killed
mid-write; and what an unchanged file costs to check."""

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

from gitpuppet.contract import ApplyContext
from gitpuppet.errors import ApplyError
from gitpuppet.types import get_type
from tests.integration import test_type_support as support
from tests.integration.test_type_support import converge, make

ctx = support.ctx


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs mounted for this test (we are root), unmounted afterwards."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_read_only_filesystem_fails_and_keeps_the_original(
    small_fs: Path, ctx: ApplyContext
) -> None:
    conf = small_fs / "conf"
    conf.write_text("original\n")
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    with pytest.raises(ApplyError, match="Read-only file system"):
        converge(make("file", str(conf), content="new\n"), ctx)
    assert conf.read_text() == "original\n"
    with pytest.raises(ApplyError, match="Read-only file system"):
        converge(make("file", str(conf), ensure="absent", backup=False), ctx)
    assert conf.read_text() == "original\n"


def test_full_filesystem_fails_and_keeps_the_original_and_no_temp(
    small_fs: Path, ctx: ApplyContext
) -> None:
    conf = small_fs / "conf"
    conf.write_text("original\n")
    filler = small_fs / "filler"
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass  # the filesystem is full now
    with pytest.raises(ApplyError, match="No space left on device"):
        converge(make("file", str(conf), data=b"x" * 32 * 1024), ctx)
    assert conf.read_text() == "original\n"
    assert sorted(os.listdir(small_fs)) == ["conf", "filler"]


WRITER = """
import sys
from gitpuppet.resources.fsutil import atomic_write
path = sys.argv[1]
n = 0
print("ready", flush=True)
while True:
    n += 1
    atomic_write(path, (b"N" if n % 2 else b"O") * 8_000_000, mode=0o600)
"""


def test_sigkill_during_atomic_write_leaves_old_or_new_never_partial(tmp_path: Path) -> None:
    target = tmp_path / "big"
    target.write_bytes(b"O" * 8_000_000)
    rng = random.Random(20261121)
    seen = set()
    for _ in range(25):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"  # imports done
        time.sleep(0.08 + rng.random() * 0.25)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        data = target.read_bytes()
        assert len(data) == 8_000_000
        assert data in (b"N" * 8_000_000, b"O" * 8_000_000)
        seen.add(data[:1])
    # The kills landed at different moments: both contents were observed.
    assert seen == {b"N", b"O"}
    # Temp files the killed writers left are removed by the next write once they are old.
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".big.gitpuppet-")]
    assert leftovers
    for p in leftovers:
        os.utime(p, (1, 1))
    context = ApplyContext(state_dir=tmp_path / "state")
    converge(make("file", str(target), data=b"final", backup=False), context)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".big")] == []
    assert target.read_bytes() == b"final"


def test_a_thousand_unchanged_files_show_no_changes(tmp_path: Path) -> None:
    file_type = get_type("file")
    assert file_type is not None
    context = ApplyContext(state_dir=tmp_path / "state")
    data = os.urandom(512).hex().encode()  # 1 KiB
    resources = []
    for i in range(1000):
        path = tmp_path / f"f{i:04d}"
        path.write_bytes(data)
        os.chmod(path, 0o644)
        resources.append(make("file", str(path), data=data, mode="0644", owner="root"))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for res in resources:
            assert not file_type.diff(file_type.current(res, context), res, context)
        best = min(best, time.perf_counter() - start)
    # A number for the reader, not a timed assertion (bench/apply_bench.py measures the no-op).
    print(f"1,000 unchanged 1 KiB files: current+diff {best * 1000:.1f} ms")
