"""Value parsers of the agent config (gitpuppet/config.py): each takes (value, base folder)
and returns the typed value, or raises Problem (the loader adds the file, line and key)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gitpuppet.duration import parse_duration
from gitpuppet.errors import did_you_mean

URL_SCHEMES = ("ssh", "https", "http", "file", "git")


class Problem(ValueError):
    """A bad value; the loader adds the file, line and key."""


def _string(value: Any, _base: Path) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Problem(f"expected a non-empty string, got {_show(value)}")
    return value.strip()


def _url(value: Any, base: Path) -> str:
    url = _string(value, base)
    if any(c.isspace() for c in url):
        raise Problem(f"{url!r} is not a repository URL (it contains a space)")
    scheme, sep, _ = url.partition("://")
    if sep and scheme.lower() not in URL_SCHEMES:
        hint = did_you_mean(scheme.lower(), URL_SCHEMES)
        raise Problem(
            f"unsupported URL scheme '{scheme}' in {url!r}"
            + (f" ({hint})" if hint else f" (use one of {', '.join(URL_SCHEMES)})")
        )
    return url


def _repo(value: Any, base: Path) -> list[str]:
    if isinstance(value, str):
        return [_url(value, base)]
    if not isinstance(value, list) or not value:
        raise Problem(f"expected a URL or a list of mirror URLs, got {_show(value)}")
    urls = [_url(item, base) for item in value]
    if len(set(urls)) != len(urls):
        raise Problem("the same URL is listed twice")
    return urls


def _branch(value: Any, base: Path) -> str:
    name = _string(value, base)
    if (
        name.startswith(("-", "/", "refs/"))
        or ".." in name
        or any(c.isspace() or c in "~^:?*[\\" for c in name)
    ):
        raise Problem(f"{name!r} is not a valid branch name")
    return name


def _node_name(value: Any, base: Path) -> str:
    name = _string(value, base)
    if any(c.isspace() for c in name):
        raise Problem(f"{name!r} is not a node name (it contains a space)")
    # Node names match declarations case-insensitively, as DNS names do.
    return name.lower()


def _interval(value: Any, _base: Path) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise Problem(str(exc)) from None


def _splay(value: Any, _base: Path) -> float:
    try:
        return parse_duration(value, allow_zero=True)
    except ValueError as exc:
        raise Problem(str(exc)) from None


def _path(value: Any, base: Path) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise Problem(f"expected a path, got {_show(value)}")
    return base / Path(value.strip()).expanduser()


def _existing_file(value: Any, base: Path) -> Path:
    path = _path(value, base)
    if not path.exists():
        raise Problem(f"{path} does not exist (create it, or fix the path)")
    if not path.is_file():
        raise Problem(f"{path} is not a file")
    return path


def _metrics_file(value: Any, _base: Path) -> Path:
    """Absolute, *.prom, in a writable folder. A folder that does not exist yet is accepted: the
    catalog may be what installs node_exporter, and a config error would stop that very run (the
    run says so instead, until the folder is there)."""
    if not isinstance(value, str) or not value.strip():
        raise Problem(f"expected a path, got {_show(value)}")
    path = Path(value.strip())
    if not path.is_absolute():
        raise Problem(
            f"{value.strip()!r} is relative; give the absolute path of a file in "
            "node_exporter's textfile folder (e.g. /var/lib/node_exporter/textfile/gitpuppet.prom)"
        )
    if path.suffix != ".prom":
        raise Problem(
            f"{path} must end in .prom (node_exporter's textfile collector reads only those)"
        )
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise Problem(f"{folder} is not a folder")
    if path.is_dir():
        raise Problem(f"{path} is a folder")
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        raise Problem(
            f"folder {folder} is not writable by this user (the agent writes the file there)"
        )
    return path


def _positive_int(value: Any, _base: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Problem(f"expected a whole number, got {_show(value)}")
    if value < 1:
        raise Problem(f"must be at least 1, got {value}")
    return value


def _boolean(value: Any, _base: Path) -> bool:
    if not isinstance(value, bool):
        raise Problem(f"expected true or false, got {_show(value)}")
    return value


def _show(value: Any) -> str:
    kind = {dict: "a mapping", list: "a list", bool: "a boolean", type(None): "nothing"}.get(
        type(value)
    )
    return kind or repr(value)
