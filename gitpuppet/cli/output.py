"""Human output of a run (SPEC §4.2): a line per changed, failed or skipped resource, diffs,
a summary line; colour and progress only on a terminal; plain lines under systemd."""

from __future__ import annotations

import sys
import time

import click

from gitpuppet.model import Result, Status

PROGRESS_AFTER = 2.0
_COLOURS = {
    Status.CHANGED: "green",
    Status.WOULD_CHANGE: "cyan",
    Status.FAILED: "red",
    Status.SKIPPED: "yellow",
}


class RunPrinter:
    """Prints results as they come (`on_result`) and the summary at the end."""

    def __init__(
        self,
        *,
        quiet: bool = False,
        verbose: int = 0,
        show_diff: bool = False,
        total: int = 0,
        noop: bool = False,
    ) -> None:
        self.quiet = quiet
        self.verbose = verbose
        self.show_diff = show_diff
        self.total = total
        self.noop = noop
        self.tty = sys.stdout.isatty()
        self.err_tty = sys.stderr.isatty()
        self.start = time.monotonic()
        self.done = 0
        self._progress_shown = False

    def _style(self, text: str, status: Status) -> str:
        return click.style(text, fg=_COLOURS.get(status)) if self.tty else text

    def on_result(self, r: Result) -> None:
        self.done += 1
        self._progress()
        if r.status == Status.UNCHANGED and not self.verbose:
            return
        if self.quiet and r.status != Status.FAILED:
            return
        self._clear_progress()
        click.echo(self._style(line_for(r), r.status))
        if r.status == Status.FAILED and r.output:
            for text in r.output.strip().splitlines()[-10:]:
                click.echo(f"    | {text}")
        if self.show_diff:
            for c in r.changes:
                if c.diff and not c.redacted:
                    click.echo(c.diff.rstrip("\n"))

    def _progress(self) -> None:
        if not self.err_tty or not self.total:
            return
        if time.monotonic() - self.start < PROGRESS_AFTER:
            return
        self._progress_shown = True
        sys.stderr.write(f"\r[{self.done}/{self.total}] applying…")
        sys.stderr.flush()

    def _clear_progress(self) -> None:
        if self._progress_shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()

    def summary(
        self, node: str, counts: dict[str, int], seconds: float, exit_code: int, extra: str = ""
    ) -> None:
        self._clear_progress()
        if self.quiet and exit_code in (0, 2):
            return
        changed_word = "would change" if self.noop else "changed"
        parts = [f"{counts.get('out_of_sync' if self.noop else 'changed', 0)} {changed_word}"]
        for key in ("failed", "skipped"):
            if counts.get(key):
                parts.append(f"{counts[key]} {key}")
        if counts.get("restarted"):
            parts.append(f"{counts['restarted']} refreshed")
        parts.append(f"{counts.get('unchanged', 0)} unchanged")
        text = (
            f"{node}: {', '.join(parts)} in {seconds:.2f} s{' (noop)' if self.noop else ''}{extra}"
        )
        colour = "red" if exit_code & 4 else ("green" if exit_code == 0 else None)
        click.echo(click.style(text, fg=colour, bold=True) if self.tty else text)


def line_for(r: Result) -> str:
    """`file:/etc/motd: content changed`, `…: would change content, mode`, `…: failed: why`."""
    attrs = ", ".join(c.attr for c in r.changes)
    if r.status == Status.CHANGED:
        text = f"{r.ref}: {attrs} changed" if attrs else f"{r.ref}: changed"
        if r.refreshed and not attrs:
            text = f"{r.ref}: {r.message}"
        elif r.message:
            text += f" ({r.message})"
        return text
    if r.status == Status.WOULD_CHANGE:
        return f"{r.ref}: would change {attrs}" + (f" ({r.message})" if r.message else "")
    if r.status == Status.FAILED:
        return f"{r.ref}: failed: {r.message}"
    if r.status == Status.SKIPPED:
        return f"{r.ref}: {r.message}"
    return f"{r.ref}: unchanged"
