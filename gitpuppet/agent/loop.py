"""`gitpuppet agent`: run every interval in the foreground (schedule), stop cleanly on a signal."""

from __future__ import annotations

import logging
from collections.abc import Callable

import schedule

from gitpuppet import stopping
from gitpuppet.agent.lock import agent_marker
from gitpuppet.config import AgentConfig
from gitpuppet.errors import GitpuppetError

log = logging.getLogger("gitpuppet.agent")


def agent_loop(
    config: AgentConfig,
    run: Callable[[bool], int],
    *,
    max_runs: int | None = None,
    on_message: Callable[[str], None] = print,
) -> int:
    """Call `run(first)` now and then every interval until SIGTERM/SIGINT; 0 on a clean stop.

    Runs happen in this thread one after another, so they never overlap. The first signal lets
    the run in flight finish its resource in flight, skip the rest and write its report; a
    second ends the agent at once (stopping.StopNow). An exception in one run is reported and
    the loop goes on.
    """
    runs = 0
    scheduler = schedule.Scheduler()

    def one(first: bool = False) -> None:
        nonlocal runs
        if stopping.stop_reason():
            return
        try:
            code = run(first)
            on_message(f"gitpuppet agent: run finished with exit code {code}")
        except GitpuppetError as exc:
            on_message(f"gitpuppet agent: run skipped or failed: {exc}")
        except Exception as exc:  # noqa: BLE001 - one bad run must not end the agent
            log.exception("run failed")
            on_message(f"gitpuppet agent: run failed: {type(exc).__name__}: {exc}")
        runs += 1

    scheduler.every(max(int(config.interval), 1)).seconds.do(one)
    with agent_marker(config.run_dir), stopping.stop_on_signals("gitpuppet agent"):
        one(first=True)
        while not stopping.stop_reason() and (max_runs is None or runs < max_runs):
            scheduler.run_pending()
            idle = scheduler.idle_seconds
            stopping.sleep(min(max(idle if idle is not None else 1.0, 0.05), 1.0))
        reason = stopping.stop_reason()
        if reason:
            on_message(f"gitpuppet agent: {reason}")
    return 0
