"""`gitpuppet status [--json]`: last run, applied commit, disabled or not, next run.

The next run is shown only when something will start one: the systemd timer, the cron job
`bootstrap --cron` writes, or a running `gitpuppet agent`. A noop run's changes are "pending
changes", never "changed": nothing was changed."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import click

from gitpuppet.cli.app import App, common_options

CRON_FILE = Path("/etc/cron.d/gitpuppet")  # as agent/bootstrap.py writes it
NOT_SCHEDULED = (
    "not scheduled (no timer, cron job or agent loop; `gitpuppet bootstrap` sets one up)"
)


def _next_from_timer() -> float | None:
    """The timer's next elapse (epoch seconds), when systemd has a gitpuppet.timer."""
    if not Path("/run/systemd/system").exists() or not shutil.which("systemctl"):
        return None
    try:
        out = subprocess.run(
            [
                "systemctl",
                "show",
                "gitpuppet.timer",
                "-p",
                "NextElapseUSecRealtime",
                "--value",
                "--timestamp=unix",
            ],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.startswith("@"):
        try:
            return float(out[1:])
        except ValueError:
            return None
    return None


def collect(config_path: str) -> dict[str, Any]:
    """Everything status shows, as plain data."""
    from gitpuppet.agent.disable import disabled
    from gitpuppet.config import load_config
    from gitpuppet.redact import redact_url
    from gitpuppet.report import shown_result
    from gitpuppet.rollout.record import load_rollout_status, status_lines
    from gitpuppet.state import load_state

    config = load_config(config_path, required=False)
    state = load_state(config.state_dir)
    summary: dict[str, Any] = {}
    try:
        summary = json.loads((Path(config.state_dir) / "last_run_summary.json").read_text())
    except (OSError, ValueError):
        pass
    off = disabled(config.state_dir)
    next_run, source = _next_run(config, state.last_run_time)
    noop = bool(summary.get("noop"))
    counts = summary.get("counts", {})
    return {
        "node": state.node or config.node_name,
        "last_run_time": state.last_run_time,
        "applied_commit": state.applied_commit,
        "last_good_commit": state.last_good_commit,
        "last_success_time": state.last_success_time,
        "result": shown_result(state.last_run_result, noop),
        "exit_code": state.last_exit_code,
        "noop": noop,
        "pending_changes": counts.get("out_of_sync", 0) if noop else 0,
        "counts": counts,
        "messages": [redact_url(str(m)) for m in summary.get("messages", [])],
        "disabled": off is not None,
        "disabled_reason": off.describe() if off else None,
        "next_run": next_run,
        "next_run_source": source,
        "rollout": _rollout(load_rollout_status(config.state_dir), status_lines, redact_url),
    }


def _next_run(config: Any, last_run: float | None) -> tuple[float | None, str | None]:
    """When the next run starts and what starts it; (None, None) when nothing will."""
    from gitpuppet.agent.lock import agent_running

    at = _next_from_timer()
    if at is not None:
        return at, "timer"
    for source, present in (
        ("agent loop", lambda: agent_running(config.run_dir)),
        ("cron", lambda: CRON_FILE.is_file()),
    ):
        if present():
            base = last_run if last_run is not None else time.time()
            return base + config.interval, source
    return None, None


def _rollout(status: Any, lines: Any, redact: Any) -> dict[str, Any] | None:
    """The rollout's last decision (rollout.json) with its status lines, redacted."""
    if status is None:
        return None
    data = {k: redact(v) if isinstance(v, str) else v for k, v in vars(status).items()}
    data["lines"] = [[label, redact(text)] for label, text in lines(status)]
    return data


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts)) if ts else "never"


@click.command(help="The last run, the applied commit, disabled or not, the next run.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@common_options
def command(app: App, as_json: bool) -> None:
    """Print the status; exit 0."""
    data = collect(app.config_path)
    if as_json:
        app.json(data)
        return
    counts = _counts_text(data["counts"], data["noop"])
    app.out(f"node:        {data['node'] or '?'}")
    app.out(
        f"last run:    {_when(data['last_run_time'])} ({data['result'] or '-'}, "
        f"exit {data['exit_code'] if data['exit_code'] is not None else '-'})"
    )
    app.out(f"commit:      {data['applied_commit'] or '-'}")
    app.out(f"last good:   {data['last_good_commit'] or '-'}")
    app.out(f"converged:   {_when(data['last_success_time'])} (last clean run of the branch head)")
    app.out(f"counts:      {counts}")
    for message in data["messages"]:
        if message.startswith("held: "):  # the node refused to move backwards (SPEC §7.2)
            app.out(f"held:        {message.removeprefix('held: ')}")
        else:
            app.out(f"note:        {message}")
    for label, text in (data["rollout"] or {}).get("lines", []):
        app.out(f"{label + ':':<12} {text}")
    app.out(f"disabled:    {data['disabled_reason'] or 'no'}")
    if data["next_run_source"] is None:
        app.out(f"next run:    {NOT_SCHEDULED}")
    else:
        app.out(f"next run:    {_when(data['next_run'])} ({data['next_run_source']})")


def _counts_text(counts: dict[str, Any], noop: bool) -> str:
    """`3 changed, 120 total`; after a noop run `3 pending` (nothing changed)."""
    if noop:
        rest = {k: v for k, v in counts.items() if k not in ("changed", "out_of_sync")}
        counts = {"pending": counts.get("out_of_sync", 0), **rest}
    return ", ".join(f"{v} {k}" for k, v in counts.items() if v) or "-"
