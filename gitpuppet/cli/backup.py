"""`gitpuppet backup list PATH` / `backup restore PATH [--version N]`."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import click

from gitpuppet.backup import BackupStore
from gitpuppet.cli.app import App, common_options


@click.group(help="List and restore file contents that runs replaced or removed.")
def command() -> None:
    """The `backup` group: list, restore."""


def _store(app: App, state_dir: str | None) -> BackupStore:
    from gitpuppet.cli.apply import _state_dir

    return BackupStore(state_dir or _state_dir(app))


def _saved_as(store: BackupStore, path: str) -> str:
    """The path as given (made absolute), or where its links lead when only that was saved:
    line and host edit the file a link points to."""
    given = os.path.abspath(path)
    real = os.path.realpath(path)
    return real if real != given and not store.versions(given) and store.versions(real) else given


@command.command("list", help="Saved versions of PATH, newest first (version 1 is the newest).")
@click.argument("path")
@click.option(
    "--state-dir", metavar="D", help="State dir (default: the config's, else /var/lib/gitpuppet)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common_options
def list_versions(app: App, path: str, state_dir: str | None, as_json: bool) -> None:
    """Print the saved versions of PATH, newest first."""
    store = _store(app, state_dir)
    versions = store.versions(_saved_as(store, path))
    if as_json:
        app.json(
            [
                {
                    "version": v.version,
                    "time": datetime.fromtimestamp(v.time, UTC).isoformat(),
                    "digest": v.digest,
                    "size": v.size,
                    "mode": f"{v.mode:04o}",
                    "uid": v.uid,
                    "gid": v.gid,
                    "path": v.path,
                }
                for v in versions
            ]
        )
        return
    if not versions:
        app.info(f"no backups of {path}")
        return
    for v in versions:
        when = datetime.fromtimestamp(v.time, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        app.out(f"{v.version:>3}  {when}  {v.size:>8} bytes  mode {v.mode:04o}  {v.digest[:12]}")


@command.command("restore", help="Put version N (default 1, the newest) of PATH back.")
@click.argument("path")
@click.option("--version", "version", type=int, default=1, show_default=True)
@click.option(
    "--state-dir", metavar="D", help="State dir (default: the config's, else /var/lib/gitpuppet)."
)
@common_options
def restore(app: App, path: str, version: int, state_dir: str | None) -> None:
    """Restore version N of PATH (content, mode and owner); the current content is kept too."""
    store = _store(app, state_dir)
    chosen = store.restore(_saved_as(store, path), version)
    app.info(
        f"restored {path} to version {version} ({chosen.size} bytes, {chosen.digest[:12]}); "
        "the content it replaced is backed up as version 1"
    )
