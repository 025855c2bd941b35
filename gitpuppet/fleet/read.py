"""Read every node's report from the fetched shard caches (with the parsed-summary cache).

Per shard: each `nodes/*` branch tip is looked up in the shard's summary cache (by commit id);
only a branch whose tip moved (or whose entry is refused) is read from git objects. facts.json
is read only when asked for (the page and --json show facts, the terminal lines do not).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pygit2

from gitpuppet.fleet.cache import SummaryCache, cache_file, load
from gitpuppet.fleet.fetch import node_tips
from gitpuppet.fleet.summary import (
    BadReport,
    NodeReport,
    parse_report,
    read_report,
    report_record,
    valid_node_name,
    with_facts_of,
)


@dataclass
class ReadStats:
    """How many branches came from the cache and how many were read from git."""

    cached: int = 0
    read: int = 0


@dataclass
class _Found:
    reports: dict[str, NodeReport] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    stats: ReadStats = field(default_factory=ReadStats)


def read_reports(
    repos: list[pygit2.Repository],
    with_facts: bool = True,
    use_cache: bool = False,
    stats: ReadStats | None = None,
) -> tuple[list[NodeReport], list[str]]:
    """Every readable node report of the fetched caches, and a warning per skipped branch.

    `use_cache`: read and update each shard's summary cache (only for the fleet's own cache
    repositories: it writes a file into each)."""
    found = _Found(stats=stats or ReadStats())
    for repo in repos:
        cache = load(cache_file(repo.path)) if use_cache else None
        for node, commit in node_tips(repo):
            report = _one(repo, node, commit, with_facts, cache, found)
            if report is not None:
                _add(found, report)
        if cache is not None:
            warning = cache.save()
            if warning:
                found.warnings.append(warning)
    return list(found.reports.values()), found.warnings


def _one(
    repo: pygit2.Repository,
    node: str,
    commit: pygit2.Commit | None,
    with_facts: bool,
    cache: SummaryCache | None,
    found: _Found,
) -> NodeReport | None:
    label = node if valid_node_name(node) else repr(node)
    if commit is None:
        found.warnings.append(f"nodes/{label}: the branch tip is not a commit; skipped")
        return None
    key = str(commit.id)
    report = _from_cache(cache, key, node)
    try:
        if report is None:
            report = read_report(repo, commit, node, with_facts=False)
            found.stats.read += 1
        else:
            found.stats.cached += 1
        if cache is not None:
            cache.keep(key, report_record(report))
        if with_facts:
            report = with_facts_of(repo, commit.peel(pygit2.Tree), report)
    except BadReport as exc:
        found.warnings.append(f"nodes/{label}: {exc}; skipped")
        return None
    return report


def _from_cache(cache: SummaryCache | None, key: str, node: str) -> NodeReport | None:
    """The cached report of tip `key`, checked as git data is; None when absent or refused."""
    record = None if cache is None else cache.entries.get(key)
    if record is None:
        return None
    try:
        return parse_report(node, record, record.get("failures"))
    except (BadReport, TypeError, ValueError, RecursionError):
        return None  # a damaged or forged entry: read the branch from git instead


def _add(found: _Found, report: NodeReport) -> None:
    old = found.reports.get(report.node)
    if old is not None:
        found.warnings.append(
            f"nodes/{report.node}: reported in two shards; the newer report is shown"
        )
        if old.last_run >= report.last_run:
            return
    found.reports[report.node] = report
