"""The fleet view as terminal lines: every string from a node made harmless first."""

from __future__ import annotations

import unicodedata

from gitpuppet.fleet.view import FleetView, NodeRow, iso


def safe(text: str, limit: int = 200) -> str:
    """`text` with control and format characters (escapes, CR, bidi overrides) as `?`, cut."""
    clean = "".join("?" if unicodedata.category(c).startswith("C") else c for c in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def age_text(seconds: float) -> str:
    """A short age: 45s, 12m, 3h, 2d."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def row_line(row: NodeRow) -> str:
    """One node: name, last run, age, commit (behind?), wave, result, counts, notes."""
    r = row.report
    commit = (r.commit or "none")[:10] + (" behind" if row.behind else "")
    c = r.counts
    counts = (
        f"changed {c.get('changed', 0)} failed {c.get('failed', 0)} "
        f"skipped {c.get('skipped', 0)} total {c.get('total', 0)}"
    )
    wave = f"wave {r.wave}" if r.wave is not None else "wave -"
    result = r.result + (" (noop)" if r.noop else "")
    fields = [safe(r.node, 80), iso(r.last_run), age_text(row.age), commit, wave, result, counts]
    return "  ".join(fields + notes(row))


def notes(row: NodeRow) -> list[str]:
    """The flags after the counts: STALE, disabled and why, drift, held and why."""
    r = row.report
    out = []
    if row.stale:
        out.append("STALE")
    if r.disabled is not None:
        out.append(f"disabled: {safe(r.disabled, 120)}")
    if r.pending_changes:
        out.append(f"pending changes {r.pending_changes}")
    if r.held:
        out.append(f"held: {safe(r.held, 120)}")
    return out


def render_lines(view: FleetView, verbose: bool = False) -> list[str]:
    """The table lines, with failures and messages under a node when `verbose`, then the summary."""
    lines = []
    for row in view.rows:
        lines.append(row_line(row))
        if verbose or row.report.result == "failed":
            for f in row.report.failures[:20]:
                where = f" ({safe(f.file, 120)}:{f.line})" if f.file else ""
                lines.append(f"    {safe(f.ref, 120)}: {safe(f.message)}{where}")
        if verbose:
            lines.extend(f"    note: {safe(m)}" for m in row.report.messages)
    lines.append(view.summary_line())
    return lines
