"""The base of every type's parameters (`Params`, `attr`) and the hooks a type's spec fills in.

Pure: no system access, so the compiler can import every spec. A type's spec
(gitpuppet/types/<name>/spec.py) is a dataclass built from `attr` fields whose metadata carries
the `kind`; gitpuppet.types.build turns a YAML mapping into it. The class attributes and
methods below are the hooks the compiler, the graph and the CLI call instead of naming types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from gitpuppet.errors import SourcePos
from gitpuppet.model import Edge, EdgeKind, Ref

Problems = list[tuple[str, str]]


def attr(kind: str, default: Any = None, choices: tuple[str, ...] = (), doc: str = "") -> Any:
    """A schema field: its kind, default and allowed values."""
    meta = {"kind": kind, "choices": choices, "doc": doc}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)  # type: ignore[misc]
    return field(default=default, metadata=meta)


def internal(default: Any = None) -> Any:
    """A field the compiler fills in (resolved content), not settable from YAML."""
    return field(default=default, metadata={"kind": "internal"})


class ContentSources(Protocol):
    """What a spec may read at compile time: the control repo's files/ and templates/."""

    def render_template(self, name: str, scope: dict[str, Any], where: SourcePos) -> str:
        """The rendered text of templates/<name>."""
        ...

    def read_source(self, name: str, where: SourcePos, key: str = "source") -> bytes:
        """The bytes of files/<name>."""
        ...

    def read_source_tree(self, name: str, where: SourcePos) -> dict[str, bytes | None]:
        """Relative path -> bytes (None for a folder) of everything under files/<name>."""
        ...


@dataclass(slots=True)
class EdgeIndex:
    """What a spec's `auto_edges` looks at: the declared (type, title) pairs and, by path,
    the resources whose type `provides_paths` (paths are in their normal form)."""

    declared: set[tuple[str, str]]
    paths: dict[str, Ref]
    edges: list[Edge] = field(default_factory=list)
    # The declared resources by type, for a spec whose edges depend on other resources'
    # attributes (every apt package after every apt_source, nested mounts).
    by_type: dict[str, list[Any]] = field(default_factory=dict)
    # (account kind, name) -> the resource managing that account (a spec's `account_kind`).
    accounts: dict[tuple[str, str], Ref] = field(default_factory=dict)
    # The resources whose spec `installs_software` (packages), for what must follow or precede
    # an installation (a service after its package, an apt source before apt packages).
    software: list[Any] = field(default_factory=list)

    def add(self, first: Ref, then: Ref, reason: str) -> None:
        """`first` goes before `then` (both declared)."""
        if first != then:
            self.edges.append(Edge(first, then, EdgeKind.AUTO, reason=reason))

    def need(self, first: Ref, then: Ref, reason: str) -> None:
        """`first` goes before `then`, when `first` is declared."""
        if (first.type, first.title) in self.declared and first != then:
            self.edges.append(Edge(first, then, EdgeKind.AUTO, reason=reason))

    def need_path(self, path: str, then: Ref, reason: str) -> None:
        """The resource managing `path` goes before `then`, when there is one."""
        found = self.paths.get(path)
        if found is not None and found != then:
            self.edges.append(Edge(found, then, EdgeKind.AUTO, reason=reason))

    def need_account(self, kind: str, name: object, then: Ref) -> None:
        """The resource managing the `kind` account ("user" or "group") named `name` goes
        before `then` (a number names none)."""
        found = self.accounts.get((kind, name)) if isinstance(name, str) else None
        if found is not None and found != then:
            self.edges.append(Edge(found, then, EdgeKind.AUTO, reason=f"automatic: its {kind}"))


class Params:
    """Base of every schema: the namevar, the cross-attribute checks and the spec's hooks."""

    type_name = ""
    namevar = "name"
    # Attributes that are paths on the machine: normalised, `..` refused. A type whose
    # namevar is one of them is titled by a path (one resource per path).
    path_attrs: ClassVar[tuple[str, ...]] = ()
    # Attributes that may hold several lines (only a NUL byte is refused in them).
    multiline: ClassVar[frozenset[str]] = frozenset()
    # True when the title may hold several lines (a command).
    multiline_title: ClassVar[bool] = False
    # Attributes whose values are secret even when the resource is not `sensitive`.
    secret_attrs: ClassVar[frozenset[str]] = frozenset()
    # True when other resources find this type's resources by path in `EdgeIndex.paths`.
    provides_paths: ClassVar[bool] = False
    # The kind of account ("user", "group") this type manages, named by its namevar: other
    # types' owner, group and user attributes are ordered after it (EdgeIndex.need_account).
    account_kind: ClassVar[str | None] = None
    # True for a type that installs software by name (EdgeIndex.software).
    installs_software: ClassVar[bool] = False

    @classmethod
    def resolve(
        cls,
        attrs: dict[str, Any],
        attr_pos: dict[str, SourcePos],
        pos: SourcePos,
        scope: dict[str, Any],
        sources: ContentSources,
    ) -> dict[str, Any]:
        """Compile-time content resolution: values of the `internal` fields, by name (it may
        also normalise `attrs` in place, e.g. a number given as content)."""
        return {}

    def check(self) -> Problems:
        """(attribute, message) pairs for combinations that make no sense."""
        return []

    def text_rules(self) -> Problems:
        """(attribute, message) pairs for names and commands a tool would misread; run after
        the shared text checks (a newline is reported as a newline first)."""
        return []

    def paths_written(self) -> tuple[list[str], bool]:
        """The absolute paths this resource writes, and whether it owns what is inside them
        too (a checkout, a home): a `purge` elsewhere never removes them (managed.py)."""
        return [], False

    def auto_edges(self, ref: Ref, index: EdgeIndex) -> None:
        """Add the automatic edges that end (or start) at this resource to `index`."""

    def shown(self, sensitive: bool) -> dict[str, Any]:
        """What `gitpuppet node` prints for the internal fields (resolved content)."""
        return {}


def owner_edges(ref: Ref, owner: object, group: object, index: EdgeIndex) -> None:
    """The owning user and group of a path go before it."""
    index.need_account("user", owner, ref)
    index.need_account("group", group, ref)
