"""`gitpuppet disable [REASON]`: stop runs until `gitpuppet enable`."""

from __future__ import annotations

import click

from gitpuppet.cli.app import App, common_options


@click.command(help="Stop runs (timer, agent, `run`) with a reason shown by status.")
@click.argument("reason", nargs=-1)
@common_options
def command(app: App, reason: tuple[str, ...]) -> None:
    """Write the disable record under state_dir."""
    from gitpuppet.agent.disable import disable
    from gitpuppet.config import load_config

    config = load_config(app.config_path, required=False)
    info = disable(config.state_dir, " ".join(reason).strip() or None)
    app.info(f"gitpuppet runs {info.describe()}")
