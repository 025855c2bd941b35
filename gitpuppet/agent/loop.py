"""`gitpuppet agent`: run every interval in the foreground (schedule), stop cleanly on a signal."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

import schedule

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

    Runs happen in this thread one after another, so they never overlap; a signal sets a flag
    and the run in flight finishes. An exception in one run is reported and the loop goes on.
    """
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        on_message(f"gitpuppet agent: {signal.Signals(signum).name}, stopping after this run")
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    runs = 0
    scheduler = schedule.Scheduler()

    def one(first: bool = False) -> None:
        nonlocal runs
        if stop.is_set():
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
    try:
        one(first=True)
        while not stop.is_set() and (max_runs is None or runs < max_runs):
            scheduler.run_pending()
            idle = scheduler.idle_seconds
            stop.wait(min(max(idle if idle is not None else 1.0, 0.05), 1.0))
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return 0
