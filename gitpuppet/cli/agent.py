"""`gitpuppet agent`: stay in the foreground and run every interval, with splay."""

from __future__ import annotations

import click

from gitpuppet.cli.app import App, common_options


@click.command(
    help="Run in the foreground every interval (with splay) until SIGTERM/SIGINT. A signal "
    "lets the run in flight finish its current resource and write its report; a second one "
    "stops at once."
)
@click.option("--noop", is_flag=True, help="Every run changes nothing.")
@common_options
def command(app: App, noop: bool) -> None:
    """The long-running agent (gitpuppet-agent.service)."""
    from gitpuppet import stopping
    from gitpuppet.agent.loop import agent_loop
    from gitpuppet.agent.run import run_once
    from gitpuppet.cli.output import RunPrinter
    from gitpuppet.config import load_config
    from gitpuppet.redact import redact_url

    config = load_config(app.config_path)

    def run(first: bool) -> int:
        printer = RunPrinter(quiet=app.quiet, verbose=app.verbose, noop=noop)
        # The first run after start skips the splay: the service was just started on purpose.
        result = run_once(
            config, noop=noop, now=first, on_result=printer.on_result, sleep=stopping.sleep
        )
        for message in result.messages:
            app.out(f"warning: {redact_url(message)}", err=True)
        return result.exit_code

    def say(text: str) -> None:
        app.out(redact_url(text), err=True)

    raise SystemExit(agent_loop(config, run, on_message=say))
