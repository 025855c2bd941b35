"""Resource types: one module per type. `get_type` imports a type only when a run needs it."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitpuppet.resources.base import ResourceType

_MODULES = {
    "file": "gitpuppet.resources.file",
    "exec": "gitpuppet.resources.exec",
    "line": "gitpuppet.resources.line",
    "host": "gitpuppet.resources.host",
    "package": "gitpuppet.resources.package",
    "service": "gitpuppet.resources.service",
    "user": "gitpuppet.resources.user",
    "group": "gitpuppet.resources.group",
    "cron": "gitpuppet.resources.cron",
    "git": "gitpuppet.resources.git",
    "sysctl": "gitpuppet.types.sysctl",
    "mount": "gitpuppet.types.mount",
    "apt_source": "gitpuppet.types.apt_source",
    "ini_setting": "gitpuppet.types.ini_setting",
}
_CACHE: dict[str, ResourceType] = {}


def get_type(name: str) -> ResourceType | None:
    """The implementation of type `name`, or None when it is not built yet."""
    if name not in _CACHE:
        module_name = _MODULES.get(name)
        if module_name is None:
            return None
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise
        _CACHE[name] = module.TYPE
    return _CACHE[name]
