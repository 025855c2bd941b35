"""The agent config, /etc/gitpuppet/config.yaml (SPEC §7.1, §11).

Every mistake is a ConfigError naming the file, the line and the key: an unknown key (with a
"did you mean"), a bad duration, a wrong type, or a file the config names that does not exist.
Relative paths in the file are taken relative to the folder holding the config file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gitpuppet.config_values import (
    Problem,
    _boolean,
    _branch,
    _existing_file,
    _interval,
    _metrics_file,
    _node_name,
    _path,
    _positive_int,
    _repo,
    _show,
    _splay,
    _url,
)
from gitpuppet.duration import format_duration, parse_duration
from gitpuppet.errors import ConfigError, did_you_mean

__all__ = ["AgentConfig", "load_config", "parse_duration", "write_config", "DEFAULT_PATH"]

DEFAULT_PATH = "/etc/gitpuppet/config.yaml"
DEFAULT_INTERVAL = 30 * 60.0
# Splay defaults to a tenth of the interval: enough to spread a fleet's fetches, short enough
# that a pushed change still lands well within one interval.
SPLAY_FRACTION = 0.1
# Backups kept per path: the newest 10, none older than 90 days (a quarter of history to
# restore from, and a store that stops growing).
DEFAULT_BACKUPS_VERSIONS = 10
DEFAULT_BACKUPS_DAYS = 90


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """The settings of one node's agent; defaults are what a config-less node uses."""

    repo: list[str] = field(default_factory=list)
    branch: str = "production"
    node_name: str | None = None
    interval: float = DEFAULT_INTERVAL
    splay: float = DEFAULT_INTERVAL * SPLAY_FRACTION
    ssh_key: Path | None = None
    known_hosts: Path | None = None
    ca_file: Path | None = None  # CA certificates (PEM) trusted for https, besides the system's
    verify_allowed_signers: Path | None = None
    state_dir: Path = Path("/var/lib/gitpuppet")
    reports_keep: int = 100
    report_unchanged: bool = False  # list unchanged resources in reports (else only counted)
    backups_keep_versions: int = DEFAULT_BACKUPS_VERSIONS  # per path
    backups_keep_days: int = DEFAULT_BACKUPS_DAYS
    metrics_file: Path | None = None
    reports_repo: str | None = None
    reports_ssh_key: Path | None = None
    reports_shards: int = 1  # >1: reports_repo holds `{shard}` (agent/reports.py)
    facts_d: Path = Path("/etc/gitpuppet/facts.d")
    run_dir: Path = Path("/run/gitpuppet")
    source: Path | None = None  # the file this was read from; None for built-in defaults

    @property
    def backups_keep_max_age(self) -> float:
        """How old (seconds) a backup may get before a run removes it."""
        return self.backups_keep_days * 86400.0

    @property
    def lock_file(self) -> Path:
        """The run lock (flock) lives here."""
        return self.run_dir / "run.lock"


