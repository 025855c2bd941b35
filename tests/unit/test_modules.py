"""modules.yaml checks (file:line, the fix) and compiling with module trees (SPEC §9): names,
templates, files, module data as the lowest level and only for the module's own keys."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gitpuppet.compile import compile_catalog, lookup_value
from gitpuppet.compile.modspec import load_modules
from gitpuppet.compile.source import DirTree, ModularTree, module_of
from gitpuppet.errors import GitpuppetError, SourceError

pytestmark = pytest.mark.unit

FACTS = {"fqdn": "n.example.com", "os": {"family": "Debian"}}
BAD_ENTRIES = {
    "bad name": ("Ntp: {url: 'file:///m', ref: v1}", "1: bad module name 'Ntp'"),
    "dotdot name": ("'../x': {url: 'file:///m', ref: v1}", "bad module name '../x'"),
    "unknown key": ("ntp:\n  url: file:///m\n  rev: v1", "3: unknown key 'rev' in module 'ntp'"),
    "did you mean": ("ntp: {url: 'file:///m', reff: v1}", "did you mean 'ref'"),
    "no url": ("ntp: {ref: v1}", "module 'ntp' needs a url"),
    "scheme": ("ntp: {url: 'ftp://h/m.git', ref: v1}", "URL scheme 'ftp' is not supported"),
    "ext transport": ("ntp: {url: 'ext::sh -c id', ref: v1}", "is not supported"),
    "number ref": ("ntp: {url: 'file:///m', ref: 1.5}", "is a number (1.5)"),
    "short id": ("ntp: {url: 'file:///m', ref: 3f9c2e1d}", "looks like a short commit id"),
    "ref dotdot": ("ntp: {url: 'file:///m', ref: 'a..b'}", "is not a tag, branch or commit id"),
    "full ref": ("ntp: {url: 'file:///m', ref: refs/heads/x}", "is not a tag, branch"),
    "not a mapping": ("ntp: file:///m", "must be a mapping with url and ref"),
    "newline url": ('ntp: {url: "file:///m\\nx", ref: v1}', "control character"),
}


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


@pytest.mark.parametrize("text,said", list(BAD_ENTRIES.values()), ids=list(BAD_ENTRIES))
def test_bad_modules_yaml_is_an_error_at_its_line(tmp_path: Path, text: str, said: str) -> None:
    tree = DirTree(write(tmp_path, {"modules.yaml": text + "\n"}))
    with pytest.raises(SourceError) as err:
        load_modules(tree)
    assert str(err.value).startswith("modules.yaml:") and said in str(err.value)


def test_good_modules_yaml(tmp_path: Path) -> None:
    sha = "a" * 40
    text = f"ntp: {{url: 'ssh://git@h/ntp.git', ref: v1.4.0}}\nusers: {{url: 'git@h:u.git', ref: {sha}}}\n"
    specs = load_modules(DirTree(write(tmp_path, {"modules.yaml": text})))
    assert [(s.name, s.ref, s.is_commit, s.pos.line) for s in specs] == [
        ("ntp", "v1.4.0", False, 1),
        ("users", sha, True, 2),
    ]


def site_and_module(tmp_path: Path, site_files: dict[str, str]) -> ModularTree:
    module = write(
        tmp_path / "ntp",
        {
            "classes/init.yaml": "include: [ntp.server]\n",
            "classes/server.yaml": """\
                params: {servers: ~}
                resources:
                  - file: /etc/ntp.conf
                    template: ntp:ntp.conf.j2
                  - ntp.peer: p1
                """,
            "defines/peer.yaml": "resources:\n  - file: '/etc/ntp/{{ title }}'\n    source: ntp:peer\n",
            "templates/ntp.conf.j2": "servers={{ servers | join(',') }}\n",
            "files/peer": "peer file\n",
            "data/common.yaml": """\
                ntp: {server: {servers: [a, b]}}
                admin_users: [mallory]
                lookup_options: {admin_users: {merge: unique}}
                """,
        },
    )
    site = DirTree(write(tmp_path / "site", site_files))
    return ModularTree(site, {"ntp": DirTree(module)}, {"ntp": "c" * 40})


def test_module_classes_defines_templates_files_and_data(tmp_path: Path) -> None:
    tree = site_and_module(tmp_path, {"nodes.yaml": "n.example.com: {classes: [ntp]}\n"})
    cat = compile_catalog(tree, "n.example.com", FACTS)
    by_title = {r.title: r for r in cat.resources}
    assert by_title["/etc/ntp.conf"].params.data == b"servers=a,b\n"  # type: ignore[attr-defined]
    assert by_title["/etc/ntp/p1"].params.data == b"peer file\n"  # type: ignore[attr-defined]
    assert str(by_title["/etc/ntp.conf"].pos) == "ntp:classes/server.yaml:3"
    assert module_of(by_title["/etc/ntp/p1"].pos.file) == "ntp"
    assert cat.classes == ["ntp", "ntp.server"]


def test_module_data_cannot_set_or_merge_into_the_sites_keys(tmp_path: Path) -> None:
    """An attack: a module's data adding itself to a merged admin list of the site."""
    tree = site_and_module(
        tmp_path,
        {
            "nodes.yaml": "n.example.com: {classes: [ntp]}\n",
            "data/common.yaml": "admin_users: [alice]\nlookup_options: {admin_users: {merge: first}}\n",
        },
    )
    assert lookup_value(tree, "n.example.com", FACTS, "admin_users", merge="unique") == ["alice"]
    assert lookup_value(tree, "n.example.com", FACTS, "admin_users") == ["alice"]
    with pytest.raises(GitpuppetError, match="found nothing"):
        lookup_value(
            site_and_module(tmp_path / "b", {"nodes.yaml": "n.example.com: {}\n"}),
            "n.example.com",
            FACTS,
            "admin_users",
        )
    # Its own keys it answers, below every level of the site.
    assert lookup_value(tree, "n.example.com", FACTS, "ntp.server.servers") == ["a", "b"]


def test_site_data_overrides_module_data(tmp_path: Path) -> None:
    tree = site_and_module(
        tmp_path,
        {
            "nodes.yaml": "n.example.com: {classes: [ntp]}\n",
            "data/common.yaml": "ntp: {server: {servers: [site]}}\n",
        },
    )
    cat = compile_catalog(tree, "n.example.com", FACTS)
    conf = next(r for r in cat.resources if r.title == "/etc/ntp.conf")
    assert conf.params.data == b"servers=site\n"  # type: ignore[attr-defined]


def test_unknown_module_class_suggests_the_modules_names(tmp_path: Path) -> None:
    tree = site_and_module(tmp_path, {"nodes.yaml": "n.example.com: {classes: [ntp.sever]}\n"})
    with pytest.raises(SourceError, match="did you mean 'ntp.server'"):
        compile_catalog(tree, "n.example.com", FACTS)


@pytest.mark.parametrize("name", ["ntp:../site/x", "ntp:a/../../x", "ntp:./x"])
def test_module_paths_cannot_leave_the_module(tmp_path: Path, name: str) -> None:
    tree = site_and_module(tmp_path, {})
    with pytest.raises((SourceError, FileNotFoundError)):
        tree.read_bytes(name)


def test_a_module_dir_link_out_of_its_tree_is_refused(tmp_path: Path) -> None:
    tree = site_and_module(tmp_path, {"secret": "site only\n"})
    (tmp_path / "ntp/templates/leak").symlink_to(tmp_path / "site/secret")
    with pytest.raises(SourceError, match="symlink leaves the repository"):
        tree.read_bytes("templates/ntp:leak")
