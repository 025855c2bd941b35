"""The one registry of resource types: each folder gitpuppet/types/<name>/ is a type.

A folder holds `spec.py` (pure: the `Params` dataclass of the type, its checks, automatic edges
and compile-time content resolution) and the type itself (`type.py`, or the package's
`__init__.py`) with `TYPE`, its `ResourceType`. A spec is imported when the compiler first
needs that type (they are pure); a type's implementation only when a run applies it.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING

from gitpuppet.resources.schema import Params

if TYPE_CHECKING:
    from gitpuppet.contract import ResourceType


class _Specs(MutableMapping[str, "type[Params]"]):
    """Type name -> its parameters class. The names are the folders of this package (sorted);
    a folder's spec is imported the first time its class is asked for, so a compile imports
    the specs of the types it declares and no others (`name in` imports nothing)."""

    def __init__(self) -> None:
        self._names: list[str] | None = None
        self._loaded: dict[str, type[Params]] = {}

    def _folders(self) -> list[str]:
        if self._names is None:
            found = pkgutil.iter_modules(__path__)
            self._names = sorted(info.name for info in found if info.ispkg)
        return self._names

    def __getitem__(self, name: str) -> type[Params]:
        found = self._loaded.get(name)
        if found is None:
            if name not in self._folders():
                raise KeyError(name)
            module = importlib.import_module(f"{__name__}.{name}.spec")
            found = self._loaded[name] = _params_of(module, name)
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._loaded or name in self._folders()

    def __iter__(self) -> Iterator[str]:
        return iter(self._folders())

    def __len__(self) -> int:
        return len(self._folders())

    def __setitem__(self, name: str, cls: type[Params]) -> None:
        if name not in self._folders():
            self._folders().append(name)
        self._loaded[name] = cls

    def __delitem__(self, name: str) -> None:
        self._folders().remove(name)
        self._loaded.pop(name, None)


_SPECS = _Specs()
_TYPES: dict[str, ResourceType] = {}


def schemas() -> MutableMapping[str, type[Params]]:
    """Type name -> its parameters class, for every folder of this package (sorted by name).

    The same mapping on every call: a test may add a type to it."""
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
