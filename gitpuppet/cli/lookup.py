"""`gitpuppet lookup KEY`: a data lookup as a node sees it, with --explain."""

from __future__ import annotations

import click

from gitpuppet.cli.app import App, common_options
from gitpuppet.cli.common import inspect_facts, node_name, open_tree


@click.command(help="Look KEY up in the data hierarchy as node N sees it.")
@click.argument("key")
@click.option("--node", "node", metavar="N", help="Node name (default: this machine's).")
@click.option(
    "--repo", "repo", metavar="PATH", help="Control repo directory (default: the agent's checkout)."
)
@click.option(
    "--facts",
    "facts_file",
    metavar="F.yaml",
    help="Use these facts instead of this machine's (facts.d executables never run here).",
)
@click.option(
    "--merge", type=click.Choice(["first", "unique", "hash", "deep"]), help="Merge strategy."
)
@click.option("--explain", is_flag=True, help="Show every level tried.")
@click.option("--json", "as_json", is_flag=True, help="Print the value as JSON.")
@common_options
def command(
    app: App,
    key: str,
    node: str | None,
    repo: str | None,
    facts_file: str | None,
    merge: str | None,
    explain: bool,
    as_json: bool,
) -> None:
    import yaml

    from gitpuppet.compile import lookup_value

    tree = open_tree(app, repo)
    facts = inspect_facts(facts_file)
    name = node_name(node, facts, app.config_path)
    if explain:
        from gitpuppet.compile.data import LookupMiss

        try:
            value, trace = lookup_value(tree, name, facts, key, merge=merge, explain=True)
        except LookupMiss as exc:
            if exc.trace is None or as_json:
                raise
            # Nothing found: every level tried is what the person needs to see.
            app.out(f"lookup of '{key}' for {name} (merge: {exc.trace.merge}): nothing found")
            for step in exc.trace.steps:
                app.out(f"  {step}")
            raise
        if as_json:
            app.json(
                {
                    "key": key,
                    "node": name,
                    "merge": trace.merge,
                    "levels": trace.steps,
                    "value": value,
                }
            )
            return
        app.out(f"lookup of '{key}' for {name} (merge: {trace.merge})")
        for step in trace.steps:
            app.out(f"  {step}")
        app.out("value:")
        app.out(
            "  "
            + yaml.safe_dump(value, default_flow_style=False)
            .rstrip()
            .removesuffix("\n...")
            .replace("\n", "\n  ")
        )
        return
    value = lookup_value(tree, name, facts, key, merge=merge)
    if as_json:
        app.json(value)
    else:
        app.out(yaml.safe_dump(value, default_flow_style=False).rstrip().removesuffix("\n..."))
