"""`gitpuppet webhook --listen ADDR --secret-file F`: a push to the followed branch starts a run.

The request only pokes: the run is the normal one (`gitpuppet run --now`: fetch, verify,
rollout), never the commit the payload names. Runs never overlap (one at a time here, and the
run lock against the timer's); pokes during a run make one more run after it.
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING

import click

from gitpuppet.cli.app import App, common_options

if TYPE_CHECKING:
    from gitpuppet.config import AgentConfig


@click.command(help="Listen for push webhooks (GitHub, Gitea/Forgejo, GitLab) and run at once.")
@click.option(
    "--listen",
    required=True,
    metavar="HOST:PORT",
    help="Address to listen on, e.g. 127.0.0.1:8472 or [::]:8472 (port 0: any free port).",
)
@click.option(
    "--secret-file",
    required=True,
    type=click.Path(dir_okay=False),
    help="File with the shared secret (not readable by other users).",
)
@click.option("--path", "url_path", default="/", show_default=True, help="The one URL path served.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds a client has to send its whole request.",
)
@common_options
def command(app: App, listen: str, secret_file: str, url_path: str, timeout: float) -> None:
    """Serve until SIGTERM/SIGINT; the run in flight finishes first."""
    from gitpuppet.agent.webhook import read_secret
    from gitpuppet.agent.webhook_server import (
        HookSettings,
        RunTrigger,
        make_server,
        parse_listen,
    )
    from gitpuppet.config import load_config

    config = load_config(app.config_path)
    secret = read_secret(secret_file)
    address = parse_listen(listen)
    if not url_path.startswith("/"):
        app.abort(f"--path {url_path!r}: a URL path starts with '/'")

    def say(text: str) -> None:
        app.out(text, err=True)

    trigger = RunTrigger(lambda: _one_run(app, config), say)
    settings = HookSettings(secret, config.branch, url_path, trigger, say, timeout=timeout)
    server = make_server(address, settings)
    stopped_by: list[str] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # Only flags here: printing from a signal handler can collide with a print in progress.
        stopped_by.append(signal.Signals(signum).name)
        trigger.stop()

    # Before anything is announced: a SIGTERM right after start must stop it cleanly too.
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    serving = threading.Thread(target=server.serve_forever, name="webhook-http", daemon=True)
    serving.start()
    say(
        f"gitpuppet webhook: listening on {server.bound.url(url_path)}; "
        f"a push to refs/heads/{config.branch} starts a run"
    )
    try:
        trigger.loop()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        server.shutdown()
        server.server_close()
    say(f"gitpuppet webhook: {', '.join(stopped_by) or 'stop'}: stopped")
    raise SystemExit(0)


def _one_run(app: App, config: AgentConfig) -> int:
    """One run, as `gitpuppet run --now` does it; raises LockHeld when another run holds it."""
    from gitpuppet.agent.run import run_once
    from gitpuppet.cli.output import RunPrinter

    printer = RunPrinter(quiet=app.quiet, verbose=app.verbose)
    start = time.monotonic()
    result = run_once(config, now=True, on_result=printer.on_result)
    for message in result.messages:
        app.out(f"warning: {message}", err=True)
    commit = f" at {result.commit[:12]}" if result.commit else ""
    printer.summary(result.node, result.counts, time.monotonic() - start, result.exit_code, commit)
    app.out(f"gitpuppet webhook: run finished with exit code {result.exit_code}", err=True)
    return result.exit_code
