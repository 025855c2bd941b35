"""A reports repo written by every node is untrusted: hostile entries are skipped or defused.

Each case is a branch a hostile (or broken) node could push; `fleet` must keep working, show the
good nodes, skip the bad entry with a warning, and never let markup or a terminal escape through.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pygit2
import pytest

from gitpuppet.fleet.fetch import Source, fetch_all
from gitpuppet.fleet.page import render_page
from gitpuppet.fleet.summary import MAX_SUMMARY_BYTES
from gitpuppet.fleet.view import build_view, read_reports
from tests.reportsrepo import open_repo, summary, write_node

XSS = '</script><script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
ESC = "\x1b]0;owned\x07\x1b[2J\r\u202eevil"


def fleet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitpuppet.cli", "fleet", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "GITPUPPET_CONFIG": "/nonexistent/config.yaml"},
    )


def hostile_repo(path: Path) -> pygit2.Repository:
    """One good node, one with markup and escapes in its texts, and a row of broken entries."""
    repo = open_repo(path)
    write_node(repo, "good1", summary("good1"))
    write_node(
        repo,
        "loud1",
        summary("loud1", 4, messages=[XSS, ESC], disabled=ESC, held=XSS),
        failures=[{"ref": XSS, "message": ESC + XSS, "file": "../../etc/passwd", "line": 1}],
        facts={XSS: ESC},
    )
    write_node(repo, "huge1", raw={"summary.json": b" " * (MAX_SUMMARY_BYTES + 1)})
    write_node(repo, "badjson1", raw={"summary.json": b"{not json"})
    write_node(repo, "deep1", raw={"summary.json": b"[" * 100000 + b"]" * 100000})
    write_node(repo, "liar1", summary("good1", 0))  # claims another node's name
    write_node(repo, "shape1", summary("shape1", counts=[1, 2]))
    write_node(repo, "code1", summary("code1", exit_code=99))
    write_node(repo, "when1", summary("when1", last_run="yesterday"))
    write_node(repo, "sha1", summary("sha1", commit="$(reboot)"))
    write_node(repo, "empty1")  # no summary.json at all
    write_node(repo, "<svg/onload=alert(1)>", summary("<svg/onload=alert(1)>"))
    write_node(repo, "a/b", summary("a/b"))
    write_node(repo, "bigfacts1", summary("bigfacts1"), raw={"facts.json": b"0" * (600 * 1024)})
    tree = repo.TreeBuilder().write()
    sig = pygit2.Signature("n", "n@example.com")
    blob = repo.create_blob(b"x")
    repo.references.create("refs/heads/nodes/blob1", blob)  # a ref to a blob, not a commit
    repo.create_commit("refs/heads/nodes/tree1", sig, sig, "m", tree, [])
    return repo


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    path = tmp_path / "reports.git"
    hostile_repo(path)
    return path


def test_bad_entries_are_skipped_with_a_warning(reports: Path) -> None:
    done = fleet("--reports-repo", f"file://{reports}", "--json")
    assert done.returncode == 0, done.stderr
    nodes = {n["node"]: n for n in json.loads(done.stdout)}
    assert sorted(nodes) == ["bigfacts1", "good1", "loud1"]
    assert nodes["bigfacts1"]["facts"] == {} and "at most" in nodes["bigfacts1"]["facts_note"]
    assert nodes["loud1"]["messages"] == [XSS, ESC]  # JSON carries the text as it was
    warnings = done.stderr
    for name, why in [
        ("huge1", "bytes (at most"),
        ("badjson1", "not valid JSON"),
        ("deep1", "not valid JSON"),
        ("liar1", "names node 'good1'"),
        ("shape1", "counts is not an object"),
        ("code1", "exit_code 99"),
        ("when1", "not an ISO 8601 time"),
        ("sha1", "commit is not a commit id"),
        ("empty1", "has no summary.json"),
        ("tree1", "has no summary.json"),
        ("blob1", "not a commit"),
        ("'<svg/onload=alert(1)>'", "not a valid node name"),
        ("'a/b'", "not a valid node name"),
    ]:
        assert f"warning: nodes/{name}: " in warnings and why in warnings, (name, warnings)
    assert "Traceback" not in warnings


def test_terminal_output_has_no_escapes(reports: Path) -> None:
    done = fleet("--reports-repo", f"file://{reports}", "-v")
    assert done.returncode == 0, done.stderr
    for stream in (done.stdout, done.stderr):
        assert "\x1b" not in stream and "\r" not in stream and "\u202e" not in stream
        assert "\x07" not in stream
    assert "disabled: ?]0;owned??[2J??evil" in done.stdout


def test_page_carries_no_markup_from_nodes(reports: Path, tmp_path: Path) -> None:
    """The page's only <script> elements are its own two; node text is escaped JSON data."""
    fetched = fetch_all(Source(f"file://{reports}"), tmp_path / "cache")
    reports_list, warnings = read_reports(fetched.repos)
    assert "loud1" in [r.node for r in reports_list]
    page = render_page(build_view(reports_list))
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert "<img" not in page and "<svg" not in page
    assert "\\u003c/script\\u003e\\u003cscript\\u003ewindow.pwned=1" in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch: no CDN
