"""The data that crosses layers: references, resources, the catalog, changes and results.

The compiler produces a `Catalog`; the applier walks it and produces `Result`s; reports are
made of those. Nothing here touches the machine.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from typing import Any

from gitpuppet.errors import SourcePos


@dataclass(frozen=True, slots=True, order=True)
class Ref:
    """`type:title`, e.g. `file:/etc/motd`, `service:nginx`, `class:nginx`."""

    type: str
    title: str

    def __str__(self) -> str:
        return f"{self.type}:{self.title}"

    @classmethod
    def parse(cls, text: str) -> Ref:
        """Split `type:title` at the first colon; raises ValueError when there is none."""
        kind, sep, title = text.partition(":")
        if not sep or not kind or not title:
            raise ValueError(f"'{text}' is not a reference (write it as type:title)")
        return cls(kind.strip().lower(), title.strip())


def scope_tags(name: str) -> set[str]:
    """The tags a class or define name gives: the name and each dotted prefix of it
    (`base.ntp.server` gives base, base.ntp and base.ntp.server), so `--tags base` selects
    what `base.ntp` declares, as Puppet's class tags do."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


@dataclass(slots=True)
class Resource:
    """One declared resource, its attributes checked against its type's schema.

    `params` is the type's schema dataclass (e.g. FileParams); `pos` is where it was declared,
    `attr_pos` where each attribute was written.
    """

    type: str
    title: str
    params: Any
    pos: SourcePos
    klass: str | None = None  # the class that declared it (directly or through a define)
    define: str | None = None  # `type:title` of the define use it came from, if any
    noop: bool = False
    sensitive: bool = False
    tags: frozenset[str] = frozenset()
    attr_pos: dict[str, SourcePos] = field(default_factory=dict)
    ref: Ref = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.ref = Ref(self.type, self.title)

    @property
    def label(self) -> str:
        """How output names this resource: its reference, or for a sensitive one its label."""
        return sensitive_label(self.ref) if self.sensitive else str(self.ref)


def sensitive_label(ref: Ref) -> str:
    """`exec:[sensitive 3f2a1c]`: a sensitive resource's name in output, never its title.

    The six hex digits are the start of sha256(`type:title`): stable between runs and nodes, so
    an operator can match a line to the resource (`gitpuppet node` prints the same label).
    """
    digest = hashlib.sha256(str(ref).encode("utf-8", "surrogateescape")).hexdigest()[:6]
    return f"{ref.type}:[sensitive {digest}]"


class EdgeKind(enum.StrEnum):
    ORDER = "order"  # require / before / automatic: only ordering
    REFRESH = "refresh"  # notify / subscribe: ordering plus refresh of the target
    AUTO = "auto"  # automatic edge (file after parent dir, service after package ...)


@dataclass(frozen=True, slots=True)
class Edge:
    """`first` is applied before `then`; with REFRESH, a change of `first` refreshes `then`."""

    first: Ref
    then: Ref
    kind: EdgeKind
    pos: SourcePos | None = None
    # Why an automatic edge exists, in a few words (shown in a cycle error); not part of its
    # identity.
    reason: str = field(default="", compare=False)


@dataclass(slots=True)
class Catalog:
    """A node's compiled catalog: resources in apply order, and the edges between them."""

    node: str
    environment: str | None
    resources: list[Resource]  # already in apply order (topologically sorted)
    edges: list[Edge]
    classes: list[str]
    matched: str = ""  # which declaration matched (the key as written)
    matched_pos: SourcePos | None = None
    match_kind: str = ""  # exact, regex, glob or default

    def by_ref(self) -> dict[Ref, Resource]:
        return {r.ref: r for r in self.resources}


class Status(enum.StrEnum):
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    WOULD_CHANGE = "would_change"
    FAILED = "failed"
    SKIPPED = "skipped"


# What a sensitive value is replaced with wherever it would be shown (output, reports, diffs).
REDACTED = "<redacted>"


@dataclass(slots=True)
class Change:
    """One attribute that differs: `diff` is a unified diff for content, when there is one."""

    attr: str
    old: Any
    new: Any
    diff: str | None = None
    redacted: bool = False

    def hidden(self) -> Change:
        """This change with its values and diff replaced: what a sensitive one shows."""
        return Change(self.attr, REDACTED, REDACTED, redacted=True)


@dataclass(slots=True)
class Result:
    """What happened to one resource in a run."""

    ref: Ref
    status: Status
    changes: list[Change] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0
    refreshed: bool = False
    resource: Resource | None = None
    output: str | None = None  # what a failed command printed, kept for the report

    def __post_init__(self) -> None:
        # Made with its changes (outside the applier's walk): a sensitive resource's values are
        # hidden from the start. The walk fills changes in later and redacts when it settles
        # the result (redact.Redactor.result).
        if self.changes and self.resource is not None and self.resource.sensitive:
            self.changes = [c.hidden() for c in self.changes]
