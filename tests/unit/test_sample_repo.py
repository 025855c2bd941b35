"""sample-repo is documentation: every node must compile, to the catalog it describes."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitpuppet.compile import DirTree, compile_catalog, lookup_value
from gitpuppet.compile.validate import validate_tree

REPO = Path(__file__).resolve().parents[2] / "sample-repo"
DEBIAN = {
    "fqdn": "x",
    "os": {"name": "Debian", "family": "Debian", "release": {"full": "12.5", "major": "12"}},
}
REDHAT = {
    "fqdn": "x",
    "os": {"name": "Rocky", "family": "RedHat", "release": {"full": "9.3", "major": "9"}},
}


@pytest.mark.parametrize(
    "node,kind,expected",
    [
        ("web01.example.com", "exact", ["file:/etc/motd", "service:nginx", "nginx.vhost"]),
        ("web02.example.com", "exact", ["file:/etc/nginx/sites-enabled/shop.example.com"]),
        (
            "db01.example.com",
            "exact",
            ["package:postgresql-15", "cron:pg-dump", "exec:create-app-database"],
        ),
        (
            "web7.staging.example.com",
            "regex",
            ["file:/etc/nginx/sites-available/staging.example.com"],
        ),
        ("pc3.lab.example.com", "glob", ["file:/etc/motd", "host:gw.example.com"]),
        ("laptop.example.com", "default", ["user:alice", "line:PermitRootLogin no"]),
    ],
)
def test_every_node_compiles(node: str, kind: str, expected: list[str]) -> None:
    cat = compile_catalog(DirTree(REPO), node, DEBIAN)
    assert cat.match_kind == kind
    refs = {str(r.ref) for r in cat.resources} | {r.define or "" for r in cat.resources}
    for ref in expected:
        assert any(x == ref or x.startswith(ref + ":") for x in refs), (ref, sorted(refs))


def test_data_hierarchy_levels() -> None:
    tree = DirTree(REPO)
    assert lookup_value(tree, "web01.example.com", DEBIAN, "web.workers") == 16  # node level
    assert lookup_value(tree, "web02.example.com", DEBIAN, "web.workers") == 4  # role level
    assert (
        lookup_value(tree, "db01.example.com", REDHAT, "base.packages")[1] == "vim-enhanced"
    )  # os level
    hosts = lookup_value(
        tree, "web01.example.com", DEBIAN, "hosts"
    )  # unique merge via lookup_options
    assert [h["name"] for h in hosts] == ["db01.example.com", "gw.example.com"]


def test_templates_render_with_params_and_match() -> None:
    cat = compile_catalog(DirTree(REPO), "web7.staging.example.com", DEBIAN)
    by = cat.by_ref()
    conf = next(r for ref, r in by.items() if str(ref) == "file:/etc/nginx/nginx.conf")
    assert b"worker_processes 4;" in conf.params.data
    vhost = next(
        r
        for ref, r in by.items()
        if str(ref) == "file:/etc/nginx/sites-available/staging.example.com"
    )
    assert b"staging web node number 7" in vhost.params.data
    web02 = compile_catalog(DirTree(REPO), "web02.example.com", DEBIAN)
    conf02 = next(r for r in web02.resources if r.title == "/etc/nginx/nginx.conf")
    assert b"worker_processes 8;" in conf02.params.data  # node mapping form beats data


def test_validate_passes() -> None:
    result = validate_tree(DirTree(REPO), lambda name: {**DEBIAN, "fqdn": name})
    assert result.ok, result.errors
    # The exact names, and the examples of the regex, the glob and default (issue 9).
    assert set(result.nodes) == {
        "web01.example.com",
        "web02.example.com",
        "db01.example.com",
        "web7.staging.example.com",
        "pc3.lab.example.com",
        "laptop.example.com",
    }


def test_motd_uses_facts_node_vars_and_data() -> None:
    cat = compile_catalog(DirTree(REPO), "web01.example.com", DEBIAN)
    motd = next(r for r in cat.resources if r.title == "/etc/motd")
    text = motd.params.data.decode()
    assert text.startswith("web01.example.com (Debian 12.5), role web\n")
    assert "web01: the busy one." in text  # node level of the hierarchy beats common.yaml
