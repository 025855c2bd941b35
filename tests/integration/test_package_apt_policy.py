"""apt's `apt-cache policy` asked once per run for every package that needs the sources, and
asked again after a change that may have made its answers stale: real apt-get, apt-cache and
dpkg, a local repository on disk (tests/integration/debrepo.py), the calls counted through the
one command runner."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import gitpuppet.types.apt_source.type as apt_source
from gitpuppet.apply.engine import apply_catalog
from gitpuppet.command import CommandResult, run_command
from gitpuppet.compile import DirTree, compile_catalog
from gitpuppet.contract import ApplyContext
from gitpuppet.types.package import provider as package_provider
from gitpuppet.types.package.apt import PROVIDER as APT
from gitpuppet.types.package.apt import parse_policy
from tests.integration.debrepo import (
    PREFIX,
    DebPackage,
    LocalApt,
    apt_lock,
    build_deb,
    installed_version,
    purge_test_packages,
    write_index,
)
from tests.integration.newtypes_apply import FACTS, apply_resources, messages, statuses

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None,
        reason="needs apt-get and dpkg-deb (a Debian machine)",
    ),
]

A, B, C, D, E = (PREFIX + s for s in ("pol-a", "pol-b", "pol-c", "pol-d", "pol-e"))


@pytest.fixture
def apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalApt]:
    """A local repository apt sees alone; the test packages purged before and after."""
    local = LocalApt(tmp_path / "apt")
    monkeypatch.setenv("APT_CONFIG", str(local.conf))
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setattr(apt_source, "SOURCES_DIR", str(local.base / "etc" / "sources.list.d"))
    monkeypatch.setattr(apt_source, "KEYRING_DIR", str(tmp_path / "keyrings"))
    (tmp_path / "keyrings").mkdir()
    with apt_lock():
        purge_test_packages()
        try:
            yield local
        finally:
            purge_test_packages()


@pytest.fixture
def policy_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The names of every `apt-cache policy` call the package tools make, through the real
    runner."""
    calls: list[list[str]] = []

    def counting(argv: list[str], **kwargs: object) -> CommandResult:
        if list(argv[:2]) == ["apt-cache", "policy"]:
            calls.append(list(argv[2:]))
        return run_command(argv, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(package_provider, "run_command", counting)
    return calls


def _alone(name: str) -> str | None:
    """The candidate `apt-cache policy NAME` gives when asked about that name alone."""
    result = run_command(["apt-cache", "policy", name], env=package_provider.command_env())
    found = parse_policy(result.stdout).get(name)
    return found.candidate if found else None


@pytest.mark.integration
def test_one_policy_call_for_every_package_that_needs_it(
    tmp_path: Path, apt: LocalApt, policy_calls: list[list[str]]
) -> None:
    apt.publish(
        [
            DebPackage(A, "1.0"),
            DebPackage(B, "1.0"),
            DebPackage(B, "2.0"),
            DebPackage(C, "1.5"),
            DebPackage(D, "3.1"),
        ]
    )
    decl = [
        {"package": A},  # missing: its candidate is what the change names
        {"file": str(tmp_path / "between"), "content": "x\n"},
        {"package": B, "ensure": "latest"},
        {"package": C, "ensure": "1.5"},
        {"package": D},
        {"package": E, "ensure": "absent"},  # needs no candidate
    ]
    out = apply_resources(tmp_path, decl, noop=True)
    assert policy_calls == [sorted([A, B, C, D])], policy_calls
    want = {A: _alone(A), B: _alone(B), C: "1.5", D: _alone(D)}
    assert want == {A: "1.0", B: "2.0", C: "1.5", D: "3.1"}
    got = {
        r.ref.title: r.changes[0].new for r in out.results if r.changes and r.ref.type == "package"
    }
    assert got == want, messages(out)
    assert statuses(out)[f"package:{E}"] == "unchanged"
    applied = apply_resources(tmp_path, decl)
    assert set(statuses(applied).values()) == {"changed", "unchanged"}, messages(applied)
    del policy_calls[:]
    again = apply_resources(tmp_path, decl)  # converged: only `latest` needs the sources
    assert set(statuses(again).values()) == {"unchanged"}, messages(again)
    assert policy_calls == [[B]]


def _write_repo(work: Path, resources: list[dict[str, object]]) -> DirTree:
    repo = work / "repo"
    (repo / "classes").mkdir(parents=True, exist_ok=True)
    (repo / "nodes.yaml").write_text("test.example.com: {classes: [t]}\n")
    (repo / "classes" / "t.yaml").write_text(
        yaml.safe_dump({"resources": resources}, sort_keys=False)
    )
    return DirTree(repo)


def _second_repo(tmp_path: Path, packages: list[DebPackage]) -> Path:
    """Another flat repository (not in apt's sources yet) holding `packages`."""
    repo = tmp_path / "other"
    repo.mkdir()
    for pkg in packages:
        deb = build_deb(tmp_path, pkg)
        deb.rename(repo / deb.name)
    write_index(repo)
    return repo


@pytest.mark.integration
def test_candidate_read_before_an_apt_source_change_is_read_again(
    tmp_path: Path, apt: LocalApt, policy_calls: list[list[str]]
) -> None:
    apt.publish([DebPackage(A, "1.0")])
    newer = _second_repo(tmp_path, [DebPackage(A, "2.0")])
    ctx = ApplyContext(state_dir=tmp_path / "state")
    assert APT.available([A], ctx)[A].candidate == "1.0"  # type: ignore[union-attr]
    tree = _write_repo(
        tmp_path,
        [
            {"apt_source": "newer", "uris": f"file:{newer}", "suites": "./", "trusted": True},
            {"package": A, "ensure": "latest"},
        ],
    )
    out = apply_catalog(compile_catalog(tree, "test.example.com", FACTS), ctx)
    assert statuses(out) == {"apt_source:newer": "changed", f"package:{A}": "changed"}, messages(
        out
    )
    assert installed_version(A) == "2.0"
    assert [r.changes for r in out.results][1][0].new == "2.0"
    assert len(policy_calls) == 2, policy_calls  # before, and after the source changed


@pytest.mark.integration
def test_batch_read_before_an_apt_update_is_read_again_after_it(
    tmp_path: Path, apt: LocalApt, policy_calls: list[list[str]]
) -> None:
    """The first package asks about the later one too; an exec that adds a source and runs
    apt-get update between them makes that answer stale, so the later one is asked again."""
    apt.publish([DebPackage(A, "1.0"), DebPackage(B, "1.0")])
    newer = _second_repo(tmp_path, [DebPackage(B, "2.0")])
    listed = apt.base / "etc" / "sources.list.d" / "newer.list"
    script = f"echo 'deb [trusted=yes] file:{newer} ./' > {listed} && apt-get update -q"
    decl = [
        {"package": A},
        {
            "exec": "add-newer",
            "command": script,
            "shell": True,
            "creates": str(listed),
            "environment": {"APT_CONFIG": str(apt.conf)},
            "require": f"package:{A}",
        },
        {"package": B, "ensure": "latest", "require": "exec:add-newer"},
    ]
    out = apply_resources(tmp_path, decl)
    assert statuses(out) == {
        f"package:{A}": "changed",
        "exec:add-newer": "changed",
        f"package:{B}": "changed",
    }, messages(out)
    assert installed_version(B) == "2.0"
    assert policy_calls[0] == sorted([A, B]), policy_calls  # asked together at the first need
    assert policy_calls[-1] == [B]
