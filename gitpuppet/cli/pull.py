"""`gitpuppet pull`: fetch, choose and verify; print the commit a run would apply."""

from __future__ import annotations

import click

from gitpuppet.cli.app import App, common_options


@click.command(help="Fetch and show the newest commit this node may apply (nothing is applied).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@common_options
def command(app: App, as_json: bool) -> None:
    """Exit 0 with a commit to apply, 4 when the pull or the verification failed."""
    from gitpuppet.agent.lock import run_lock
    from gitpuppet.agent.run import open_node_repo, pull, resolve_node
    from gitpuppet.config import load_config
    from gitpuppet.facts import gather_facts
    from gitpuppet.redact import redact_url

    config = load_config(app.config_path)
    facts = gather_facts(facts_d=config.facts_d) if not config.node_name else {}
    node = resolve_node(config, facts)
    with run_lock(config.lock_file):
        repo = open_node_repo(config)
        pulled = pull(repo, config, node)
    code = 0 if pulled.candidate else 4
    if as_json:
        app.json(
            {
                "node": node,
                "commit": pulled.candidate,
                "head": pulled.head,
                "url": redact_url(pulled.fetch.url) if pulled.fetch else None,
                "messages": [redact_url(m) for m in pulled.messages],
            }
        )
        raise SystemExit(code)
    for message in pulled.messages:
        app.out(f"warning: {redact_url(message)}", err=True)
    if pulled.candidate:
        summary = repo.commit_summary(pulled.candidate)
        app.out(f"{pulled.candidate} {summary}".rstrip())
    raise SystemExit(code)
