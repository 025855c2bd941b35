"""`gitpuppet report [--last N] [--diff]`: the stored run reports, newest first, with the changed
and failed resources of each run (and their diffs)."""

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
@click.option("--diff", "show_diff", is_flag=True, help="Show each change's unified diff.")
@common_options
def command(app: App, last: int, state_dir: str | None, as_json: bool, show_diff: bool) -> None:
    """Print the newest `last` reports: a line each, the changed, failed and skipped resources
    under it (every resource with -v), and with --diff the diffs the run recorded."""
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
            if res.get("status") in LISTED or app.verbose:
                for line in resource_lines(res, show_diff):
                    app.out(line)
        for message in r.get("messages", []):
            app.out(f"    note: {message}")


CHANGED = ("changed", "would_change")
LISTED = (*CHANGED, "failed", "skipped")
OUTPUT_LINES = 10  # of a failed command's output; --json has all the report kept


def resource_lines(res: dict[str, Any], show_diff: bool) -> list[str]:
    """`    file:/etc/motd: changed (content, mode)`, a failed command's output under it, and
    with `show_diff` the diffs (the report holds none for a sensitive resource)."""
    status = str(res.get("status") or "?").replace("_", " ")
    attrs = [str(c.get("attribute")) for c in res.get("changes") or [] if isinstance(c, dict)]
    what = f" ({', '.join(attrs)})" if attrs and res.get("status") in CHANGED else ""
    message = res.get("message") or ""
    lines = [f"    {res.get('ref')}: {status}{what}{': ' + message if message else ''}"]
    output = res.get("output")
    if res.get("status") == "failed" and isinstance(output, str) and output.strip():
        text = output.strip().splitlines()
        lines += [f"      | {t}" for t in text[:OUTPUT_LINES]]
        if len(text) > OUTPUT_LINES:
            lines.append(f"      | … {len(text) - OUTPUT_LINES} more lines (report --json)")
    if show_diff:
        for c in res.get("changes") or []:
            if isinstance(c, dict) and isinstance(c.get("diff"), str) and not c.get("redacted"):
                lines += ["      " + t for t in c["diff"].rstrip("\n").splitlines()]
    return lines


def _report_line(r: dict[str, Any]) -> str:
    """One line per run: when, node, commit, result, exit code, counts, duration."""
    counts = r.get("counts") or {}
    commit = (r.get("commit") or "local")[:10]
    from gitpuppet.report import shown_result

    noop = " (noop)" if r.get("noop") else ""
    result = shown_result(r.get("result"), bool(r.get("noop"))) or "?"
    return (
        f"{r.get('start', '?')}  {r.get('node', '?')}  {commit}  {result}{noop}  "
        f"exit {r.get('exit_code', '?')}  changed {counts.get('changed', 0)}  "
        f"failed {counts.get('failed', 0)}  skipped {counts.get('skipped', 0)}  "
        f"total {counts.get('total', 0)}  {float(r.get('duration') or 0):.2f} s"
    )
