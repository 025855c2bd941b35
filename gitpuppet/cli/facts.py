"""`gitpuppet facts`: the facts of this machine."""

from __future__ import annotations

import click

from gitpuppet.cli.app import App, common_options


@click.command(help="Print the facts of this machine (or of --facts F).")
@click.option("--facts", "facts_file", metavar="F.yaml", help="Print these facts instead.")
@click.option(
    "--facts-d", default="/etc/gitpuppet/facts.d", show_default=True, help="External facts folder."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common_options
def command(app: App, facts_file: str | None, facts_d: str, as_json: bool) -> None:
    import yaml

    from gitpuppet.facts import gather_facts

    facts = gather_facts(facts_d=facts_d, override_file=facts_file)
    if as_json:
        app.json(facts)
    else:
        app.out(yaml.safe_dump(facts, default_flow_style=False, sort_keys=True).rstrip())