Parser = Callable[[Any, Path], Any]
TOP_KEYS: dict[str, Parser] = {
    "repo": _repo,
    "branch": _branch,
    "node_name": _node_name,
    "interval": _interval,
    "splay": _splay,
    "ssh_key": _existing_file,
    "known_hosts": _existing_file,
    "ca_file": _existing_file,
    "verify": lambda v, b: v,  # a section: checked by SECTIONS
    "state_dir": _path,
    "reports_keep": _positive_int,
    "report_unchanged": _boolean,
    "backups_keep": lambda v, b: v,
    "metrics_file": _metrics_file,
    "reports": lambda v, b: v,
    "facts_d": _path,
    "run_dir": _path,
}
SECTIONS: dict[str, dict[str, Parser]] = {
    "verify": {"allowed_signers": _existing_file},
    "reports": {"repo": _url, "ssh_key": _existing_file, "shards": _positive_int},
    "backups_keep": {"versions": _positive_int, "days": _positive_int},
}
REQUIRED_IN_SECTION = {"verify": "allowed_signers", "reports": "repo"}
SECTION_EXAMPLE = {
    "verify": "{allowed_signers: PATH}",
    "reports": "{repo: URL, shards: N}",
    "backups_keep": "{versions: 10, days: 90}",
}
# One line per key, for the generated reference (gitpuppet.reference); a section's keys are
# `section.key`. A new key needs its line here (tests/unit/test_reference.py says so).
KEY_DOCS: dict[str, str] = {
    "repo": "the control repo's URL (ssh, https, file, git), or a list of mirrors of it",
    "branch": "the branch this node follows (its environment)",
    "node_name": "the name matched against node declarations (lower-cased)",
    "interval": "time between runs (30m, 1h, 90s)",
    "splay": "the longest delay before a run, spread over the fleet by node name",
    "ssh_key": "the private key for ssh URLs (a read-only deploy key)",
    "known_hosts": "the known_hosts file for ssh URLs; an unknown host key is refused",
    "ca_file": "CA certificates (PEM) trusted for https, besides the system's",
    "verify.allowed_signers": "apply only commits signed by these keys (ssh-keygen -Y format)",
    "state_dir": "where the node's clone, state, reports and backups live (root's alone)",
    "reports_keep": "how many run reports are kept",
    "report_unchanged": "list unchanged resources in reports (else they are only counted)",
    "backups_keep.versions": "backups kept per path, newest first",
    "backups_keep.days": "backups older than this many days are removed",
    "metrics_file": "a Prometheus textfile (absolute, *.prom) rewritten by every run",
    "reports.repo": "a git repository each run's summary is pushed to, for the fleet view",
    "reports.ssh_key": "the private key for an ssh reports.repo",
    "reports.shards": "how many repositories the reports are spread over ({shard} in the URL; halt markers in the 'halt' one)",
    "facts_d": "a folder of extra facts: .yaml/.json files, executables printing either",
    "run_dir": "where the run lock lives",
}
# Defaults that are not a plain value of AgentConfig.
DEFAULT_DOCS: dict[str, str] = {
    "repo": "none (needed by pull and run)",
    "node_name": "the machine's FQDN",
    "splay": "a tenth of interval",
    "reports.ssh_key": "ssh_key",
}


# --- positions ------------------------------------------------------------------------------


