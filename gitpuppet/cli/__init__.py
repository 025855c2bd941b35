"""The `gitpuppet` command: a click group that imports each subcommand only when it runs.

One file per command under gitpuppet/cli/. Each exposes `command`, a click command built with
`common_options`; user errors go through `App.abort` (a message, no traceback unless -vv).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import click

from gitpuppet.cli.app import App, common_options  # noqa: F401  (re-exported for commands)

# name -> module under gitpuppet.cli (a dash in the name becomes an underscore).
COMMANDS = {
    "apply": "compile and apply a control repo in a directory or the agent's checkout",
    "node": "which declaration matches a node, and its compiled catalog",
    "facts": "the facts of this machine",
    "lookup": "a data lookup, with --explain showing every level tried",
    "validate": "check every file of a control repo and compile every named node",
    "report": "the stored run reports, newest first",
    "backup": "list and restore file contents that runs replaced",
    "pull": "fetch and move to the newest commit this node may apply",
    "run": "pull, then apply: what the timer runs",
    "agent": "run in the foreground every interval, with splay",
    "webhook": "listen for push webhooks and start a run at once",
    "status": "the last run, the applied commit, disabled or not, the next run",
    "disable": "stop runs, with a reason",
    "enable": "allow runs again",
    "bootstrap": "configure this node, clone the repo, install the timer, run once",
    "fleet": "every node's last run, from the reports repository",
}


class LazyGroup(click.Group):
    """Lists every command; imports a command's module only when it is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self._find(name)]

    def _find(self, name: str) -> bool:
        return importlib.util.find_spec(f"gitpuppet.cli.{name.replace('-', '_')}") is not None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not self._find(cmd_name):
            return None
        module = importlib.import_module(f"gitpuppet.cli.{cmd_name.replace('-', '_')}")
        cmd: click.Command = module.command
        if not cmd.help and not cmd.short_help:
            cmd.short_help = COMMANDS[cmd_name]
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gitpuppet")
def cli() -> None:
    """gitpuppet: masterless, git-pull configuration management."""


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""

    return cli.main(args=argv, prog_name="gitpuppet", standalone_mode=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
