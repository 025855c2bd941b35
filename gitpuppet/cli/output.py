"""Human output of a run (SPEC §4.2): a line per changed, failed or skipped resource, diffs,
a summary line; colour and progress only on a terminal; plain lines under systemd."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

import click

from gitpuppet.model import Change, Resource, Result, Status

PROGRESS_AFTER = 2.0  # seconds: shorter runs finish before a progress line would help
OUTPUT_LINES = 10  # lines of a failed command's output shown; the report keeps all of it
_COLOURS = {
    Status.CHANGED: "green",
    Status.WOULD_CHANGE: "cyan",
    Status.FAILED: "red",
    Status.SKIPPED: "yellow",
}


def _colour_ok(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


class RunPrinter:
    """Prints results as they come (`on_result`), progress (`on_begin`), and the summary."""

    def __init__(
        self,
        *,
        quiet: bool = False,
        verbose: int = 0,
        show_diff: bool = False,
        noop: bool = False,
        progress_after: float = PROGRESS_AFTER,
    ) -> None:
        self.quiet = quiet
        self.verbose = verbose
        self.show_diff = show_diff
        self.noop = noop
        self.colour = _colour_ok(sys.stdout)
        # Progress goes to stderr and only to a terminal: never into a journal or a pipe.
        self.progress = sys.stderr.isatty() and not quiet
        self.progress_after = progress_after
        self.start = time.monotonic()
        self._progress_shown = False
        # The ticker thread and the main thread both write to the terminal: one at a time.
        self._lock = threading.Lock()
        self._current: tuple[int, int, str, float] | None = None
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def _style(self, text: str, status: Status) -> str:
        return click.style(text, fg=_COLOURS.get(status)) if self.colour else text

    def on_begin(self, index: int, total: int, res: Resource) -> None:
        """Before a resource: a single updating line on stderr once the run is past ~2 s."""
        if not self.progress:
            return
        with self._lock:
            self._current = (index, total, res.label, time.monotonic())
            self._draw()
        if self._ticker is None:
            # A single slow resource (an exec running for a minute) still shows it is alive.
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                self._draw()

    def _draw(self) -> None:
        """Write the progress line (the caller holds the lock)."""
        now = time.monotonic()
        if self._current is None or now - self.start < self.progress_after:
            return
        index, total, ref, since = self._current
        elapsed = f" ({now - since:.0f} s)" if now - since >= 2 else ""
        width = max(20, _terminal_width() - 16 - len(elapsed))
        if len(ref) > width:
            ref = "…" + ref[-(width - 1) :]
        sys.stderr.write(f"\r\033[K[{index}/{total}] {ref}{elapsed}")
        sys.stderr.flush()
        self._progress_shown = True

    def on_result(self, r: Result) -> None:
        """After a resource: its line (unless unchanged), command output, and diffs."""
        if r.status == Status.UNCHANGED and not self.verbose:
            return
        if self.quiet and r.status != Status.FAILED:
            return
        with self._lock:
            self._print_result(r)

    def _print_result(self, r: Result) -> None:
        self._clear_progress()
        click.echo(self._style(line_for(r), r.status))
        # The result comes redacted from the applier (redact.Redactor.result): a sensitive one
        # has no output and no diffs left to show.
        if r.status == Status.FAILED and r.output:
            lines = r.output.strip().splitlines()
            for text in lines[:OUTPUT_LINES]:
                click.echo(f"    | {text}")
            if len(lines) > OUTPUT_LINES:
                click.echo(f"    | … {len(lines) - OUTPUT_LINES} more lines in the report")
        if self.show_diff:
            for c in r.changes:
                if c.diff:
                    click.echo(c.diff.rstrip("\n"))

    def stop_progress(self) -> None:
        """End the progress line (before the summary, or when the run ends early)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
        with self._lock:
            self._current = None
            self._clear_progress()

    def _clear_progress(self) -> None:
        if self._progress_shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self._progress_shown = False

    def summary(
        self, node: str, counts: dict[str, int], seconds: float, exit_code: int, extra: str = ""
    ) -> None:
        """`web01: 3 changed, 1 failed, 2 skipped, 120 unchanged in 0.41 s (noop)`."""
        self.stop_progress()
        if self.quiet and exit_code in (0, 2):
            return
        text = summary_line(node, counts, seconds, self.noop) + extra
        colour = "red" if exit_code & 4 else ("green" if exit_code == 0 else None)
        click.echo(click.style(text, fg=colour, bold=True) if self.colour else text)


def summary_line(node: str, counts: dict[str, int], seconds: float, noop: bool) -> str:
    """The last line of a run's output."""
    if noop:
        parts = [f"{counts.get('out_of_sync', 0)} would change"]
    else:
        parts = [f"{counts.get('changed', 0)} changed"]
    for key in ("failed", "skipped"):
        if counts.get(key):
            parts.append(f"{counts[key]} {key}")
    if counts.get("restarted"):
        parts.append(f"{counts['restarted']} refreshed")
    parts.append(f"{counts.get('unchanged', 0)} unchanged")
    return f"{node}: {', '.join(parts)} in {seconds:.2f} s{' (noop)' if noop else ''}"


def shown_ref(r: Result) -> str:
    """The result's reference as output names it (a sensitive resource by its label)."""
    return r.resource.label if r.resource is not None else str(r.ref)


def line_for(r: Result) -> str:
    """`file:/etc/motd: content changed`, `package:curl: would change ensure (absent -> 7.88)`,
    `…: failed: why`. A sensitive resource shows its label, and its changes come hidden."""
    ref = shown_ref(r)
    attrs = ", ".join(c.attr for c in r.changes)
    values = _values(r.changes)
    note = "; ".join(part for part in (values, r.message) if part)
    note = f" ({note})" if note else ""
    if r.status == Status.CHANGED:
        if r.refreshed and not attrs:
            return f"{ref}: {r.message}"
        text = f"{ref}: {attrs} changed" if attrs else f"{ref}: changed"
        return text + note
    if r.status == Status.WOULD_CHANGE:
        return f"{ref}: would change {attrs}" + note
    if r.status == Status.FAILED:
        return f"{ref}: failed: {r.message}"
    if r.status == Status.SKIPPED:
        return f"{ref}: {r.message}"
    return f"{ref}: unchanged" + (f" ({r.message})" if r.message else "")


VALUE_WIDTH = 40  # longer values (and content) are for --diff and the report


def _values(changes: list[Change]) -> str:
    """`absent -> 7.88.1-10`, or `mode 0644 -> 0640, owner root -> www` for several: the short,
    plain values of a change. Left out: content, diffs, redacted values, and the values of a
    thing being created (`ensure, content, mode changed` says enough for a new file)."""
    shown = []
    for c in changes:
        if c.redacted or c.diff is not None or c.attr == "content":
            continue
        if c.old in (None, "absent") and len(changes) > 1:
            continue
        old, new = _short(c.old), _short(c.new)
        if old is None or new is None:
            continue
        shown.append((c.attr, f"{old} -> {new}"))
    if len(changes) == 1 and len(shown) == 1:
        return shown[0][1]
    return ", ".join(f"{attr} {text}" for attr, text in shown)


def _short(value: object) -> str | None:
    if value is None:
        return "absent"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (str, int, float)):
        text = str(value)
        if len(text) <= VALUE_WIDTH and "\n" not in text:
            return text
    return None


def _terminal_width() -> int:
    try:
        # A terminal that never had its size set reports 0 columns.
        return os.get_terminal_size(sys.stderr.fileno()).columns or 80
    except OSError:
        return 80
