"""`recurse` + `purge` as Puppet does (SPEC §3.2), through `gitpuppet apply` on real files: with
or without a source, never removing what another resource of the catalog manages (deeper down,
or a directory on the way to one), and a second run that changes and notifies nothing."""

from __future__ import annotations

import os
from pathlib import Path

from tests.integration.helpers import apply, make_repo


def _tree(top: Path) -> list[str]:
    return sorted(p.relative_to(top).as_posix() for p in top.rglob("*"))


def _scene(root: Path) -> Path:
    top = root / "conf.d"
    (top / "a/b").mkdir(parents=True)
    (top / "a/b/junk").write_text("junk")
    (top / "old/deep").mkdir(parents=True)
    (top / "old/deep/x.conf").write_text("x")
    (top / "stray.conf").write_text("stray")
    (top / "hand.conf").write_text("hand")
    (top / "repo/.git").mkdir(parents=True)
    (top / "repo/.git/HEAD").write_text("ref: refs/heads/main\n")
    return top


def test_purge_without_source_keeps_what_the_catalog_manages(
    env: tuple[Path, Path, Path],
) -> None:
    root, repo, state = env
    top = _scene(root)
    counter = root / "notified"
    make_repo(
        repo,
        f"""\
        - file: {top}
          ensure: directory
          recurse: true
          purge: true
          notify: exec:count
        - file: {top}/keep.conf
          content: "kept\\n"
        - file: {top}/a/b/deep.conf
          content: "deep\\n"
        - line: "x = 1"
          path: {top}/hand.conf
        - cron: job
          command: /bin/true
        - exec: count
          command: /bin/sh -c 'echo run >> {counter}'
          refreshonly: true
        """,
    )
    # A directory whose contents another resource owns (recurse) is left whole.
    extra = repo / "classes/main.yaml"
    extra.write_text(
        extra.read_text() + f"  - file: {top}/repo\n    ensure: directory\n    recurse: true\n"
    )
    first = apply(repo, state)
    assert first.returncode == 2, first.stdout + first.stderr
    assert _tree(top) == [
        "a",
        "a/b",
        "a/b/deep.conf",
        "hand.conf",
        "keep.conf",
        "repo",
        "repo/.git",
        "repo/.git/HEAD",
    ]
    assert (top / "hand.conf").read_text() == "hand\nx = 1\n"
    assert counter.read_text() == "run\n"
    assert "a/b/junk" in first.stdout and "old, " in first.stdout, first.stdout
    second = apply(repo, state)
    assert second.returncode == 0, second.stdout + second.stderr
    assert counter.read_text() == "run\n"  # nothing changed, nothing notified


def test_purge_with_source_lets_the_explicit_resource_win(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    top = root / "site"
    top.mkdir()
    (top / "stale.html").write_text("old")
    make_repo(
        repo,
        f"""\
        - file: {top}
          ensure: directory
          source: site
          recurse: true
          purge: true
        - file: {top}/index.html
          content: "explicit\\n"
        - file: {top}/css
          ensure: directory
        - file: {top}/css/local.css
          content: "local\\n"
        """,
        {"files/site/index.html": "from source\n", "files/site/css/main.css": "body{}\n"},
    )
    first = apply(repo, state)
    assert first.returncode == 2, first.stdout + first.stderr
    assert _tree(top) == ["css", "css/local.css", "css/main.css", "index.html"]
    assert (top / "index.html").read_text() == "explicit\n"
    second = apply(repo, state)
    assert second.returncode == 0, second.stdout + second.stderr  # no flip-flop between the two


def test_purge_keeps_a_managed_path_that_tags_left_out(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    top = root / "d"
    top.mkdir()
    (top / "other.conf").write_text("mine\n")
    (top / "junk").write_text("junk")
    make_repo(
        repo,
        f"""\
        - file: {top}
          ensure: directory
          recurse: true
          purge: true
          tags: [purger]
        - file: {top}/other.conf
          content: "mine\\n"
        """,
    )
    proc = apply(repo, state, "--tags", "purger")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert _tree(top) == ["other.conf"]


def test_purge_never_follows_a_link_planted_as_a_managed_parent(
    env: tuple[Path, Path, Path],
) -> None:
    """The attack: where the catalog manages top/a/b.conf, someone makes top/a a link to a
    directory of secrets; purge keeps the link's name (it is on the way to a managed path) but
    never looks or deletes through it."""
    root, repo, state = env
    top = root / "d"
    top.mkdir()
    vault = root / "vault"
    vault.mkdir()
    (vault / "secret").write_text("s3cret")
    os.symlink(vault, top / "a")
    make_repo(
        repo,
        f"""\
        - file: {top}
          ensure: directory
          recurse: true
          purge: true
        - file: {top}/a/b.conf
          content: "b\\n"
          tags: [later]
        """,
    )
    apply(repo, state)
    assert (vault / "secret").read_text() == "s3cret"
    assert sorted(os.listdir(vault)) in (["secret"], ["b.conf", "secret"])
