"""sample-repo is documentation: every node must compile, to the catalog it describes."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

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


# -- validate --strict guards every class under every declaration (issue 9, "Done when") ------

CLASS_FILES = sorted(str(p.relative_to(REPO)) for p in (REPO / "classes").rglob("*.yaml"))
ENTRY = re.compile(r"^(  - )([a-z][a-z0-9_.]*)(:)", re.MULTILINE)


def _entries(rel: str) -> list[int]:
    return [m.start() for m in ENTRY.finditer((REPO / rel).read_text())]


def _typo(root: Path, rel: str, index: int = 0) -> int:
    """Misspell the type of the `index`th resource entry of a class file; its line number."""
    path = root / rel
    body = path.read_text()
    m = list(ENTRY.finditer(body))[index]
    path.write_text(body[: m.start(2)] + m.group(2) + "x" + body[m.end(2) :])
    return body[: m.start()].count("\n") + 1


def _strict(root: Path) -> list[str]:
    return validate_tree(DirTree(root), lambda name: {**DEBIAN, "fqdn": name}, strict=True).errors


def test_validate_strict_passes() -> None:
    assert _strict(REPO) == []


@pytest.mark.parametrize(
    "rel,index", [(rel, i) for rel in CLASS_FILES for i in range(len(_entries(rel)))]
)
def test_a_typo_in_any_class_entry_fails_validate(tmp_path: Path, rel: str, index: int) -> None:
    root = tmp_path / "repo"
    shutil.copytree(REPO, root)
    line = _typo(root, rel, index)
    errors = _strict(root)
    assert any(f"{rel}:{line}: unknown resource type or define" in e for e in errors), errors


DECLARATIONS = [
    (str(p.relative_to(REPO)), key)
    for p in sorted((REPO / "nodes").glob("*.yaml"))
    for key in yaml.safe_load(p.read_text())
]


@pytest.mark.parametrize("nodes_file,key", DECLARATIONS)
def test_a_typo_under_any_declaration_fails_validate(
    tmp_path: Path, nodes_file: str, key: str
) -> None:
    """Only this declaration is left; each class it reaches, typo'd, fails validate --strict."""
    root = tmp_path / "repo"
    shutil.copytree(REPO, root)
    for p in (root / "nodes").glob("*.yaml"):
        kept = {k: v for k, v in yaml.safe_load(p.read_text()).items() if k == key}
        p.write_text(yaml.safe_dump(kept) if kept and p.name == Path(nodes_file).name else "{}\n")
    assert _strict(root) == []
    result = validate_tree(DirTree(root), lambda name: {**DEBIAN, "fqdn": name}, strict=True)
    (decl,) = result.declarations
    node = decl.compiled[0].node
    classes = compile_catalog(DirTree(root), node, {**DEBIAN, "fqdn": node}).classes
    assert classes
    for klass in classes:
        rel = next(
            r
            for r in CLASS_FILES
            if r[len("classes/") : -5].replace("/", ".") in (klass, f"{klass}.init")
        )
        copy = tmp_path / f"typo-{klass}"
        shutil.copytree(root, copy)
        line = _typo(copy, rel)
        errors = _strict(copy)
        assert any(f"{rel}:{line}:" in e for e in errors), (klass, errors)
