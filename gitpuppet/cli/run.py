"""`gitpuppet run [--noop] [--now]`: pull, then apply (what the timer runs)."""

from __future__ import annotations

import time

import click

from gitpuppet.cli.app import App, common_options

STOPPED = "the resources after the one in flight were skipped (exit code 4 or 6); see the report"


@click.command(
    help="Pull, then apply: what the timer runs. --now skips the splay. SIGTERM/SIGINT finish "
    "the resource in flight, skip the rest, write the report and exit 4 (6 with changes); a "
    "second signal stops at once."
)
@click.option("--noop", is_flag=True, help="Change nothing; show what would change.")
@click.option("--now", is_flag=True, help="Start at once (no splay delay).")
@click.option("--diff", "show_diff", is_flag=True, help="Show unified diffs of content changes.")
@click.option(
    "--ignore-rollout", is_flag=True, help="Apply the branch head now, whatever the rollout says."
)
@click.option("--branch", default=None, help="Apply this branch's head once (config unchanged).")
@click.option("--tags", metavar="T,…", help="Only resources with one of these tags.")
@common_options
def command(
    app: App,
    noop: bool,
    now: bool,
    show_diff: bool,
    ignore_rollout: bool,
    branch: str | None,
    tags: str | None,
) -> None:
    """One run; exit code per SPEC §4.1."""
    from gitpuppet import stopping
    from gitpuppet.agent.run import run_once
    from gitpuppet.apply.tags import parse_tags
    from gitpuppet.cli.output import RunPrinter
    from gitpuppet.config import load_config
    from gitpuppet.redact import redact_url

    config = load_config(app.config_path)
    printer = RunPrinter(quiet=app.quiet, verbose=app.verbose, show_diff=show_diff, noop=noop)
    start = time.monotonic()
    with stopping.stop_on_signals():
        result = run_once(
            config,
            noop=noop,
            now=now,
            tags=parse_tags(tags),
            on_result=printer.on_result,
            on_begin=printer.on_begin,
            sleep=stopping.sleep,
            ignore_rollout=ignore_rollout,
            branch=branch,
        )
    applied = result.outcome.outcome if result.outcome else None
    stopped = applied.stopped if applied else None
    for message in result.messages:
        app.out(f"warning: {redact_url(message)}", err=True)
    if stopped:
        app.out(f"warning: {stopped}: {STOPPED}", err=True)
    waiting = result.rollout.pending_line() if result.rollout else None
    if waiting and not app.quiet:
        app.out(f"rollout: {redact_url(waiting)}")
    commit = f" at {result.commit[:12]}" if result.commit else ""
    printer.summary(result.node, result.counts, time.monotonic() - start, result.exit_code, commit)
    raise SystemExit(result.exit_code)
