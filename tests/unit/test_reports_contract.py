"""The reports-repo contract's pure parts: shard formula, URLs, config checks, what a halt is."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from gitpuppet.agent.record import RunEnd
from gitpuppet.agent.reports import failed_commit, shard_of, urls_for
from gitpuppet.agent.reports_git import ReportsUnavailable, halt_ref, node_ref
from gitpuppet.config import AgentConfig, parse_config
from gitpuppet.errors import ConfigError

pytestmark = pytest.mark.unit
C1, C2 = "a" * 40, "b" * 40


@pytest.mark.parametrize("node", ["web-1.example.com", "db7", "x"])
def test_shard_is_the_documented_formula(node: str) -> None:
    want = int(hashlib.sha256(node.encode()).hexdigest()[:8], 16) % 16
    assert shard_of(node, 16) == want
    config = AgentConfig(reports_repo="ssh://git@h/r-{shard}.git", reports_shards=16)
    urls = urls_for(config, node)
    assert (urls.node, urls.halt) == (f"ssh://git@h/r-{want}.git", "ssh://git@h/r-halt.git")


def test_one_shard_is_one_repository() -> None:
    urls = urls_for(AgentConfig(reports_repo="file:///r.git"), "web-1")
    assert urls.node == urls.halt == "file:///r.git"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("reports:\n  repo: ssh://h/r.git\n  shards: 4\n", [":2:", "need '{shard}'"]),
        ("reports:\n  repo: ssh://h/r-{shard}.git\n", [":2:", "no 'shards'"]),
        ("reports:\n  repo: ssh://h/r-{shard}.git\n  shards: 0\n", [":3:", "at least 1"]),
    ],
)
def test_bad_shard_settings_name_the_line(text: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(text, Path("/etc/gitpuppet/config.yaml"))
    assert all(w in str(err.value) for w in words), str(err.value)


def test_shards_are_read() -> None:
    text = "reports:\n  repo: ssh://h/r-{shard}.git\n  shards: 16\n"
    assert parse_config(text, Path("/c.yaml")).reports_shards == 16


@pytest.mark.parametrize("name", ["a:b", "../x", "a/../b", "a..b", "-x", "a b", "x*", ""])
def test_node_names_that_are_no_branch_name_are_refused(name: str) -> None:
    with pytest.raises(ReportsUnavailable):
        node_ref(name)


def test_halt_ref_needs_a_full_commit_id() -> None:
    assert halt_ref(C1, "web-1") == f"refs/heads/halt/{C1}/web-1"
    with pytest.raises(ReportsUnavailable):
        halt_ref("abc123", "web-1")


@pytest.mark.parametrize(
    ("end", "halt"),
    [
        (RunEnd(0, 4, "n", commit=C2, tried=C1), C1),  # C1 did not compile: fell back to C2
        (RunEnd(0, 1, "n", commit=None, tried=C1), C1),  # nothing to fall back to
        (RunEnd(0, 0, "n", commit=C1, tried=C1), None),
        (RunEnd(0, 4, "n", commit=C2, tried=None), None),  # the fetch failed: nothing tried
        (RunEnd(0, 3, "n", tried=None, disabled=True), None),
    ],
)
def test_what_counts_as_a_failed_run_of_a_commit(end: RunEnd, halt: str | None) -> None:
    assert failed_commit(end) == halt
