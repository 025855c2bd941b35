"""The parsed-summary cache of one fetched shard: a repeat reads only the branches that moved.

A JSON file inside the shard's cache repository maps a branch tip (commit id) to the report
read from it, in summary.json's shape (`summary.report_record`). It is only a shortcut, never a
source: an entry is used for a branch only when the branch's tip is its key, and it passes
through the same `parse_report` as the git objects (node name, shapes, caps), so a hostile or
damaged entry is refused and that branch is read from git again. A file that is a link, not a
regular file, not ours, writable by others, too large, not JSON or of another format is ignored
as a whole (and written anew). Writes are atomic (gitpuppet/atomic.py), mode 0600.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitpuppet.atomic import StateWriteError, write_atomic
from gitpuppet.fleet.summary import SHA

CACHE_NAME = "fleet-summaries.json"
FORMAT = "gitpuppet-fleet-summaries/1"
MAX_CACHE_BYTES = 32 * 1024 * 1024  # checked before reading; entries past it are not written
MAX_ENTRY_BYTES = 16 * 1024  # a bigger report (a hostile one) is read from git every time
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


@dataclass
class SummaryCache:
    """The entries read from the cache file, and the ones to write back after this run."""

    path: Path
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    ignored: str | None = None  # why the file on disk was not used
    fresh: dict[str, dict[str, Any]] = field(default_factory=dict)

    def keep(self, commit_id: str, record: dict[str, Any]) -> None:
        """Remember `record` as the report of the branch tip `commit_id`."""
        self.fresh[commit_id] = record

    def save(self) -> str | None:
        """Write the kept entries when they differ from the file's; a warning if it fails."""
        if self.fresh == self.entries and self.ignored is None:
            return None
        try:
            write_atomic(self.path, encode(self.fresh), mode=0o600, sync=False)
        except StateWriteError as exc:
            return f"fleet cache not written: {exc}"
        return None


def cache_file(repo_path: str | os.PathLike[str]) -> Path:
    """The cache file of the shard cache repository at `repo_path` (its git dir)."""
    return Path(repo_path) / CACHE_NAME


def load(path: Path) -> SummaryCache:
    """The cache at `path`: its entries, or none (and why) when the file cannot be trusted."""
    cache = SummaryCache(path)
    try:
        data = _read_capped(path)
    except FileNotFoundError:
        return cache
    except (OSError, ValueError) as exc:
        cache.ignored = str(exc)
        return cache
    try:
        cache.entries = decode(data)
    except ValueError as exc:
        cache.ignored = str(exc)
    return cache


def _read_capped(path: Path) -> bytes:
    """The file's bytes: a regular file of ours, not writable by others, under the cap."""
    fd = os.open(path, _READ)  # ELOOP for a link: never read through one
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
        if st.st_uid != os.geteuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise ValueError("not this user's alone (owner or mode)")
        if st.st_size > MAX_CACHE_BYTES:
            raise ValueError(f"{st.st_size} bytes (at most {MAX_CACHE_BYTES} are read)")
        chunks = []
        left = MAX_CACHE_BYTES + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        if left <= 0:
            raise ValueError("grew past the cap while read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def decode(data: bytes) -> dict[str, dict[str, Any]]:
    """The entries of a cache file's bytes; ValueError when it is not one (entries are
    checked one by one later, by `parse_report`)."""
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValueError("not valid JSON") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ValueError("not a fleet cache of this version")
    entries = raw.get("entries")
    if not isinstance(entries, dict):
        raise ValueError("its entries are not an object")
    return {k: v for k, v in entries.items() if SHA.match(k) and isinstance(v, dict)}


def encode(entries: dict[str, dict[str, Any]]) -> bytes:
    """The file's bytes for `entries`: big entries left out, the whole under the cap."""
    parts, size = [], 100
    for commit_id, record in entries.items():
        text = json.dumps(record, separators=(",", ":"))  # ASCII: one byte per character
        if len(text) > MAX_ENTRY_BYTES or size + len(text) + 45 > MAX_CACHE_BYTES:
            continue
        parts.append(f'"{commit_id}":{text}')
        size += len(text) + 45
    body = f'{{"format":"{FORMAT}","entries":{{' + ",".join(parts) + "}}\n"
    return body.encode("ascii")
