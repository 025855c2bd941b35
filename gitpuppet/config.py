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

from gitpuppet.duration import format_duration, parse_duration
from gitpuppet.errors import ConfigError, did_you_mean

__all__ = ["AgentConfig", "load_config", "parse_duration", "write_config", "DEFAULT_PATH"]

DEFAULT_PATH = "/etc/gitpuppet/config.yaml"
DEFAULT_INTERVAL = 30 * 60.0
# Splay defaults to a tenth of the interval: enough to spread a fleet's fetches, short enough
# that a pushed change still lands well within one interval.
SPLAY_FRACTION = 0.1
URL_SCHEMES = ("ssh", "https", "http", "file", "git")


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
    metrics_file: Path | None = None
    reports_repo: str | None = None
    reports_ssh_key: Path | None = None
    facts_d: Path = Path("/etc/gitpuppet/facts.d")
    run_dir: Path = Path("/run/gitpuppet")
    source: Path | None = None  # the file this was read from; None for built-in defaults

    @property
    def lock_file(self) -> Path:
        """The run lock (flock) lives here."""
        return self.run_dir / "run.lock"


class _Problem(ValueError):
    """A bad value; the loader adds the file, line and key."""


# --- value parsers: each takes (value, base folder) and returns the typed value -------------


def _string(value: Any, _base: Path) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Problem(f"expected a non-empty string, got {_show(value)}")
    return value.strip()


def _url(value: Any, base: Path) -> str:
    url = _string(value, base)
    if any(c.isspace() for c in url):
        raise _Problem(f"{url!r} is not a repository URL (it contains a space)")
    scheme, sep, _ = url.partition("://")
    if sep and scheme.lower() not in URL_SCHEMES:
        hint = did_you_mean(scheme.lower(), URL_SCHEMES)
        raise _Problem(
            f"unsupported URL scheme '{scheme}' in {url!r}"
            + (f" ({hint})" if hint else f" (use one of {', '.join(URL_SCHEMES)})")
        )
    return url


def _repo(value: Any, base: Path) -> list[str]:
    if isinstance(value, str):
        return [_url(value, base)]
    if not isinstance(value, list) or not value:
        raise _Problem(f"expected a URL or a list of mirror URLs, got {_show(value)}")
    urls = [_url(item, base) for item in value]
    if len(set(urls)) != len(urls):
        raise _Problem("the same URL is listed twice")
    return urls


def _branch(value: Any, base: Path) -> str:
    name = _string(value, base)
    if (
        name.startswith(("-", "/", "refs/"))
        or ".." in name
        or any(c.isspace() or c in "~^:?*[\\" for c in name)
    ):
        raise _Problem(f"{name!r} is not a valid branch name")
    return name


def _node_name(value: Any, base: Path) -> str:
    name = _string(value, base)
    if any(c.isspace() for c in name):
        raise _Problem(f"{name!r} is not a node name (it contains a space)")
    # Node names match declarations case-insensitively, as DNS names do.
    return name.lower()


def _interval(value: Any, _base: Path) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise _Problem(str(exc)) from None


def _splay(value: Any, _base: Path) -> float:
    try:
        return parse_duration(value, allow_zero=True)
    except ValueError as exc:
        raise _Problem(str(exc)) from None


def _path(value: Any, base: Path) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise _Problem(f"expected a path, got {_show(value)}")
    return base / Path(value.strip()).expanduser()


def _existing_file(value: Any, base: Path) -> Path:
    path = _path(value, base)
    if not path.exists():
        raise _Problem(f"{path} does not exist (create it, or fix the path)")
    if not path.is_file():
        raise _Problem(f"{path} is not a file")
    return path


def _metrics_file(value: Any, _base: Path) -> Path:
    """Absolute, *.prom, in a writable folder. A folder that does not exist yet is accepted: the
    catalog may be what installs node_exporter, and a config error would stop that very run (the
    run says so instead, until the folder is there)."""
    if not isinstance(value, str) or not value.strip():
        raise _Problem(f"expected a path, got {_show(value)}")
    path = Path(value.strip())
    if not path.is_absolute():
        raise _Problem(
            f"{value.strip()!r} is relative; give the absolute path of a file in "
            "node_exporter's textfile folder (e.g. /var/lib/node_exporter/textfile/gitpuppet.prom)"
        )
    if path.suffix != ".prom":
        raise _Problem(
            f"{path} must end in .prom (node_exporter's textfile collector reads only those)"
        )
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise _Problem(f"{folder} is not a folder")
    if path.is_dir():
        raise _Problem(f"{path} is a folder")
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        raise _Problem(
            f"folder {folder} is not writable by this user (the agent writes the file there)"
        )
    return path


def _positive_int(value: Any, _base: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Problem(f"expected a whole number, got {_show(value)}")
    if value < 1:
        raise _Problem(f"must be at least 1, got {value}")
    return value


def _show(value: Any) -> str:
    kind = {dict: "a mapping", list: "a list", bool: "a boolean", type(None): "nothing"}.get(
        type(value)
    )
    return kind or repr(value)


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
    "metrics_file": _metrics_file,
    "reports": lambda v, b: v,
    "facts_d": _path,
    "run_dir": _path,
}
SECTIONS: dict[str, dict[str, Parser]] = {
    "verify": {"allowed_signers": _existing_file},
    "reports": {"repo": _url, "ssh_key": _existing_file},
}
REQUIRED_IN_SECTION = {"verify": "allowed_signers", "reports": "repo"}


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
        except _Problem as exc:
            raise _error(path, line, f"{key}: {exc}") from None
    return _build(values, path, positions)


def _section(name: str, raw: Any, base: Path, path: Path, positions: _Positions) -> dict[str, Any]:
    """Flatten `verify:` / `reports:` into AgentConfig fields, checking each key."""
    if not isinstance(raw, dict):
        required = REQUIRED_IN_SECTION[name]
        raise _Problem(f"expected a mapping such as {{{required}: ...}}, got {_show(raw)}")
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
        except _Problem as exc:
            raise _error(path, line, f"{name}.{key}: {exc}") from None
    required = REQUIRED_IN_SECTION[name]
    if f"{name}_{required}" not in out:
        raise _Problem(f"'{required}' is required in this section")
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
        metrics_file=values.get("metrics_file"),
        reports_repo=values.get("reports_repo"),
        reports_ssh_key=values.get("reports_ssh_key", ssh_key),
        facts_d=values.get("facts_d", Path("/etc/gitpuppet/facts.d")),
        run_dir=values.get("run_dir", Path("/run/gitpuppet")),
        source=path,
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
