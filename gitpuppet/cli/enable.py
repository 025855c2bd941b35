"""`gitpuppet enable`: allow runs again after `gitpuppet disable`."""

from __future__ import annotations

import click

from gitpuppet.cli.app import App, common_options


@click.command(help="Allow runs again.")
@common_options
def command(app: App) -> None:
    """Remove the disable record."""
    from gitpuppet.agent.disable import enable
    from gitpuppet.config import load_config

    config = load_config(app.config_path, required=False)
    info = enable(config.state_dir)
    app.info(
        "gitpuppet runs enabled"
        + (f" (were {info.describe()})" if info else " (were not disabled)")
    )
