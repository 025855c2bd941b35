"""The paths a catalog manages, so that `purge` never removes one (SPEC §3.2).

Pure: reads resources, touches nothing. The applier computes the set once per run from the whole
catalog (selected by `--tags` or not: an unselected resource is still managed), and a purging
directory asks `Protected` which of its entries belong to someone else.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from gitpuppet.model import Resource


@dataclass(frozen=True, slots=True)
class ManagedPaths:
    """Paths the catalog manages (normalised, absolute); `subtrees` also own what is inside."""

    paths: frozenset[str] = frozenset()
    subtrees: frozenset[str] = frozenset()


def managed_paths(resources: Iterable[Resource]) -> ManagedPaths:
    """Every absolute path that a resource of the catalog manages."""
    paths: set[str] = set()
    subtrees: set[str] = set()
    for res in resources:
        found, whole = res.params.paths_written()  # each type's spec says which
        for path in found:
            if isinstance(path, str) and os.path.isabs(path):
                paths.add(os.path.normpath(path))
                if whole:
                    subtrees.add(os.path.normpath(path))
    return ManagedPaths(frozenset(paths), frozenset(subtrees))


@dataclass(frozen=True, slots=True)
class Protected:
    """The managed paths strictly inside one directory, relative to it.

    `owned(rel)`: another resource manages `rel`, or `rel` lies inside a path whose contents
    another resource owns (a git checkout, a recursive directory). `holds(rel)`: `rel` is a
    directory on the way to a managed path. Neither is ever purged."""

    exact: frozenset[str] = frozenset()
    subtrees: frozenset[str] = frozenset()
    parents: frozenset[str] = frozenset()

    @classmethod
    def under(cls, top: str, managed: ManagedPaths) -> Protected:
        """The part of `managed` inside the directory `top` (itself left out)."""
        prefix = os.path.normpath(top).rstrip("/") + "/"

        def inside(paths: frozenset[str]) -> frozenset[str]:
            return frozenset(m[len(prefix) :] for m in paths if m.startswith(prefix))

        exact = inside(managed.paths)
        parents: set[str] = set()
        for rel in exact:
            parts = rel.split("/")
            parents.update("/".join(parts[:i]) for i in range(1, len(parts)))
        return cls(exact, inside(managed.subtrees), frozenset(parents))

    def owned(self, rel: str) -> bool:
        return rel in self.exact or self.in_subtree(rel)

    def in_subtree(self, rel: str) -> bool:
        """`rel` is, or lies inside, a path whose whole contents another resource owns."""
        if not self.subtrees:
            return False
        parts = rel.split("/")
        return any("/".join(parts[:i]) in self.subtrees for i in range(1, len(parts) + 1))

    def holds(self, rel: str) -> bool:
        return rel in self.parents

    def kept(self, rel: str) -> bool:
        """Never purged: owned by another resource, or on the way to one."""
        return self.owned(rel) or self.holds(rel)
