"""A stop asked for by SIGTERM or SIGINT: the run finishes the resource in flight, skips the rest
("stopped by SIGTERM"), writes its report and state, and exits 4 (or 6 with changes).

A second signal ends gitpuppet at once (StopNow, exit 130; the command in flight is killed with
its process group). Signals are process-wide, so the request is too: `stop_on_signals` sets it
up around a run, and the applier asks `stop_reason()` between resources.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGINT)
# How often a wait (splay, the agent's idle time) looks at the request.
WAIT_STEP = 0.2

_reason: str | None = None


class StopNow(KeyboardInterrupt):
    """A second SIGTERM/SIGINT: stop at once (handled like Ctrl-C: exit 130)."""


def stop_reason() -> str | None:
    """Why the run must stop ("stopped by SIGTERM"), or None to go on."""
    return _reason


def sleep(seconds: float) -> None:
    """time.sleep that ends early when a stop is asked for."""
    end = time.monotonic() + seconds
    while _reason is None:
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, WAIT_STEP))


def _say(text: str) -> None:
    # A plain write: a signal handler must not re-enter a buffered stream being written.
    try:
        os.write(2, text.encode() + b"\n")
    except OSError:
        pass


def request_stop(reason: str) -> None:
    """Ask the run to stop after the resource in flight (what the first signal does)."""
    global _reason
    _reason = reason


@contextmanager
def stop_on_signals(name: str = "gitpuppet", say: Callable[[str], None] = _say) -> Iterator[None]:
    """Within the block, the first SIGTERM/SIGINT asks for a stop, the second raises StopNow."""
    global _reason

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        signame = signal.Signals(signum).name
        if _reason is not None:
            raise StopNow(f"{signame} again: stopping at once")
        request_stop(f"stopped by {signame}")
        say(
            f"{name}: {signame}: finishing the resource in flight, then stopping "
            "(send it again to stop at once)"
        )

    old = {s: signal.signal(s, on_signal) for s in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        _reason = None
