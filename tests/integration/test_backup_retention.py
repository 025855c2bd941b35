"""Backup retention (`backups_keep`) and reports that count unchanged resources (issue 8 item 9)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from gitpuppet.backup import BackupStore
from gitpuppet.compile import DirTree
from gitpuppet.session import Retention, apply_tree
from tests.integration.helpers import FACTS, make_repo

DAY = 86400.0


def objects(store: BackupStore) -> set[str]:
    return {p.parent.name + p.name for p in (store.root / "objects").glob("*/*")}


def test_prune_keeps_the_newest_versions_per_path_and_removes_unreferenced_objects(
    tmp_path: Path,
) -> None:
    store = BackupStore(tmp_path / "state")
    digests = [store.save("/etc/a", f"v{i}".encode()) for i in range(5)]
    shared = store.save("/etc/b", b"v0")  # same content as /etc/a's oldest: one object
    assert shared == digests[0]
    assert store.prune(versions=2, max_age=90 * DAY) == 3
    assert [store.read(v) for v in store.versions("/etc/a")] == [b"v4", b"v3"]
    assert [store.read(v) for v in store.versions("/etc/b")] == [b"v0"]
    assert objects(store) == {digests[0], digests[3], digests[4]}  # v1 and v2 are gone
    assert store.prune(versions=2, max_age=90 * DAY) == 0  # nothing more to do


def test_prune_removes_versions_older_than_the_age_and_empty_indexes(tmp_path: Path) -> None:
    store = BackupStore(tmp_path / "state")
    store.save("/etc/old", b"ancient")
    store.save("/etc/new", b"recent")
    later = time.time() + 100 * DAY
    index = store._index("/etc/new")
    entry = json.loads(index.read_text())
    entry["time"] = later - DAY  # /etc/new was backed up a day before `later`
    index.write_text(json.dumps(entry) + "\n")
    assert store.prune(versions=10, max_age=90 * DAY, now=later) == 1
    assert store.versions("/etc/old") == [] and not store._index("/etc/old").exists()
    assert [store.read(v) for v in store.versions("/etc/new")] == [b"recent"]
    assert len(objects(store)) == 1


def run(repo: Path, state: Path, keep: Retention):  # type: ignore[no-untyped-def]
    return apply_tree(DirTree(repo), node="t.example.com", facts=FACTS, state_dir=state, keep=keep)


def test_each_run_applies_the_retention(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    state = tmp_path / "state"
    for i in range(5):
        conf.write_text(f"edited by hand {i}\n")
        make_repo(tmp_path / "repo", f"- file: {conf}\n  content: managed\n")
        run(tmp_path / "repo", state, Retention(backup_versions=3))
    store = BackupStore(state)
    assert [store.read(v) for v in store.versions(str(conf))] == [
        b"edited by hand 4\n",
        b"edited by hand 3\n",
        b"edited by hand 2\n",
    ]
    assert len(objects(store)) == 3


def test_reports_count_unchanged_resources_unless_asked(tmp_path: Path) -> None:
    (tmp_path / "same").write_text("same")
    repo = make_repo(
        tmp_path / "repo",
        f"- file: {tmp_path}/same\n  content: same\n- file: {tmp_path}/new\n  content: x\n",
    )
    state = tmp_path / "state"
    outcome = run(repo, state, Retention())
    assert outcome.report_path is not None
    report = json.loads(outcome.report_path.read_text())
    assert [r["ref"] for r in report["resources"]] == [f"file:{tmp_path}/new"]
    assert report["counts"]["unchanged"] == 1 and report["unchanged_listed"] is False
    listed = run(repo, state, Retention(report_unchanged=True))
    assert listed.report_path is not None
    report = json.loads(listed.report_path.read_text())
    assert [r["status"] for r in report["resources"]] == ["unchanged", "unchanged"]
    assert report["unchanged_listed"] is True
