"""The fleet cache's parsed summaries: a repeat reads only the branches whose tip moved, and a
cache file is never trusted more than the git objects (a hostile or damaged one is ignored)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pygit2
import pytest

from gitpuppet.fleet.cache import CACHE_NAME, FORMAT, MAX_CACHE_BYTES, load
from gitpuppet.fleet.fetch import Source, fetch_all
from gitpuppet.fleet.read import ReadStats, read_reports
from gitpuppet.fleet.summary import parse_report, report_record
from tests.integration.test_fleet_hostile import XSS, hostile_repo
from tests.reportsrepo import open_repo, summary, write_node

pytestmark = pytest.mark.integration


def fleet_read(url: str, cache: Path, facts: bool = True) -> tuple[dict, list[str], ReadStats]:
    """Fetch into `cache`, read with the summary cache: reports by node, warnings, stats."""
    fetched = fetch_all(Source(url), cache)
    stats = ReadStats()
    reports, warnings = read_reports(fetched.repos, facts, use_cache=True, stats=stats)
    return {r.node: r for r in reports}, warnings, stats


def cache_files(cache: Path) -> list[Path]:
    return list(cache.glob(f"*.git/{CACHE_NAME}"))


@pytest.fixture
def five(tmp_path: Path) -> tuple[pygit2.Repository, str]:
    repo = open_repo(tmp_path / "reports.git")
    for i in range(5):
        write_node(repo, f"web{i}", summary(f"web{i}"), [], {"n": i})
    return repo, f"file://{tmp_path / 'reports.git'}"


def test_a_repeat_reads_only_the_branches_that_moved(five, tmp_path: Path) -> None:
    repo, url = five
    cache = tmp_path / "cache"
    first, _, stats = fleet_read(url, cache)
    assert (stats.read, stats.cached) == (5, 0) and first["web3"].facts == {"n": 3}
    again, _, stats = fleet_read(url, cache)
    assert (stats.read, stats.cached) == (0, 5)
    assert again == first  # the same reports, facts included (read from git)

    write_node(repo, "web2", summary("web2", 4), [{"ref": "file:/x", "message": "no"}], {"n": 9})
    moved, _, stats = fleet_read(url, cache)
    assert (stats.read, stats.cached) == (1, 4)
    assert moved["web2"].result == "failed" and moved["web2"].facts == {"n": 9}
    assert moved["web2"].failures[0].message == "no" and moved["web1"] == first["web1"]
    (path,) = cache_files(cache)
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_the_text_view_reads_no_facts(five, tmp_path: Path) -> None:
    reports, _, _ = fleet_read(five[1], tmp_path / "cache", facts=False)
    assert all(r.facts == {} and r.facts_note is None for r in reports.values())


def test_a_record_reads_back_as_the_same_report(tmp_path: Path) -> None:
    """What the cache keeps is summary.json's shape: parsing it gives the report back,
    hostile texts (cut, markup, escapes) included."""
    hostile_repo(tmp_path / "r.git")
    reports, _, _ = fleet_read(f"file://{tmp_path / 'r.git'}", tmp_path / "cache", facts=False)
    assert "loud1" in reports
    for r in reports.values():
        record = json.loads(json.dumps(report_record(r)))
        assert parse_report(r.node, record, record["failures"]) == r


def forge(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(path.read_text())
    change(data["entries"])
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "attack",
    [
        "another node's entry under this tip",
        "markup as the node name",
        "a bad exit code",
        "a summary that is not an object",
        "failures that are not a list",
        "an entry that is a list",
    ],
)
def test_a_forged_entry_is_refused_and_the_branch_read_from_git(
    five, tmp_path: Path, attack: str
) -> None:
    repo, url = five
    cache = tmp_path / "cache"
    good, _, _ = fleet_read(url, cache)
    (path,) = cache_files(cache)
    tip = str(repo.references["refs/heads/nodes/web1"].target)
    other = str(repo.references["refs/heads/nodes/web0"].target)

    def change(entries: dict) -> None:
        entry = entries[tip]
        if attack == "another node's entry under this tip":
            entries[tip] = entries[other]
        elif attack == "markup as the node name":
            entry["node"] = XSS
        elif attack == "a bad exit code":
            entry["exit_code"] = "0; rm -rf /"
        elif attack == "a summary that is not an object":
            entries[tip] = ["web1"]
        elif attack == "failures that are not a list":
            entry["failures"] = {"ref": XSS}
        else:
            entries[tip] = [1, 2]

    forge(path, change)
    again, warnings, stats = fleet_read(url, cache)
    assert again == good and warnings == []
    assert stats.read == 1 and stats.cached == 4  # web1 alone came from git again
    assert load(path).entries[tip]["node"] == "web1"  # and the entry is written right


@pytest.mark.parametrize(
    "damage",
    ["not json", "another format", "entries not an object", "a link", "too big", "world-writable"],
)
def test_a_damaged_or_planted_cache_file_is_ignored(five, tmp_path: Path, damage: str) -> None:
    _, url = five
    cache = tmp_path / "cache"
    good, _, _ = fleet_read(url, cache)
    (path,) = cache_files(cache)
    outside = tmp_path / "outside.json"
    outside.write_text(path.read_text())  # a well-formed cache, elsewhere
    if damage == "not json":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "another format":
        path.write_text(json.dumps({"format": "x", "entries": {}}))
    elif damage == "entries not an object":
        path.write_text(json.dumps({"format": FORMAT, "entries": [1]}))
    elif damage == "a link":
        path.unlink()
        path.symlink_to(outside)
    elif damage == "too big":
        with path.open("r+b") as f:
            f.truncate(MAX_CACHE_BYTES + 1)  # sparse: a cap checked after reading would show
    else:
        path.chmod(0o666)
    assert load(path).entries == {} and load(path).ignored
    again, warnings, stats = fleet_read(url, cache)
    assert again == good and warnings == []
    assert (stats.read, stats.cached) == (5, 0)
    assert not path.is_symlink() and outside.read_text() != ""  # replaced, not written through
    assert len(load(path).entries) == 5 and not load(path).ignored


def test_the_command_keeps_warning_about_bad_branches_on_a_repeat(tmp_path: Path) -> None:
    """Bad branches are not cached: every run reads and names them again."""
    hostile_repo(tmp_path / "reports.git")
    url = f"file://{tmp_path / 'reports.git'}"
    config = tmp_path / "config.yaml"
    config.write_text(f"repo: {url}\nstate_dir: {tmp_path / 'state'}\nreports: {{repo: '{url}'}}\n")
    env = {**os.environ, "GITPUPPET_CONFIG": str(config)}
    runs = [
        subprocess.run(
            [sys.executable, "-m", "gitpuppet.cli", "fleet", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )  # fmt: skip
        for args in ([], [], ["--json"])
    ]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert runs[0].stderr == runs[1].stderr == runs[2].stderr
    assert runs[0].stderr.count("warning: nodes/") == 13
    assert runs[0].stdout == runs[1].stdout
    assert cache_files(tmp_path / "state" / "fleet-cache")
    nodes = {n["node"]: n for n in json.loads(runs[2].stdout)}
    assert nodes["loud1"]["facts"] == {XSS: "\x1b]0;owned\x07\x1b[2J\r\u202eevil"}
