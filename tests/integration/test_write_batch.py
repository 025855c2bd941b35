"""File writes committed together (fsutil.WriteBatch) and how the applier uses them: staged
files are in place before anything that could read them, a rename that fails at commit fails its
resource and skips its dependents, a killed run leaves every file old or new, and a backup whose
copy never arrived is not listed."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitpuppet.apply.engine import apply_catalog
from gitpuppet.backup import BackupStore
from gitpuppet.contract import ApplyContext
from gitpuppet.model import Catalog, Edge, EdgeKind, Status
from gitpuppet.resources.fsutil import WriteBatch, write_temp
from tests.integration.helpers import apply, make_repo
from tests.integration.test_type_support import make

# ---------------------------------------------------------------- WriteBatch itself


@pytest.mark.parametrize("count", [3, 20], ids=["fsync-each", "syncfs"])
def test_commit_puts_every_staged_file_in_place(tmp_path: Path, count: int) -> None:
    batch = WriteBatch()
    for i in range(count):
        path = tmp_path / f"f{i}"
        path.write_text("old\n")
        batch.owner = f"r{i}"
        batch.add(write_temp(str(path), f"new {i}\n".encode(), sync=False), str(path))
        # Staged, not in place: the old content is still what a reader sees.
        assert path.read_text() == "old\n"
    assert len(batch) == count
    assert batch.commit() == {}
    assert len(batch) == 0
    assert [(tmp_path / f"f{i}").read_text() for i in range(count)] == [
        f"new {i}\n" for i in range(count)
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"f{i}" for i in range(count))


@pytest.mark.parametrize("count", [2, 12], ids=["fsync-each", "syncfs"])
def test_a_rename_that_fails_fails_only_its_owner(tmp_path: Path, count: int) -> None:
    batch = WriteBatch()
    for i in range(count):
        batch.owner = f"r{i}"
        path = tmp_path / f"f{i}"
        batch.add(write_temp(str(path), b"new\n", sync=False), str(path))
    # Between staging and commit, something else put a non-empty directory at r0's path.
    (tmp_path / "f0").mkdir()
    (tmp_path / "f0" / "inside").write_text("x")
    failed = batch.commit()
    assert list(failed) == ["r0"]
    assert "cannot replace" in failed["r0"] and str(tmp_path / "f0") in failed["r0"]
    assert (tmp_path / "f0" / "inside").read_text() == "x"
    assert all((tmp_path / f"f{i}").read_text() == "new\n" for i in range(1, count))
    assert not [p for p in tmp_path.iterdir() if ".gitpuppet-" in p.name]


def test_drop_and_abort_delete_the_temp_files(tmp_path: Path) -> None:
    batch = WriteBatch()
    for owner in ("a", "b"):
        batch.owner = owner
        path = tmp_path / owner
        path.write_text("old\n")
        batch.add(write_temp(str(path), b"new\n", sync=False), str(path))
    batch.drop("a")
    assert len(batch) == 1
    assert len([p for p in tmp_path.iterdir() if ".gitpuppet-" in p.name]) == 1
    batch.abort()
    assert len(batch) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
    assert (tmp_path / "a").read_text() == (tmp_path / "b").read_text() == "old\n"


# ---------------------------------------------------------------- the applier with batches


def _ctx(tmp_path: Path) -> ApplyContext:
    return ApplyContext(state_dir=tmp_path / "state")


def test_staged_files_are_in_place_before_an_exec_reads_them(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    lines = "\n".join(
        f"""- file: {root}/f{i:02d}
  content: "value {i}\\n"
""".rstrip()
        for i in range(12)
    )
    make_repo(
        tmp_path / "repo",
        f"""\
{lines}
- exec: cat {root}/f00 {root}/f11 > {root}/seen
  shell: true
  creates: {root}/seen
