"""The host type, table-driven: hosts file in, hosts file out; then on real files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from gitpuppet.contract import ApplyContext
from tests.integration import test_type_support as support
from tests.integration.test_type_support import changes_of, converge, make

ctx = support.ctx

BASE = "# static table\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"

# (case id, text before, title, attributes, text after)
CASES: list[tuple[str, str, str, dict[str, Any], str]] = [
    (
        "append a new entry",
        BASE,
        "db",
        {"ip": "10.0.0.5", "aliases": ["db.example.com"]},
        BASE + "10.0.0.5\tdb\tdb.example.com\n",
    ),
    (
        "replace the line whose canonical name is the title, keep its comment",
        "10.0.0.1 db db.old  # the database\n127.0.0.1 localhost\n",
        "db",
        {"ip": "10.0.0.5"},
        "10.0.0.5\tdb\t# the database\n127.0.0.1 localhost\n",
    ),
    (
        "already right, spacing kept as written",
        "10.0.0.5    db   db.example.com\n",
        "db",
        {"ip": "10.0.0.5", "aliases": ["db.example.com"]},
        "10.0.0.5    db   db.example.com\n",
    ),
    (
        "an alias elsewhere is not the canonical name",
        "10.0.0.9 other db\n",
        "db",
        {"ip": "10.0.0.5"},
        "10.0.0.9 other db\n10.0.0.5\tdb\n",
    ),
    (
        "duplicates collapse to one line",
        "10.0.0.1 db\n10.0.0.2 db\n",
        "db",
        {"ip": "10.0.0.3"},
        "10.0.0.3\tdb\n",
    ),
    (
        "absent removes every line for the name",
        "# keep\n10.0.0.1 db\n127.0.0.1 localhost\n10.0.0.2 db x\n",
        "db",
        {"ensure": "absent"},
        "# keep\n127.0.0.1 localhost\n",
    ),
    ("absent when not there", BASE, "db", {"ensure": "absent"}, BASE),
    (
        "a commented-out entry is not an entry",
        "# 10.0.0.1 db\n",
        "db",
        {"ip": "10.0.0.1"},
        "# 10.0.0.1 db\n10.0.0.1\tdb\n",
    ),
    (
        "no final newline, unchanged",
        "10.0.0.1\tdb",
        "db",
        {"ip": "10.0.0.1"},
        "10.0.0.1\tdb",
    ),
    ("empty file", "", "db", {"ip": "fd00::5"}, "fd00::5\tdb\n"),
]


@pytest.mark.parametrize(
    ("before", "title", "attrs", "after"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_host_cases(
    tmp_path: Path,
    ctx: ApplyContext,
    before: str,
    title: str,
    attrs: dict[str, Any],
    after: str,
) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text(before)
    res = make("host", title, target=str(hosts), **attrs)
    changes = converge(res, ctx)
    assert hosts.read_text() == after
    assert bool(changes) is (before != after)
    assert changes_of(res, ctx) == []


def test_missing_hosts_file_is_created(tmp_path: Path, ctx: ApplyContext) -> None:
    hosts = tmp_path / "hosts"
    converge(make("host", "db", target=str(hosts), ip="10.0.0.5"), ctx)
    assert hosts.read_text() == "10.0.0.5\tdb\n"
    assert os.stat(hosts).st_mode & 0o777 == 0o644


def test_mode_is_kept(tmp_path: Path, ctx: ApplyContext) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text(BASE)
    os.chmod(hosts, 0o600)
    converge(make("host", "db", target=str(hosts), ip="10.0.0.5"), ctx)
    assert os.stat(hosts).st_mode & 0o777 == 0o600


def test_a_linked_hosts_file_is_edited_through_the_link(tmp_path: Path, ctx: ApplyContext) -> None:
    real = tmp_path / "real-hosts"
    real.write_text(BASE)
    link = tmp_path / "hosts"
    link.symlink_to(real)
    converge(make("host", "db", target=str(link), ip="10.0.0.5"), ctx)
    assert link.is_symlink()
    assert real.read_text() == BASE + "10.0.0.5\tdb\n"


def test_stale_temp_files_of_a_killed_writer_are_cleaned_on_the_next_write(
    tmp_path: Path, ctx: ApplyContext
) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text(BASE)
    stale = tmp_path / ".hosts.gitpuppet-abcd1234"
    fresh = tmp_path / ".hosts.gitpuppet-efgh5678"
    stale.write_text("left by a SIGKILL")
    fresh.write_text("maybe someone's, right now")
    os.utime(stale, (1, 1))
    converge(make("host", "db", target=str(hosts), ip="10.0.0.5"), ctx)
    assert not stale.exists() and fresh.exists()
