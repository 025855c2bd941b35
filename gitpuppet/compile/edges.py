"""require/before/notify/subscribe: resolved into edges once every resource is declared."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitpuppet.errors import SourceError, SourcePos, did_you_mean
from gitpuppet.model import Edge, EdgeKind, Ref, Resource
from gitpuppet.resources import checks
from gitpuppet.types import schemas


@dataclass
class Pending:
    """A require/before/notify/subscribe to resolve once everything is declared."""

    meta: str
    source: Ref  # the declaring resource or define use
    target: str
    pos: SourcePos


class EdgeResolution:
    """The Compiler's part that turns pending references into edges (a mixin)."""

    by_ref: dict[Ref, Resource]
    by_path: dict[tuple[str, str], Ref]
    containers: dict[Ref, list[Ref]]
    pending: list[Pending]
    errors: list[SourceError] | None

    if TYPE_CHECKING:

        def collect(self, exc: SourceError) -> None: ...

    def expand(self, ref: Ref) -> list[Ref] | None:
        """The resources a reference stands for; None when it names nothing declared."""
        if ref in self.by_ref:
            return [ref]
        if ref in self.containers:
            return self.containers[ref]
        if (ref.type, ref.title) in self.by_path:  # `file:/etc/motd` for `file: motd`
            return [self.by_path[ref.type, ref.title]]
        return None

    def resolve_edges(self) -> list[Edge]:
        edges: list[Edge] = []
        for p in self.pending:
            try:
                edges += self._pending_edges(p)
            except SourceError as exc:
                if self.errors is None:
                    raise
                self.collect(exc)
        return edges

    def _pending_edges(self, p: Pending) -> list[Edge]:
        """The edges one require/before/notify/subscribe stands for."""
        edges: list[Edge] = []
        try:
            target = Ref.parse(p.target)
        except ValueError as exc:
            raise SourceError(p.pos, f"{p.meta}: {exc}") from None
        if target.type == "class":
            target = Ref("class", target.title)
        spec = schemas().get(target.type)
        if spec is not None and spec.namevar in spec.path_attrs:
            target = Ref(target.type, checks.typed_title(target.type, True, target.title, p.pos))
        members = self.expand(target)
        if members is None:
            same_type = [
                str(r) for r in list(self.by_ref) + list(self.containers) if r.type == target.type
            ]
            raise SourceError(
                p.pos,
                f"{p.meta}: {target} is not declared in this node's catalog",
                did_you_mean(str(target), same_type),
            )
        sources = self.expand(p.source) or []
        kind = EdgeKind.REFRESH if p.meta in ("notify", "subscribe") else EdgeKind.ORDER
        if target == p.source and target in self.by_ref:
            raise SourceError(
                p.pos, f"dependency cycle: {target} {p.meta}s itself", f"remove this {p.meta}"
            )
        for s in sources:
            for t in members:
                if s == t:
                    continue
                if p.meta in ("require", "subscribe"):
                    edges.append(Edge(t, s, kind, p.pos))
                else:
                    edges.append(Edge(s, t, kind, p.pos))
        return edges
