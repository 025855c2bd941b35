"""`gitpuppet apply [PATH]`: compile a control repo and converge this machine (puppet apply)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from gitpuppet.cli.app import App, common_options
from gitpuppet.cli.common import load_facts, node_name, open_tree

DEFAULT_STATE_DIR = "/var/lib/gitpuppet"
DEFAULT_RUN_DIR = "/run/gitpuppet"


@click.command(
    help="Compile the control repo at PATH (default: the agent's checkout) and converge."
)
@click.argument("path", required=False)
@click.option("--repo", metavar="PATH", help="Same as PATH.")
@click.option(
    "--node", "node", metavar="N", help="Node name (default: the config's, else the FQDN)."
)
@click.option(
    "--noop",
    is_flag=True,
    help="Change nothing; show what would change (exit 2 if anything would).",
)
@click.option("--tags", metavar="T,…", help="Only resources with one of these tags.")
@click.option("--diff", "show_diff", is_flag=True, help="Show unified diffs of content changes.")
@click.option(
    "--facts", "facts_file", metavar="F.yaml", help="Use these facts instead of this machine's."
)
@click.option(
    "--state-dir", metavar="D", help=f"Reports, backups and state (default {DEFAULT_STATE_DIR})."
)
@click.option(
    "--run-dir",
    metavar="D",
    envvar="GITPUPPET_RUN_DIR",
    help="Where the run lock is (default: the config's run_dir, /run/gitpuppet; "
    "env GITPUPPET_RUN_DIR).",
)
@click.option("--environment", help="node.environment for templates.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of lines.")
@common_options
def command(
    app: App,
    path: str | None,
    repo: str | None,
    node: str | None,
    noop: bool,
    tags: str | None,
    show_diff: bool,
    facts_file: str | None,
    state_dir: str | None,
    run_dir: str | None,
    environment: str | None,
    as_json: bool,
) -> None:
    """Compile and converge; exit code per SPEC §4.1 (1 on a compile error, nothing changed).

    Like `run`, it holds the run lock and refuses a disabled machine (exit 3, SPEC §7.2).
    """
    from gitpuppet import stopping
    from gitpuppet.agent.guard import converge_guard
    from gitpuppet.apply.tags import parse_tags
    from gitpuppet.cli.node import matched_line
    from gitpuppet.cli.output import RunPrinter
    from gitpuppet.cli.run import STOPPED
    from gitpuppet.compile import compile_catalog
    from gitpuppet.session import apply_tree

    start = time.monotonic()
    if path and repo and path != repo:
        app.abort(f"PATH ({path}) and --repo ({repo}) disagree: give one of them")
    config_state_dir, config_run_dir = _agent_dirs(app)
    target = state_dir or config_state_dir
    also = [config_state_dir] if Path(app.config_path).is_file() else []
    with converge_guard(Path(run_dir or config_run_dir) / "run.lock", target, *also):
        tree = open_tree(app, path or repo, Path(target) / "modules")
        facts = load_facts(facts_file)
        name = node_name(node, facts, app.config_path)
        tag_set = parse_tags(tags)
        catalog = compile_catalog(tree, name, facts, environment)
        # Which declaration matched, first (a mistyped --node shows): on stderr, beside the
        # other status lines, so stdout stays one line per resource.
        app.info(matched_line(catalog))
        printer = RunPrinter(
            quiet=app.quiet or as_json, verbose=app.verbose, show_diff=show_diff, noop=noop
        )
        try:  # SIGTERM/SIGINT within: finish the resource in flight, skip the rest, report
            run = stopping.stop_on_signals()(apply_tree)(
                tree,
                node=name,
                facts=facts,
                state_dir=target,
                noop=noop,
                tags=tag_set,
                environment=environment,
                on_result=None if as_json else printer.on_result,
                on_begin=None if as_json else printer.on_begin,
                catalog=catalog,
            )
        finally:
            printer.stop_progress()  # an error message must not land on a progress line
    for message in run.messages:  # a state-dir file that could not be written, say
        app.out(f"warning: {message}", err=True)
    if run.outcome is not None and run.outcome.stopped:
        app.out(f"warning: {run.outcome.stopped}: {STOPPED}", err=True)
    if as_json and run.report_path is not None:
        app.out(run.report_path.read_text().rstrip())
    else:
        printer.summary(name, run.counts, time.monotonic() - start, run.exit_code)
    raise SystemExit(run.exit_code)


def _agent_dirs(app: App) -> tuple[str, str]:
    """(state dir, run dir) of the agent config when one exists, else the defaults."""
    if Path(app.config_path).is_file():
        from gitpuppet.config import load_config

        config = load_config(app.config_path)
        return str(config.state_dir), str(config.run_dir)
    return DEFAULT_STATE_DIR, DEFAULT_RUN_DIR


def _state_dir(app: App) -> str:
    """The configured state dir when an agent config exists, else the default."""
    return _agent_dirs(app)[0]
