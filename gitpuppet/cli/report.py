"""`gitpuppet report [--last N]`: the stored run reports, newest first."""

from __future__ import annotations

import click

from gitpuppet.cli.app import App, common_options


@click.command(help="Show the stored run reports, newest first.")
@click.option("--last", "last", type=int, default=10, show_default=True, help="How many reports.")
@click.option(
    "--state-dir", metavar="D", help="State dir (default: the config's, else /var/lib/gitpuppet)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
@common_options
def command(app: App, last: int, state_dir: str | None, as_json: bool) -> None:
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
        counts = r.get("counts", {})
        commit = (r.get("commit") or "local")[:10]
        app.out(
            f"{r['start']}  {r['node']}  {commit}  {r['result']}{' (noop)' if r.get('noop') else ''}  "
            f"exit {r['exit_code']}  changed {counts.get('changed', 0)}  failed {counts.get('failed', 0)}  "
            f"skipped {counts.get('skipped', 0)}  total {counts.get('total', 0)}  {r['duration']:.2f} s"
        )
        for res in r.get("resources", []):
            if res["status"] in ("failed", "skipped") or app.verbose:
                app.out(
                    f"    {res['ref']}: {res['status']}{': ' + res['message'] if res['message'] else ''}"
                )
        for message in r.get("messages", []):
            app.out(f"    note: {message}")
