"""`gitpuppet validate [PATH]`: every file parsed, every declaration compiled (for a repo's CI)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click

from gitpuppet.cli.app import App, common_options
from gitpuppet.cli.common import inspect_facts, open_tree


@click.command(
    help="Check every file of a control repo and compile every declaration: exact names, the "
    "nodes of --facts-dir, and the examples: of patterns and default."
)
@click.argument("path", required=False)
@click.option("--repo", "repo", metavar="PATH", help="Control repo directory (same as PATH).")
@click.option(
    "--node", "nodes", multiple=True, metavar="N", help="Compile only these nodes (repeatable)."
)
@click.option("--facts", "facts_file", metavar="F.yaml", help="Facts for every node.")
@click.option(
    "--facts-dir",
    metavar="DIR",
    help="Per-node facts: DIR/<node>.yaml (or .yml, .json); each such node is compiled. Nodes "
    "without a file get --facts or this machine's built-in facts (validate runs no facts.d "
    "executable and reads no facts.d file).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="A declaration nothing compiled, a hierarchy level that cannot render and a data key "
    "for a parameter a class lacks are errors, not warnings.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Use modules from the cache only (default: fetch those missing; a network read).",
)
@click.option(
    "--state-dir",
    metavar="DIR",
    help="Cache modules in DIR/modules (default: ~/.cache/gitpuppet/modules).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@common_options
def command(
    app: App,
    path: str | None,
    repo: str | None,
    nodes: tuple[str, ...],
    facts_file: str | None,
    facts_dir: str | None,
    offline: bool,
    state_dir: str | None,
    strict: bool,
    as_json: bool,
) -> None:
    from gitpuppet.compile.factsdir import FactsDir
    from gitpuppet.compile.validate import validate_tree

    modules_root = Path(state_dir) / "modules" if state_dir else None
    tree = open_tree(app, path or repo, modules_root, offline)
    base: dict[str, Any] | None = None
    folder = FactsDir(Path(facts_dir)) if facts_dir else None
    names = folder.names() if folder else []

    def facts_for(name: str) -> dict[str, Any]:
        nonlocal base
        found = folder.file_for(name) if folder else None
        if found is not None:
            return inspect_facts(str(found))
        if base is None:
            # Built-in facts only: a CI run of validate reads no machine's facts.d, runs nothing.
            base = inspect_facts(facts_file, builtin_only=True)
        facts = dict(base)
        # Compile each node as if it were that machine: its own name facts.
        facts["fqdn"] = name
        facts["hostname"] = name.split(".")[0]
        facts["domain"] = name.partition(".")[2]
        return facts

    result = validate_tree(
        tree, facts_for, list(nodes) or None, facts_dir_names=names, strict=strict
    )
    if folder:
        result.errors[:0] = folder.problems
    if as_json:
        app.json(
            {
                "ok": result.ok,
                "files": result.files,
                "nodes": result.nodes,
                "declarations": [dataclasses.asdict(d) for d in result.declarations],
                "errors": result.errors,
                "warnings": result.warnings,
            }
        )
    else:
        for warning in result.warnings:
            app.out(f"warning: {warning}", err=True)
        for error in result.errors:
            app.out(f"error: {error}", err=True)
        status = "OK" if result.ok else f"{len(result.errors)} error(s)"
        app.info(
            f"{tree.label}: {result.files} files checked, {len(result.nodes)} node(s) compiled: {status}"
        )
    if not result.ok:
        raise SystemExit(1)
