"""`gitpuppet fleet`: every node's last report, from the reports repository (SPEC §11)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gitpuppet.cli.app import App, common_options
from gitpuppet.fleet.view import STATUSES

PARTIAL = 4  # some shards could not be fetched: the view is incomplete (as run's exit 4)

if TYPE_CHECKING:
    from gitpuppet.fleet.fetch import Source
    from gitpuppet.fleet.view import FleetView


@click.command(help="Show every node's last run, from the reports repository.")
@click.option("--reports-repo", "url", metavar="URL", help="Reports repo (default: the config's).")
@click.option(
    "--shards",
    type=click.IntRange(min=1, max=4096),
    help="How many shards a URL with {shard} has (default: the config's reports.shards).",
)
@click.option("--ssh-key", type=click.Path(dir_okay=False), help="Key for an ssh reports repo.")
@click.option("--known-hosts", type=click.Path(dir_okay=False), help="known_hosts for ssh.")
@click.option("--json", "as_json", is_flag=True, help="Print the nodes as a JSON list.")
@click.option("--html", "html_out", metavar="OUT", help="Write the self-contained fleet page.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(STATUSES),
    help="Only nodes in this status (repeatable).",
)
@click.option("--match", metavar="GLOB", help="Only nodes whose name matches the glob.")
@common_options
def command(
    app: App,
    url: str | None,
    shards: int | None,
    ssh_key: str | None,
    known_hosts: str | None,
    as_json: bool,
    html_out: str | None,
    statuses: tuple[str, ...],
    match: str | None,
) -> None:
    """Fetch the reports, then print lines (or JSON) and write the page if asked. Exit 0; 4
    when some shards could not be fetched (the view lacks their nodes and says so); 1 when
    none could."""
    from gitpuppet.fleet.fetch import fetch_all
    from gitpuppet.fleet.text import render_lines, safe
    from gitpuppet.fleet.view import build_view, read_reports

    source, cache = _source(app, url, shards, ssh_key, known_hosts)
    temp = None if cache is not None else Path(tempfile.mkdtemp(prefix="gitpuppet-fleet-"))
    try:
        fetched = fetch_all(source, cache or temp or Path("."))
        needs_facts = as_json or html_out is not None  # the terminal lines show no facts
        reports, warnings = read_reports(fetched.repos, needs_facts, use_cache=cache is not None)
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    view = build_view(reports).filtered(statuses, match)
    view.warnings = [*fetched.errors, *warnings]
    view.missing_shards = len(fetched.errors)
    for error in fetched.errors:  # nodes missing from the view: said even under --quiet
        click.echo(f"error: {safe(error, 400)}; its nodes are missing from this view", err=True)
    for warning in warnings:
        app.info(f"warning: {safe(warning, 400)}")
    if html_out is not None:
        _write_page(app, view, html_out)
    if as_json:
        _print_json(app, view)
    elif html_out is None or not app.quiet:
        app.out("\n".join(render_lines(view, verbose=bool(app.verbose))))  # one write
    if fetched.errors:
        raise SystemExit(PARTIAL)


def _source(
    app: App, url: str | None, shards: int | None, ssh_key: str | None, known_hosts: str | None
) -> tuple[Source, Path | None]:
    """The Source to read and the cache folder (the state dir's, or None for a temp one)."""
    from gitpuppet.config import load_config
    from gitpuppet.fleet.fetch import SHARD, Source

    config = load_config(app.config_path, required=False)
    configured = Path(app.config_path).is_file()
    url = url or config.reports_repo
    if not url:
        app.abort(
            "no reports repository: give --reports-repo URL, "
            "or set reports: {repo: URL} in the agent config"
        )
    count = shards or config.reports_shards
    if SHARD in url and count == 1 and shards is None:
        app.abort(
            "the reports URL holds {shard}: give --shards N (or reports.shards in the config)"
        )
    key = Path(ssh_key) if ssh_key else config.reports_ssh_key
    kh = Path(known_hosts) if known_hosts else config.known_hosts
    cache = Path(config.state_dir) / "fleet-cache" if configured else None
    return Source(url, count, key, kh), cache


def _print_json(app: App, view: FleetView) -> None:
    """The --json list; not for a terminal, it is written a row at a time (the same bytes as
    one json.dumps of the list, without holding all of it: 10,000 nodes' facts are 30 MB)."""
    import json
    import sys

    from gitpuppet.fleet.view import row_json

    if sys.stdout.isatty():
        app.json([row_json(r) for r in view.rows])
        return
    out = sys.stdout  # ASCII only: json.dumps escapes the rest
    out.write("[")
    for i, row in enumerate(view.rows):
        out.write((", " if i else "") + json.dumps(row_json(row), default=str))
    out.write("]\n")
    out.flush()


def _write_page(app: App, view: FleetView, out: str) -> None:
    from typing import cast

    from gitpuppet.atomic import write_atomic
    from gitpuppet.fleet.page import page_bytes

    # A bytearray (write_atomic writes a memoryview of it): no 30 MB copy into bytes first.
    write_atomic(out, cast(bytes, page_bytes(view)), mode=0o644)
    app.info(f"wrote {out}")
