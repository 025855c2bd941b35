"""Which refreshes are due in a run, and which stay pending across runs (SPEC §4.1).

A refresh target becomes due when one of its sources changes; a refresh that could not be
delivered (the run died, the target failed) is remembered in the state dir as pending and is
due again in the next run. The walk (walk.py) delivers them; this only keeps the books.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gitpuppet.model import Ref

NOTIFIERS_SHOWN = 3  # a refresh line names this many of its notifiers, then counts the rest


def notified_by(sources: list[Ref]) -> str:
    """`notified by file:/a, file:/b`, or for many `notified by 1000 resources: file:/a and
    999 more` (one line, whatever the fan-in)."""
    if len(sources) <= NOTIFIERS_SHOWN:
        return f"notified by {', '.join(map(str, sources))}"
    return f"notified by {len(sources)} resources: {sources[0]} and {len(sources) - 1} more"


@dataclass
class Refreshes:
    """Due refreshes (target -> the sources that changed) and the pending set that outlives
    the run; `persist` is called with the new pending set whenever it changes."""

    persist: Callable[[set[str]], None] | None = None
    # Refresh target -> the sources that changed ([] for a refresh left over from a past run).
    due: dict[Ref, list[Ref]] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)

    def carry_over(self, left_over: Iterable[str], in_catalog: dict[str, Ref]) -> None:
        """Make the refreshes left over from an earlier run due again; a refresh for a
        resource that left the catalog can never happen and is forgotten."""
        left = set(left_over)
        for ref_text in left:
            if ref_text in in_catalog:
                self.pending.add(ref_text)
                self.due.setdefault(in_catalog[ref_text], [])
        if self.pending != left:
            self.save()

    def notify(
        self, source: Ref, targets: Iterable[Ref], refreshable: Callable[[Ref], bool]
    ) -> None:
        """`source` changed: make each target due, and remember the refreshable ones until
        delivered."""
        added = False
        for target in targets:
            self.due.setdefault(target, []).append(source)
            if refreshable(target) and str(target) not in self.pending:
                self.pending.add(str(target))
                added = True
        if added:
            self.save()

    def take(self, target: Ref) -> list[Ref] | None:
        """The sources that made `target` due (no longer due after this), or None."""
        return self.due.pop(target, None)

    def delivered(self, target: Ref) -> None:
        """`target`'s refresh is done with: no longer pending."""
        key = str(target)
        if key in self.pending:
            self.pending.discard(key)
            self.save()

    def save(self) -> None:
        if self.persist is not None:
            self.persist(set(self.pending))
