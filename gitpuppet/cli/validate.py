"""`gitpuppet validate [PATH]`: every file parsed, every named node compiled (for a repo's CI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gitpuppet.cli.app import App, common_options
from gitpuppet.cli.common import inspect_facts, open_tree


@click.command(help="Check every file of a control repo and compile every exactly named node.")
@click.argument("path", required=False)
@click.option("--repo", "repo", metavar="PATH", help="Control repo directory (same as PATH).")
@click.option(
    "--node", "nodes", multiple=True, metavar="N", help="Compile only these nodes (repeatable)."
)
@click.option("--facts", "facts_file", metavar="F.yaml", help="Facts for every node.")
@click.option(
    "--facts-dir",
    metavar="DIR",
    help="Per-node facts: DIR/<node>.yaml or .json, else --facts or this machine's built-in "
    "facts (validate runs no facts.d executable and reads no facts.d file).",
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
    as_json: bool,
) -> None:
    from gitpuppet.compile.validate import validate_tree

    modules_root = Path(state_dir) / "modules" if state_dir else None
    tree = open_tree(app, path or repo, modules_root, offline)
    base: dict[str, Any] | None = None

    def facts_for(name: str) -> dict[str, Any]:
        nonlocal base
        if facts_dir:
            for ext in (".yaml", ".yml", ".json"):
                candidate = Path(facts_dir) / f"{name}{ext}"
                if candidate.is_file():
                    return inspect_facts(str(candidate))
        if base is None:
            # Built-in facts only: a CI run of validate reads no machine's facts.d, runs nothing.
            base = inspect_facts(facts_file, builtin_only=True)
        facts = dict(base)
        # Compile each node as if it were that machine: its own name facts.
        facts["fqdn"] = name
        facts["hostname"] = name.split(".")[0]
        facts["domain"] = name.partition(".")[2]
        return facts

    result = validate_tree(tree, facts_for, list(nodes) or None)
    if as_json:
        app.json(
            {
                "ok": result.ok,
                "files": result.files,
                "nodes": result.nodes,
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