""",
    )
    run = apply(tmp_path / "repo", tmp_path / "state")
    assert run.returncode == 2, run.stdout + run.stderr
    assert (root / "seen").read_text() == "value 0\nvalue 11\n"
    # Results are printed in apply order, although the files settled after being staged.
    changed = [
        line.split(":", 1)[1].rsplit(":", 1)[0]
        for line in run.stdout.splitlines()
        if line.startswith(("file:", "exec:"))
    ]
    assert changed == [f"{root}/f{i:02d}" for i in range(12)] + [
        f"cat {root}/f00 {root}/f11 > {root}/seen"
    ], run.stdout
    again = apply(tmp_path / "repo", tmp_path / "state")
    assert again.returncode == 0, again.stdout + again.stderr


def test_a_commit_failure_fails_the_resource_and_skips_its_dependents(tmp_path: Path) -> None:
    # A validate command that puts a directory where the file goes: the temp file is staged,
    # then the rename at commit fails. The file's dependent is skipped; the others converge.
    root = tmp_path / "root"
    root.mkdir()
    blocked = root / "blocked"
    first = make(
        "file",
        str(blocked),
        data=b"new\n",
        validate=f"sh -c 'mkdir {blocked} && touch {blocked}/x'",
    )
    later = [make("file", str(root / f"ok{i}"), data=b"ok\n") for i in range(3)]
    dependent = make("file", str(root / "after"), data=b"after\n")
    catalog = Catalog(
        "t", None, [first, *later, dependent], [Edge(first.ref, dependent.ref, EdgeKind.ORDER)], []
    )
    outcome = apply_catalog(catalog, _ctx(tmp_path))
    status = {str(r.ref): r for r in outcome.results}
    assert status[str(first.ref)].status == Status.FAILED
    assert "cannot replace" in status[str(first.ref)].message
    assert status[str(dependent.ref)].status == Status.SKIPPED
    assert [status[str(r.ref)].status for r in later] == [Status.CHANGED] * 3
    assert not (root / "after").exists()
    assert outcome.exit_code == 6
    assert [str(r.ref) for r in outcome.results] == [str(r.ref) for r in catalog.resources]


def test_a_failure_before_commit_removes_what_the_resource_staged(tmp_path: Path) -> None:
    # A recursive directory with a file it cannot write (its parent is a file): the other
    # staged files of that resource are dropped, not half-applied later.
    root = tmp_path / "root"
    root.mkdir()
    tree = make(
        "file",
        str(root / "tree"),
        ensure="directory",
        tree={"a": b"A", "b": b"B", "z": b"zzz", "z/bad": b"x"},
    )
    outcome = apply_catalog(Catalog("t", None, [tree], [], []), _ctx(tmp_path))
    assert outcome.results[0].status == Status.FAILED
    leftovers = [p for p in (root / "tree").rglob("*") if ".gitpuppet-" in p.name]
    assert leftovers == []


# ---------------------------------------------------------------- crash safety, backups

KILLED_RUN = """
import sys
from gitpuppet.apply.engine import apply_catalog
from gitpuppet.model import Catalog
from gitpuppet.contract import ApplyContext
from tests.integration.test_type_support import make
root, state, first, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
print("ready", flush=True)
for n in range(first, first + rounds):
    data = (f"new {n} " * 20000).encode()
    resources = [make("file", f"{root}/f{i:03d}", data=data, backup=False) for i in range(200)]
    apply_catalog(Catalog("t", None, resources, [], []), ApplyContext(state_dir=state))
"""


def test_sigkill_during_a_batched_run_leaves_each_file_old_or_new(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    old = b"old " * 40000
    for i in range(200):
        (root / f"f{i:03d}").write_bytes(old)
    rng = random.Random(20261121)
    contents: set[bytes] = set()
    for k in range(8):
        # Each child starts at rounds of its own, so its first round changes every file; the kill
        # comes a random time after its imports are done (under load they can take a second).
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLED_RUN, str(root), str(tmp_path / "state"), str(k * 1000)]
            + ["1000"],
            cwd=Path(__file__).resolve().parents[2],
            stdout=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        # Kill a random moment after its first round began to land (renames in flight or later).
        before = (root / "f000").read_bytes()[:12]
        deadline = time.monotonic() + 60
        while (root / "f000").read_bytes()[:12] == before and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.random() * 0.4)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL  # killed mid-run, not ended on its own
        for i in range(200):
            data = (root / f"f{i:03d}").read_bytes()
            unit = b" ".join(data.split(b" ", 2)[:2]) + b" "  # "old " or "new N "
            assert data == old or (unit.startswith(b"new ") and data == unit * 20000), i
            contents.add(unit)
    # The kills landed in different rounds: more than one content was observed.
    assert len(contents) > 1


def test_a_backup_whose_copy_never_arrived_is_not_listed(tmp_path: Path) -> None:
    store = BackupStore(tmp_path / "state")
    target = str(tmp_path / "f")
    store.save(target, b"one\n")
    batch = WriteBatch()
    batch.owner = "f"
    store.save(target, b"two\n", None, batch)
    # The run dies before the batch is committed: the index line is there, the copy is not.
    batch.abort()
    index = next((tmp_path / "state/backups/index").iterdir())
    assert [json.loads(line)["size"] for line in index.read_text().splitlines()] == [4, 4]
    assert [v.digest for v in store.versions(target)] == [store.versions(target)[0].digest]
    assert store.read(store.versions(target)[0]) == b"one\n"
    # Committed, both are listed, newest first.
    store.save(target, b"three\n", None, batch)
    assert batch.commit() == {}
    assert [store.read(v) for v in store.versions(target)] == [b"three\n", b"one\n"]
