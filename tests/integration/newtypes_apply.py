"""Compile one class of resources into a catalog and apply it with the real applier: what the
tests of sysctl, mount, apt_source and ini_setting use. No tests here."""

from __future__ import annotations

from pathlib import Path

import yaml

from gitpuppet.apply.engine import ApplyOutcome, apply_catalog
from gitpuppet.compile import DirTree, compile_catalog
from gitpuppet.contract import ApplyContext

FACTS = {"fqdn": "test.example.com", "os": {"family": "Debian"}}


def apply_resources(
    work: Path,
    resources: list[dict[str, object]],
    *,
    noop: bool = False,
    files: dict[str, bytes] | None = None,
) -> ApplyOutcome:
    """Write a control repo under `work/repo` declaring `resources`, compile it, apply it."""
    repo = work / "repo"
    (repo / "classes").mkdir(parents=True, exist_ok=True)
    (repo / "nodes.yaml").write_text("test.example.com: {classes: [t]}\n")
    (repo / "classes" / "t.yaml").write_text(
        yaml.safe_dump({"resources": resources}, sort_keys=False)
    )
    for rel, data in (files or {}).items():
        (repo / "files" / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / "files" / rel).write_bytes(data)
    catalog = compile_catalog(DirTree(repo), "test.example.com", FACTS)
    ctx = ApplyContext(state_dir=work / "state", want_diff=True)
    return apply_catalog(catalog, ctx, noop=noop)


def statuses(outcome: ApplyOutcome) -> dict[str, str]:
    return {str(r.ref): str(r.status) for r in outcome.results}


def messages(outcome: ApplyOutcome) -> str:
    return "\n".join(f"{r.ref}: {r.status} {r.message}" for r in outcome.results)
