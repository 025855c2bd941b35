"""`gitpuppet facts`: the facts of this machine."""

from __future__ import annotations

from typing import Any

import click

from gitpuppet.cli.app import App, common_options


@click.command(help="Print the facts of this machine (or of --facts F).")
@click.option("--facts", "facts_file", metavar="F.yaml", help="Print these facts instead.")
@click.option(
    "--facts-d",
    metavar="DIR",
    help="External facts folder (default: facts_d of the agent config, /etc/gitpuppet/facts.d).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common_options
def command(app: App, facts_file: str | None, facts_d: str | None, as_json: bool) -> None:
    """Gather the facts and print them sorted, as YAML for a person or JSON for a script."""
    from gitpuppet.config import load_config
    from gitpuppet.facts import gather_facts

    if facts_d is None and facts_file is None:
        facts_d = str(load_config(app.config_path, required=False).facts_d)
    warnings: list[str] = []
    facts = gather_facts(facts_d=facts_d, override_file=facts_file, warnings=warnings)
    for warning in warnings:
        app.info(f"warning: {warning}")
    if as_json:
        app.json(_sorted(facts))
    else:
        app.out(format_facts(facts))


def format_facts(facts: dict[str, Any]) -> str:
    """Nested, sorted, readable: the YAML a person would write by hand (lists indented)."""
    import yaml

    class IndentedDumper(yaml.SafeDumper):
        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            # PyYAML puts a list's dashes level with its key; indent them under it instead.
            super().increase_indent(flow, False)

    return yaml.dump(
        facts,
        Dumper=IndentedDumper,
        default_flow_style=False,
        sort_keys=True,
        allow_unicode=True,
    ).rstrip()


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _sorted(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value
