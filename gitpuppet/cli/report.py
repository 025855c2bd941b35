"""`gitpuppet report [--last N]`: the stored run reports, newest first."""

from __future__ import annotations

from typing import Any

import click

from gitpuppet.cli.app import App, common_options


@click.command(help="Show the stored run reports, newest first.")
@click.option(
    "--last",
    "last",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="How many reports.",
)
@click.option(
    "--state-dir", metavar="D", help="State dir (default: the config's, else /var/lib/gitpuppet)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
@common_options
def command(app: App, last: int, state_dir: str | None, as_json: bool) -> None:
    """Print the newest `last` reports (a line each, failures and skips under it)."""
    from gitpuppet.cli.apply import _state_dir
    from gitpuppet.report import list_reports

    reports = list_reports(state_dir or _state_dir(app), last=last)
    if as_json:
        app.json([{k: v for k, v in r.items() if k != "_path"} for r in reports])
        return
    if not reports:
        app.info("no reports yet")
        return
    for r in reports:
        app.out(_report_line(r))
        for res in r.get("resources", []):
            if res.get("status") in ("failed", "skipped") or app.verbose:
                message = res.get("message") or ""
                app.out(
                    f"    {res.get('ref')}: {res.get('status')}{': ' + message if message else ''}"
                )
        for message in r.get("messages", []):
            app.out(f"    note: {message}")


def _report_line(r: dict[str, Any]) -> str:
    """One line per run: when, node, commit, result, exit code, counts, duration."""
    counts = r.get("counts") or {}
    commit = (r.get("commit") or "local")[:10]
    noop = " (noop)" if r.get("noop") else ""
    return (
        f"{r.get('start', '?')}  {r.get('node', '?')}  {commit}  {r.get('result', '?')}{noop}  "
        f"exit {r.get('exit_code', '?')}  changed {counts.get('changed', 0)}  "
        f"failed {counts.get('failed', 0)}  skipped {counts.get('skipped', 0)}  "
        f"total {counts.get('total', 0)}  {float(r.get('duration') or 0):.2f} s"
    )