class _Positions:
    """Lines of keys and values, from the composed YAML node tree."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.lines: dict[tuple[str, ...], int] = {}
        self.duplicates: list[tuple[tuple[str, ...], int, int]] = []
        if isinstance(root, yaml.MappingNode):
            self._walk(root, ())

    def _walk(self, node: yaml.MappingNode, prefix: tuple[str, ...]) -> None:
        for key_node, value_node in node.value:
            key = (*prefix, str(key_node.value))
            line = key_node.start_mark.line + 1
            if key in self.lines:
                self.duplicates.append((key, self.lines[key], line))
            self.lines[key] = line
            if isinstance(value_node, yaml.MappingNode) and not prefix:
                self._walk(value_node, key)

    def line(self, key: tuple[str, ...]) -> int:
        """The line of `key`, else of its closest enclosing key, else 0."""
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return 0


def _error(path: Path, line: int, message: str, hint: str | None = None) -> ConfigError:
    where = f"{path}:{line}" if line else str(path)
    return ConfigError(f"{where}: {message}", hint)


# --- loading --------------------------------------------------------------------------------


def load_config(path: str | Path = DEFAULT_PATH, required: bool = True) -> AgentConfig:
    """Read and check the agent config; without a file, defaults (or an error if `required`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if not required:
            return AgentConfig()
        raise ConfigError(
            f"{path}: no agent config",
            "run `gitpuppet bootstrap URL` to create it, or give --config PATH",
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"{path}: cannot read the agent config: {reason}") from None
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> AgentConfig:
    """Check the config `text` read from `path` (used for messages and relative paths)."""
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)
        positions = _Positions(yaml.compose(text, Loader=yaml.CSafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise _error(path, line, f"invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise _error(path, 0, f"invalid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _error(path, 1, f"expected a mapping of settings, got {_show(data)}")
    if positions.duplicates:
        key, first, again = positions.duplicates[0]
        raise _error(path, again, f"'{'.'.join(key)}' is set twice (also on line {first})")
    base = path.parent.absolute()
    values: dict[str, Any] = {}
    for key, raw in data.items():
        line = positions.line((str(key),))
        if key not in TOP_KEYS:
            raise _error(path, line, f"unknown key '{key}'", did_you_mean(str(key), TOP_KEYS))
        if raw is None:
            continue  # `key: ~` or an empty value: the default
        try:
            if key in SECTIONS:
                values.update(_section(key, raw, base, path, positions))
            else:
                values[key] = TOP_KEYS[key](raw, base)
        except Problem as exc:
            raise _error(path, line, f"{key}: {exc}") from None
    return _build(values, path, positions)


def _section(name: str, raw: Any, base: Path, path: Path, positions: _Positions) -> dict[str, Any]:
    """Flatten `verify:` / `reports:` into AgentConfig fields, checking each key."""
    if not isinstance(raw, dict):
        raise Problem(f"expected a mapping such as {SECTION_EXAMPLE[name]}, got {_show(raw)}")
    parsers = SECTIONS[name]
    out: dict[str, Any] = {}
    for key, value in raw.items():
        line = positions.line((name, str(key)))
        if key not in parsers:
            raise _error(path, line, f"unknown key '{name}.{key}'", did_you_mean(str(key), parsers))
        if value is None:
            continue
        try:
            out[f"{name}_{key}"] = parsers[key](value, base)
        except Problem as exc:
            raise _error(path, line, f"{name}.{key}: {exc}") from None
    required = REQUIRED_IN_SECTION.get(name)
    if required is not None and f"{name}_{required}" not in out:
        raise Problem(f"'{required}' is required in this section")
    return out


def _build(values: dict[str, Any], path: Path, positions: _Positions) -> AgentConfig:
    interval = values.get("interval", DEFAULT_INTERVAL)
    splay = values.get("splay", interval * SPLAY_FRACTION)
    if splay > interval:
        raise _error(
            path,
            positions.line(("splay",)),
            f"splay: {format_duration(splay)} is longer than the interval "
            f"({format_duration(interval)})",
            "a node must start its run before the next one is due; shorten the splay",
        )
    _check_shards(values, path, positions)
    ssh_key = values.get("ssh_key")
    return AgentConfig(
        repo=values.get("repo", []),
        branch=values.get("branch", "production"),
        node_name=values.get("node_name"),
        interval=interval,
        splay=splay,
        ssh_key=ssh_key,
        known_hosts=values.get("known_hosts"),
        ca_file=values.get("ca_file"),
        verify_allowed_signers=values.get("verify_allowed_signers"),
        state_dir=values.get("state_dir", Path("/var/lib/gitpuppet")),
        reports_keep=values.get("reports_keep", 100),
        report_unchanged=values.get("report_unchanged", False),
        backups_keep_versions=values.get("backups_keep_versions", DEFAULT_BACKUPS_VERSIONS),
        backups_keep_days=values.get("backups_keep_days", DEFAULT_BACKUPS_DAYS),
        metrics_file=values.get("metrics_file"),
        reports_repo=values.get("reports_repo"),
        reports_ssh_key=values.get("reports_ssh_key", ssh_key),
        reports_shards=values.get("reports_shards", 1),
        facts_d=values.get("facts_d", Path("/etc/gitpuppet/facts.d")),
        run_dir=values.get("run_dir", Path("/run/gitpuppet")),
        source=path,
    )


def _check_shards(values: dict[str, Any], path: Path, positions: _Positions) -> None:
    """`reports.shards` > 1 needs `{shard}` in the URL, and `{shard}` needs shards > 1."""
    url = values.get("reports_repo")
    if url is None:
        return
    shards = values.get("reports_shards", 1)
    if shards > 1 and "{shard}" not in url:
        raise _error(
            path,
            positions.line(("reports", "repo")),
            f"reports.repo: {shards} shards need '{{shard}}' in the URL",
            "write the URL as e.g. ssh://git@host/reports-{shard}.git (one repository per shard "
            "and reports-halt.git for halt markers), or remove shards",
        )
    if shards == 1 and "{shard}" in url:
        raise _error(
            path,
            positions.line(("reports", "repo")),
            "reports.repo: '{shard}' in the URL but no 'shards' (more than 1) is set",
            "add shards: N to the reports section, or name one repository",
        )


# --- writing (bootstrap) --------------------------------------------------------------------


def write_config(path: str | Path, cfg: dict[str, Any]) -> AgentConfig:
    """Write `cfg` as the agent config atomically (mode 0600) and return it as loaded.

    The new text is checked before it replaces the old file, so a bad setting never leaves a
    node without a working config.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    text = "# gitpuppet agent config (SPEC §7.1); written by gitpuppet\n" + yaml.safe_dump(
        _plain(cfg), default_flow_style=False, sort_keys=False
    )
    loaded = parse_config(text, path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return loaded


def _plain(value: Any) -> Any:
    """Paths to strings, recursively, so safe_dump accepts what a caller passes."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
