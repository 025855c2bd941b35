"""`--tags`: which resources of a catalog a run applies (SPEC §3.1, `apply`/`run --tags`).

Every resource is tagged with its type, its class and its define type, and each dotted prefix of
those names (`base.ntp` is also tagged `base`, as in Puppet), plus its own `tags:`. A run with
tags applies the resources that have at least one of them.
"""

from __future__ import annotations

from collections.abc import Iterable

from gitpuppet.errors import did_you_mean
from gitpuppet.model import Resource, scope_tags


def parse_tags(text: str | None) -> set[str] | None:
    """`a, b,c` as {a, b, c}; None (every resource) for no text or only commas."""
    if not text:
        return None
    tags = {t.strip() for t in text.split(",") if t.strip()}
    return tags or None


def resource_tags(res: Resource) -> set[str]:
    """A resource's tags: its own, plus its type, its class and its define type, with the
    dotted prefixes of both."""
    tags = set(res.tags)
    tags.add(res.type)
    if res.klass:
        tags |= scope_tags(res.klass)
    if res.define:
        tags |= scope_tags(res.define.split(":", 1)[0])
    return tags


def select_tagged(resources: list[Resource], tags: set[str] | None) -> list[Resource]:
    """The resources a run with `tags` applies, in their order (all of them without tags)."""
    if not tags:
        return resources
    return [r for r in resources if resource_tags(r) & tags]


def unknown_tag_warnings(resources: Iterable[Resource], tags: set[str] | None) -> list[str]:
    """One warning per asked tag that no resource of the catalog has (a typo selects nothing
    and would otherwise pass as a run with nothing to do)."""
    if not tags:
        return []
    known: set[str] = set()
    for res in resources:
        known |= resource_tags(res)
    out = []
    for tag in sorted(tags - known):
        hint = did_you_mean(tag, sorted(known))
        out.append(
            f"tag '{tag}' is on no resource of this catalog" + (f" ({hint})" if hint else "")
        )
    return out
