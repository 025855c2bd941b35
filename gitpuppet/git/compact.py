"""Keep the node's clone small: one pack of the commits gitpuppet keeps, and nothing else.

libgit2 has no gc. Every fetch adds a pack of what is new, a file:// clone starts with the whole
history (libgit2's local transport cannot fetch shallow), and a force push leaves the old commits
behind, so without help the clone grows with the repository's history. `compact` rewrites the
object store as one pack holding the kept commits (each with its tree and blobs, no history
beyond them), lists the commits whose parents are gone in `shallow` (as a shallow clone does,
so walks stop there instead of failing) and deletes every other pack and loose object.

Each step leaves a readable repository: the new pack is in place before `shallow` changes, and
both before an old object goes. A crash half-way costs disk, never a commit.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pygit2
from pygit2.enums import ReferenceType

# Compact when the packs have grown to this many times their size after the last compaction
# (what came since is as big as what is kept), or when there are this many packs (each fetch
# adds one, and every object lookup searches each pack's index).
GROWTH = 1.5
MAX_PACKS = 16
BASELINE_KEY = "gitpuppet.packbytes"


@dataclass(frozen=True, slots=True)
class PackStats:
    """The packs of an object store: how many, and their bytes (.pack + .idx)."""

    packs: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Compaction:
    """What a compaction did: object store bytes before and after, objects and commits kept."""

    before: int
    after: int
    objects: int
    commits: int
    shallow: int


def pack_stats(repo_path: Path) -> PackStats:
    """Count and size the packs (cheap: one folder listing, no object reads)."""
    count = size = 0
    try:
        with os.scandir(repo_path / "objects" / "pack") as entries:
            for entry in entries:
                if entry.name.endswith((".pack", ".idx")):
                    size += entry.stat().st_size
                    count += entry.name.endswith(".pack")
    except FileNotFoundError:
        pass
    return PackStats(count, size)


def store_bytes(repo_path: Path) -> int:
    """Bytes of every file under objects/ (packs and loose objects)."""
    return sum(p.stat().st_size for p in (repo_path / "objects").rglob("*") if p.is_file())


def due(repo: pygit2.Repository, repo_path: Path) -> bool:
    """True when the store has grown enough since the last compaction (or never had one)."""
    stats = pack_stats(repo_path)
    baseline = _baseline(repo)
    if baseline is None or stats.packs > MAX_PACKS:
        return True
    return stats.bytes > GROWTH * baseline


def _baseline(repo: pygit2.Repository) -> int | None:
    try:
        return int(repo.config[BASELINE_KEY] or "")
    except (KeyError, ValueError, pygit2.GitError):
        return None


def raw_parents(repo: pygit2.Repository, commit_id: str) -> list[str]:
    """The parents a commit names (libgit2 hides those of a shallow root; this does not)."""
    _, data = repo.odb.read(commit_id)
    parents = []
    for line in bytes(data).split(b"\n"):
        if not line:
            break  # end of the header
        if line.startswith(b"parent "):
            parents.append(line[7:].decode("ascii"))
    return parents


def read_shallow(repo_path: Path) -> str | None:
    """The text of the `shallow` file, None when there is none."""
    try:
        return (repo_path / "shallow").read_text(encoding="ascii")
    except FileNotFoundError:
        return None


def write_shallow(repo_path: Path, text: str | None) -> None:
    """Replace (atomically) or remove the `shallow` file."""
    target = repo_path / "shallow"
    if not text:
        target.unlink(missing_ok=True)
        return
    fd, tmp = tempfile.mkstemp(prefix=".shallow.", dir=repo_path)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def compact(repo: pygit2.Repository, repo_path: Path, keep: list[str]) -> Compaction:
    """Rewrite the store as one pack of `keep` (commit ids); drop every other object.

    The caller must hold the run lock and reopen its Repository afterwards. References other
    than those pointing at a kept commit are deleted, since their objects are gone.
    """
    kept = list(dict.fromkeys(keep))
    before = store_bytes(repo_path)
    pack_dir = repo_path / "objects" / "pack"
    pack_dir.mkdir(parents=True, exist_ok=True)
    old = [p for p in (repo_path / "objects").rglob("*") if p.is_file()]
    builder = pygit2.PackBuilder(repo)
    for commit_id in kept:
        builder.add_recur(pygit2.Oid(hex=commit_id))  # the commit, its tree and blobs
    staging = Path(tempfile.mkdtemp(prefix=".compact-", dir=repo_path))
    try:
        builder.write(str(staging))
        written = builder.written_objects_count
        new = []
        # .pack before .idx: a pack is only used once its index is there.
        for file in sorted(staging.iterdir(), key=lambda f: f.suffix != ".pack"):
            os.replace(file, pack_dir / file.name)
            new.append(pack_dir / file.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    keep_set = set(kept)
    roots = sorted(c for c in kept if any(p not in keep_set for p in raw_parents(repo, c)))
    write_shallow(repo_path, "".join(f"{c}\n" for c in roots))
    _drop_refs(repo, keep_set)
    for path in old:
        if path not in new:
            path.unlink(missing_ok=True)
    after = store_bytes(repo_path)
    repo.config[BASELINE_KEY] = str(pack_stats(repo_path).bytes)
    return Compaction(before, after, written, len(kept), len(roots))


def _drop_refs(repo: pygit2.Repository, keep: set[str]) -> None:
    """Delete refs (auto-followed tags, strays) whose target is not a kept commit."""
    for name in list(repo.references):
        try:
            ref = repo.references[name]
            if ref.type == ReferenceType.SYMBOLIC or str(ref.target) in keep:
                continue
        except (pygit2.GitError, KeyError, ValueError):
            pass
        repo.references.delete(name)
