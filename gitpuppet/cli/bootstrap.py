"""`gitpuppet bootstrap URL`: configure this node, clone, install the schedule, run once."""

from __future__ import annotations

from typing import Any

import click

from gitpuppet.cli.app import App, common_options


@click.command(
    help="Write the agent config, clone the repo, install the timer or cron job, run once."
)
@click.argument("url")
@click.option("--branch", default="production", show_default=True)
@click.option("--node-name", help="Default: this machine's FQDN.")
@click.option("--ssh-key", type=click.Path(), help="Deploy key for ssh:// URLs.")
@click.option("--known-hosts", type=click.Path(), help="known_hosts for ssh:// URLs.")
@click.option("--ca-file", type=click.Path(), help="CA certificates (PEM) for https:// URLs.")
@click.option("--timer", "sched", flag_value="timer", help="systemd timer (default with systemd).")
@click.option("--cron", "sched", flag_value="cron", help="/etc/cron.d/gitpuppet.")
@click.option("--no-schedule", "sched", flag_value="none", help="Install no schedule.")
@click.option("--interval", default="30m", show_default=True)
@click.option("--splay", default=None, help="Default: a tenth of the interval.")
@click.option("--state-dir", default=None, help="Default /var/lib/gitpuppet.")
@click.option("--run-dir", default=None, help="Where the run lock lives. Default /run/gitpuppet.")
@common_options
def command(
    app: App,
    url: str,
    branch: str,
    node_name: str | None,
    ssh_key: str | None,
    known_hosts: str | None,
    ca_file: str | None,
    sched: str | None,
    interval: str,
    splay: str | None,
    state_dir: str | None,
    run_dir: str | None,
) -> None:
    """Exit code is that of the first run (SPEC §4.1)."""
    from pathlib import Path

    from gitpuppet.agent import bootstrap as bs
    from gitpuppet.agent.run import run_once
    from gitpuppet.cli.output import RunPrinter
    from gitpuppet.config import write_config

    settings: dict[str, Any] = {"repo": url, "branch": branch, "interval": interval}
    for key, value in (
        ("node_name", node_name),
        ("splay", splay),
        ("ssh_key", ssh_key and str(Path(ssh_key).absolute())),
        ("known_hosts", known_hosts and str(Path(known_hosts).absolute())),
        ("ca_file", ca_file and str(Path(ca_file).absolute())),
        ("state_dir", state_dir and str(Path(state_dir).absolute())),
        ("run_dir", run_dir and str(Path(run_dir).absolute())),
    ):
        if value:
            settings[key] = value
    config_path = Path(app.config_path).absolute()
    config = write_config(config_path, settings)
    app.info(f"wrote {config_path}")
    schedule = sched or bs.default_schedule()
    exe = bs.gitpuppet_executable()
    printer = RunPrinter(quiet=app.quiet, verbose=app.verbose)
    from gitpuppet.errors import GitpuppetError

    failure: GitpuppetError | None = None
    try:
        result = run_once(config, now=True, on_result=printer.on_result)
    except GitpuppetError as exc:
        # The schedule is still installed: the next run may succeed once the repo is fixed.
        failure = exc
    else:
        for message in result.messages:
            app.out(f"warning: {message}", err=True)
    if schedule == "timer":
        bs.install_timer(exe, config.interval, config.splay, config_path=config_path)
        app.info("installed and started gitpuppet.timer")
    elif schedule == "cron":
        bs.install_cron(exe, config.interval, config_path)
        app.info(f"wrote {bs.CRON_FILE}")
    if failure is not None:
        raise failure
    raise SystemExit(result.exit_code)
