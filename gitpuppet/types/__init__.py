"""The one registry of resource types: each folder gitpuppet/types/<name>/ is a type.

A folder holds `spec.py` (pure: the `Params` dataclass of the type, its checks, automatic edges
and compile-time content resolution) and the type itself (`type.py`, or the package's
`__init__.py`) with `TYPE`, its `ResourceType`. Specs are imported when the compiler first
needs one (they are cheap and pure); a type's implementation only when a run applies it.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from gitpuppet.resources.schema import Params

if TYPE_CHECKING:
    from gitpuppet.contract import ResourceType

_SPECS: dict[str, type[Params]] = {}
_TYPES: dict[str, ResourceType] = {}


def schemas() -> dict[str, type[Params]]:
    """Type name -> its parameters class, for every folder of this package (sorted by name).

    The same dict on every call: a test may add a type to it."""
    if not _SPECS:
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            if info.ispkg:
                module = importlib.import_module(f"{__name__}.{info.name}.spec")
                _SPECS[info.name] = _params_of(module, info.name)
    return _SPECS


def spec_of(name: str) -> type[Params] | None:
    """The parameters class of type `name`, or None when there is no such type."""
    return schemas().get(name)


def get_type(name: str) -> ResourceType | None:
    """The implementation of type `name`, or None when it is not built yet."""
    found = _TYPES.get(name)
    if found is None:
        if name not in schemas():
            return None
        try:
            module = importlib.import_module(f"{__name__}.{name}.type")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}.type":
                raise
            module = importlib.import_module(f"{__name__}.{name}")
        found = getattr(module, "TYPE", None)
        if found is None:
            return None
        _TYPES[name] = found
    return found


def _params_of(module: object, name: str) -> type[Params]:
    """The `Params` subclass a spec module defines for type `name`."""
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, Params) and value.type_name == name:
            return value
    raise ImportError(f"{module!r} defines no Params subclass with type_name = {name!r}")
