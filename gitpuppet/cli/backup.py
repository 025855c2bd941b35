"""`gitpuppet backup list [PATH]`, `backup show|diff|restore PATH [--version N]`.

Content replaced by a `sensitive` resource is restorable but never printed: `show` and `diff`
refuse it and `list` hides its digest."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

import click

from gitpuppet.backup import BackupStore, BackupVersion
from gitpuppet.cli.app import App, common_options
from gitpuppet.errors import GitpuppetError

STATE_DIR_HELP = "State dir (default: the config's, else /var/lib/gitpuppet)."
RESTORE_NOTE = (
    "note: if the catalog manages {path}, the next run puts the managed content back; change "
    "the control repo (or `gitpuppet disable` meanwhile) to keep this version"
)


@click.group(help="List, show, compare and restore file contents that runs replaced or removed.")
def command() -> None:
    """The `backup` group: list, show, diff, restore."""


def _store(app: App, state_dir: str | None) -> BackupStore:
    from gitpuppet.cli.apply import _state_dir

    return BackupStore(state_dir or _state_dir(app))


def _saved_as(store: BackupStore, path: str) -> str:
    """The path as given (made absolute), or where its links lead when only that was saved:
    line and host edit the file a link points to."""
    given = os.path.abspath(path)
    real = os.path.realpath(path)
    return real if real != given and not store.versions(given) and store.versions(real) else given


def _version_json(v: BackupVersion) -> dict[str, object]:
    return {
        "version": v.version,
        "time": datetime.fromtimestamp(v.time, UTC).isoformat(),
        "digest": None if v.sensitive else v.digest,
        "size": v.size,
        "mode": f"{v.mode:04o}",
        "uid": v.uid,
        "gid": v.gid,
        "path": v.path,
        "sensitive": v.sensitive,
    }


def _version_line(v: BackupVersion, with_path: bool) -> str:
    when = datetime.fromtimestamp(v.time, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    digest = "[sensitive]" if v.sensitive else v.digest[:12]
    line = f"{v.version:>3}  {when}  {v.size:>8} bytes  mode {v.mode:04o}  {digest}"
    return f"{line}  {v.path}" if with_path else line


@command.command(
    "list",
    help="Saved versions of PATH, newest first (version 1 is the newest); without PATH, the "
    "most recent backups of any file.",
)
@click.argument("path", required=False)
@click.option(
    "--last", type=click.IntRange(min=1), default=20, show_default=True, help="Without PATH."
)
@click.option("--state-dir", metavar="D", help=STATE_DIR_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@common_options
def list_versions(
    app: App, path: str | None, last: int, state_dir: str | None, as_json: bool
) -> None:
    """Print the saved versions of PATH (or the newest backups), newest first."""
    store = _store(app, state_dir)
    versions = store.versions(_saved_as(store, path)) if path else store.recent(last)
    if as_json:
        app.json([_version_json(v) for v in versions])
        return
    if not versions:
        app.info(f"no backups of {path}" if path else "no backups yet")
        return
    for v in versions:
        app.out(_version_line(v, with_path=path is None))


def _chosen(store: BackupStore, path: str, version: int) -> BackupVersion:
    """Version N of PATH, refused when it came from a sensitive resource."""
    versions = store.versions(_saved_as(store, path))
    if not versions:
        raise GitpuppetError(f"no backups of {path}", "`gitpuppet backup list` shows what is kept")
    if not 1 <= version <= len(versions):
        raise GitpuppetError(f"{path} has versions 1 to {len(versions)}, not {version}")
    chosen = versions[version - 1]
    if chosen.sensitive:
        raise GitpuppetError(
            f"version {version} of {path} was replaced by a sensitive resource: not shown",
            "`gitpuppet backup restore` still puts it back",
        )
    return chosen


@command.command("show", help="Print version N (default 1, the newest) of PATH; restores nothing.")
@click.argument("path")
@click.option("--version", "version", type=int, default=1, show_default=True)
@click.option("--state-dir", metavar="D", help=STATE_DIR_HELP)
@common_options
def show(app: App, path: str, version: int, state_dir: str | None) -> None:
    """Write the saved content to stdout as it is."""
    store = _store(app, state_dir)
    data = store.read(_chosen(store, path, version))
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


@command.command(
    "diff", help="Unified diff from version N (default 1) of PATH to the file as it is now."
)
@click.argument("path")
@click.option("--version", "version", type=int, default=1, show_default=True)
@click.option("--state-dir", metavar="D", help=STATE_DIR_HELP)
@common_options
def diff(app: App, path: str, version: int, state_dir: str | None) -> None:
    """Print the diff (nothing but a note when they are the same)."""
    from gitpuppet.atomic import read_nofollow
    from gitpuppet.resources.fsutil import unified_diff

    store = _store(app, state_dir)
    chosen = _chosen(store, path, version)
    old = store.read(chosen)
    try:
        now: bytes | None = read_nofollow(_saved_as(store, path))
    except FileNotFoundError:
        now = None
    except OSError as exc:
        raise GitpuppetError(f"cannot read {path}: {exc.strerror or exc}") from None
    if old == now:
        app.info(f"{path} is the same as version {version}")
        return
    text = unified_diff(old, now, path)
    if text is None:
        app.out(f"{path} differs from version {version} (binary or too large to diff)")
    else:
        label = f"{path} (backup version {version})"
        app.out(text.replace(f"--- {path}\n", f"--- {label}\n", 1).rstrip("\n"))


@command.command("restore", help="Put version N (default 1, the newest) of PATH back.")
@click.argument("path")
@click.option("--version", "version", type=int, default=1, show_default=True)
@click.option("--state-dir", metavar="D", help=STATE_DIR_HELP)
@common_options
def restore(app: App, path: str, version: int, state_dir: str | None) -> None:
    """Restore version N of PATH (content, mode and owner); the current content is kept too."""
    store = _store(app, state_dir)
    chosen = store.restore(_saved_as(store, path), version)
    app.info(
        f"restored {path} to version {version} ({chosen.size} bytes, {chosen.digest[:12]}); "
        "the content it replaced is backed up as version 1"
    )
    app.out(RESTORE_NOTE.format(path=path), err=True)
