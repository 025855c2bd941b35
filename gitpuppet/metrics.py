"""Prometheus textfile metrics (SPEC §8), for node_exporter's textfile collector.

Every agent run rewrites the file, whatever its outcome. A textfile is read long after it was
written, so "seconds since the last successful run" is not a number it can hold: it carries
`gitpuppet_last_success_timestamp_seconds` instead, and an alert computes the age at query time,
`time() - gitpuppet_last_success_timestamp_seconds > 2 * 3600` (0 means never, so a node that has
never converged fires too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gitpuppet.atomic import write_atomic
from gitpuppet.model import Status

PREFIX = "gitpuppet_"
STATUSES = tuple(s.value for s in Status)


@dataclass(frozen=True, slots=True)
class RunMetrics:
    """What one run leaves for monitoring; `commit` is the commit last applied on the machine."""

    timestamp: float
    duration: float
    exit_code: int
    statuses: dict[str, int] = field(default_factory=dict)
    refreshed: int = 0
    commit: str | None = None
    node: str | None = None
    environment: str | None = None
    last_success: float | None = None
    fell_back: bool = False
    noop: bool = False
    disabled: bool = False


def escape_label(value: str) -> str:
    """A label value as the text format wants it: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if float(value).is_integer():
        return str(int(value))
    return repr(round(float(value), 6))


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def gauge(self, name: str, help_text: str, samples: list[tuple[dict[str, str], float]]) -> None:
        full = PREFIX + name
        self.lines.append(f"# HELP {full} {_help(help_text)}")
        self.lines.append(f"# TYPE {full} gauge")
        for labels, value in samples:
            inner = ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items())
            self.lines.append(
                f"{full}{{{inner}}} {_number(value)}" if inner else f"{full} {_number(value)}"
            )


def render(m: RunMetrics) -> str:
    """The metrics in the Prometheus text exposition format (0.0.4)."""
    w = _Writer()
    w.gauge(
        "last_run_timestamp_seconds",
        "When the last gitpuppet run started, in Unix time.",
        [({}, m.timestamp)],
    )
    w.gauge("last_run_duration_seconds", "How long the last run took.", [({}, m.duration)])
    w.gauge(
        "last_run_exit_code",
        "Exit code of the last run: 0 converged, 2 changed, 4 failures or the last good commit "
        "applied instead of the branch head, 6 both, 1 nothing applied, 3 skipped.",
        [({}, m.exit_code)],
    )
    w.gauge(
        "last_run_resources",
        "Resources of the last run by status.",
        [({"status": s}, m.statuses.get(s, 0)) for s in STATUSES],
    )
    w.gauge(
        "last_run_refreshed_resources",
        "Resources refreshed (restarted, rerun) by the last run.",
        [({}, m.refreshed)],
    )
    w.gauge(
        "last_run_fell_back",
        "1 when the last run applied the last good commit because the pull, the signature check "
        "or the compile of the branch head failed.",
        [({}, m.fell_back)],
    )
    w.gauge("last_run_noop", "1 when the last run was a --noop run.", [({}, m.noop)])
    w.gauge(
        "last_success_timestamp_seconds",
        "When the last successful run started (exit code 0 or 2, not --noop), in Unix time; "
        "0 if there was none. Its age is time() - this.",
        [({}, m.last_success or 0)],
    )
    labels = {"commit": m.commit or "", "node": m.node or "", "environment": m.environment or ""}
    w.gauge(
        "applied_commit_info",
        "The commit last applied on this node, as the commit label (empty before the first apply).",
        [(labels, 1)],
    )
    w.gauge("disabled", "1 when runs are disabled (gitpuppet disable).", [({}, m.disabled)])
    return "\n".join(w.lines) + "\n"


def write_metrics(path: Path, m: RunMetrics) -> None:
    """Replace `path` atomically, mode 0644 (gitpuppet/atomic.py: a random temp name created
    with O_EXCL|O_NOFOLLOW, renamed over). The textfile folder may belong to the exporter's
    user, who must not be able to make root write elsewhere through a planted link.

    The temp name does not end in .prom, so node_exporter never reads a half-written file. No
    fsync: the file is rewritten by every run, and losing one update to a power cut is harmless.
    Raises StateWriteError naming the path.
    """
    write_atomic(path, render(m).encode("utf-8"), mode=0o644, sync=False)
