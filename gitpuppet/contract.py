"""The resource contract: what every type implements (`ResourceType`), what the applier hands
it (`ApplyContext`), and what comes out (`Change`, `Result`, defined in model.py).

A type reads the current state, computes the difference with the desired one, and applies it.
It never checks noop: the applier does (STYLE.md, "The resource contract").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from gitpuppet.errors import ApplyError
from gitpuppet.managed import ManagedPaths
from gitpuppet.model import Change, Ref, Resource, Result

if TYPE_CHECKING:
    # Annotations only: the contract sits at the bottom, beside model.py; the applier builds
    # the batch from gitpuppet.resources.fsutil.
    from gitpuppet.resources.fsutil import WriteBatch

C = TypeVar("C")


class RunCache:
    """Base of a cached object that some changes make stale: after the applier changed
    something (a resource applied or refreshed, whether it succeeded or not), every such
    object of the run is told which resource it was (`after_change`) and forgets what that may
    have made stale. A change made outside gitpuppet's view (an exec) is a change too."""

    __slots__ = ()

    def after_change(self, res: Resource) -> None:
        """Forget what `res` changing may have made stale (the default keeps everything)."""


class Caches:
    """What types read once for the whole run, one typed object per need.

    `caches.get(AccountsCache)` makes an `AccountsCache()` on first use and hands back the same
    object until `drop(AccountsCache)`; the class is the key, so a type reaches only what it
    imports, and the object's fields say what is kept. Each such class is a small dataclass of
    its own module (accounts, dpkg status, unit states), built without arguments."""

    __slots__ = ("_by_kind",)

    def __init__(self) -> None:
        self._by_kind: dict[type, object] = {}

    def get(self, kind: type[C]) -> C:
        """The run's `kind` object, made on first use."""
        found = self._by_kind.get(kind)
        if found is None:
            found = self._by_kind[kind] = kind()
        return cast(C, found)

    def drop(self, kind: type) -> None:
        """Forget the run's `kind` object (after a change to what it describes)."""
        self._by_kind.pop(kind, None)

    def __contains__(self, kind: type) -> bool:
        return kind in self._by_kind

    def changed(self, res: Resource) -> None:
        """`res` was applied or refreshed: each RunCache of the run forgets what may be stale."""
        for found in list(self._by_kind.values()):
            if isinstance(found, RunCache):
                found.after_change(res)


@dataclass(slots=True)
class ApplyContext:
    """What a type may use while applying: the state dir (backups live under it), the facts,
    and whether to compute content diffs."""

    state_dir: Path
    facts: dict[str, Any] = field(default_factory=dict)
    want_diff: bool = False
    root: Path | None = None  # reserved: a prefix for every managed path (not used yet)
    # Set by the applier while a type with `batch_writes` applies: file replacements are staged
    # there and committed together (fsutil.WriteBatch); None means write and sync right away.
    batch: WriteBatch | None = None
    # Directories already swept of stale temp files in this run.
    swept: set[str] = field(default_factory=set)
    # What a type read once for the whole run (the installed package set, unit states), one
    # typed object per need (Caches); a type drops its object after changing what it describes.
    caches: Caches = field(default_factory=Caches)
    # Every path a resource of the catalog manages (resources/managed.py): purge leaves them.
    managed: ManagedPaths = field(default_factory=ManagedPaths)


class RefreshNotNeeded(Exception):
    """Raised by `refresh` when there was nothing to refresh (a stopped service is not started
    by a refresh): the applier reports the message, and counts no restart."""


class ResourceType:
    """Base class of a type. Subclasses set `name` and implement current/diff/apply."""

    name = ""
    # False for types whose "change" is an action (exec): after applying, the applier does not
    # read the state again to check convergence.
    verify_after_apply = True
    # True when `refresh` does something (service restart, exec with refreshonly).
    refreshable = False
    # True when `apply` may stage its file replacements in `ctx.batch` instead of finishing
    # them: the applier commits the batch and reads the state again before anything that
    # could depend on them runs.
    batch_writes = False
    # True for types that change many resources in one call (a package manager): when the
    # applier reaches a resource of this type, it also reads and diffs every later resource of
    # the type whose dependencies have all settled, and hands those with changes to
    # `apply_many` at once (SPEC §3.2: packages that become ready together are installed in one
    # package-manager call). Each is then read again, settled and reported in its own place.
    apply_together = False

    def current(self, res: Resource, ctx: ApplyContext) -> Any:
        """Read the current state (read only)."""
        raise NotImplementedError

    def diff(self, cur: Any, res: Resource, ctx: ApplyContext) -> list[Change]:
        """What differs between `cur` and the desired state (pure)."""
        raise NotImplementedError

    def apply(self, res: Resource, cur: Any, changes: list[Change], ctx: ApplyContext) -> None:
        """Make the changes; raise ApplyError with a message a person can act on."""
        raise NotImplementedError

    def plan(self, resources: list[Resource], ctx: ApplyContext) -> None:
        """Told once, before the walk, every resource of this type the run will converge, in
        order. Nothing is read here: a type that reads in batches keeps the list, to ask about
        all of them the first time one needs it (the default keeps nothing)."""

    def prefetch(self, resources: list[Resource], ctx: ApplyContext) -> None:
        """For `apply_together` types: read what `current` will need for all of `resources` in
        one go, before they are read one by one (problems are left for `current` to report)."""

    def apply_many(
        self, items: list[tuple[Resource, Any, list[Change]]], ctx: ApplyContext
    ) -> dict[Ref, ApplyError]:
        """Apply several (resource, current, changes) at once; the errors of those that failed.
        The default applies them one by one."""
        errors: dict[Ref, ApplyError] = {}
        for res, cur, changes in items:
            try:
                self.apply(res, cur, changes, ctx)
            except ApplyError as exc:
                errors[res.ref] = exc
        return errors

    def refresh_absorbed(self, changes: list[Change]) -> bool:
        """Whether applying `changes` already did what a due refresh would (a service that this
        run started needs no restart); when not, the refresh follows the change."""
        return True

    def refresh(self, res: Resource, ctx: ApplyContext) -> str | None:
        """React to a notify/subscribe (restart, rerun); returns a message or None."""
        return None


__all__ = [
    "ApplyContext",
    "Caches",
    "Change",
    "RefreshNotNeeded",
    "ResourceType",
    "Result",
    "RunCache",
]
