"""Content-addressed copies of every file content a run replaced or removed (SPEC §8).

objects/ab/cdef… holds each content once; index/<hash of path>.jsonl lists a path's versions.
Retention (`backups_keep`): after a run, each path keeps its newest N versions younger than D
days, and objects no index line refers to any more are removed.

A backup that cannot be made (a full state dir) fails the resource before anything is replaced:
the old content is worth more than the change, which the next run makes once there is room.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitpuppet.atomic import open_append_nofollow, read_nofollow, write_atomic
from gitpuppet.errors import ApplyError, GitpuppetError
from gitpuppet.resources.fsutil import WriteBatch, atomic_write, write_temp


@dataclass(slots=True)
class BackupVersion:
    """One saved content of a path; version 1 is the newest."""

    version: int
    path: str
    time: float
    digest: str
    size: int
    mode: int
    uid: int
    gid: int
    # Replaced by a `sensitive` resource: restorable, but never shown (show, diff, digest).
    sensitive: bool = False


class BackupStore:
    """The backups under `<state_dir>/backups`. With `sensitive`, what this store saves is
    marked so: `backup show` and `backup diff` refuse it, `backup list` hides its digest."""

    def __init__(self, state_dir: str | os.PathLike[str], sensitive: bool = False) -> None:
        self.root = Path(state_dir) / "backups"
        self.sensitive = sensitive

    def _index(self, path: str) -> Path:
        return self.root / "index" / (hashlib.sha256(path.encode()).hexdigest() + ".jsonl")

    def _object(self, digest: str) -> Path:
        return self.root / "objects" / digest[:2] / digest[2:]

    def save(
        self,
        path: str,
        data: bytes,
        st: os.stat_result | None = None,
        batch: WriteBatch | None = None,
    ) -> str:
        """Keep `data` as the newest version of `path`; returns its sha256.

        With `batch` (the new content of `path` is staged there too), the copy is staged before
        it and the index line is synced with it: the copy is in place before the new content
        is. An index line whose copy never arrived (a crash before the batch was committed,
        when `path` still holds that very content) is not listed by `versions`."""
        try:
            return self._save(path, data, st, batch)
        except (OSError, ApplyError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else exc.message
            raise ApplyError(
                f"cannot back up {path} into {self.root}: {reason or exc}; "
                f"{path} is left as it was",
                hint="free space in the state dir, or set backup: false on this resource",
            ) from None

    def _save(
        self, path: str, data: bytes, st: os.stat_result | None, batch: WriteBatch | None
    ) -> str:
        digest = hashlib.sha256(data).hexdigest()
        obj = self._object(digest)
        if not obj.exists():
            obj.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if batch is None:
                atomic_write(str(obj), data, mode=0o600)
            else:
                batch.add(write_temp(str(obj), data, mode=0o600, sync=False), str(obj))
        index = self._index(path)
        index.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        entry = {
            "path": path,
            "time": time.time(),
            "digest": digest,
            "size": len(data),
            "mode": (st.st_mode & 0o7777) if st else 0o644,
            "uid": st.st_uid if st else 0,
            "gid": st.st_gid if st else 0,
        }
        if self.sensitive:
            entry["sensitive"] = True
        line = (json.dumps(entry) + "\n").encode()
        fd = open_append_nofollow(index)  # the index name is predictable: never via a link
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # a crash cut the last append short: start a fresh line
            os.write(fd, line)
            if batch is None:
                os.fsync(fd)
            else:
                batch.sync_also(str(index))
        finally:
            os.close(fd)
        return digest

    def versions(self, path: str) -> list[BackupVersion]:
        """Saved versions of `path`, newest first (numbered from 1)."""
        return self._versions_in(self._index(path))

    def _versions_in(self, index: Path) -> list[BackupVersion]:
        entries = [e for e in reversed(self._entries(index)) if self._has(e)]
        return [
            BackupVersion(
                i,
                e["path"],
                e["time"],
                e["digest"],
                e["size"],
                e["mode"],
                e["uid"],
                e["gid"],
                e.get("sensitive") is True,
            )
            for i, e in enumerate(entries, 1)
        ]

    def recent(self, limit: int = 20) -> list[BackupVersion]:
        """The newest `limit` versions of any path, newest first (each numbered within its
        path, as `backup show PATH --version N` takes it)."""
        found: list[BackupVersion] = []
        for index in (self.root / "index").glob("*.jsonl"):
            found.extend(v for v in self._versions_in(index) if isinstance(v.path, str))
        found.sort(key=lambda v: float(v.time), reverse=True)
        return found[:limit]

    def _entries(self, index: Path) -> list[dict[str, Any]]:
        """The index lines of one path, oldest first; torn or foreign lines are passed over."""
        try:
            lines = read_nofollow(index).decode("utf-8", "replace").splitlines()
        except FileNotFoundError:
            return []
        entries = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash mid-append: the others still count
            if isinstance(entry, dict) and isinstance(entry.get("digest"), str):
                entries.append(entry)
        return entries

    def _has(self, entry: dict[str, Any]) -> bool:
        return self._object(entry["digest"]).is_file()

    def read(self, version: BackupVersion) -> bytes:
        """The saved content of one version (never read through a planted link)."""
        return read_nofollow(self._object(version.digest))

    def prune(self, versions: int, max_age: float, now: float | None = None) -> int:
        """Keep, per path, the newest `versions` versions not older than `max_age` seconds;
        then remove objects that no index refers to. Returns the number of versions removed."""
        now = time.time() if now is None else now
        removed = 0
        referenced: set[str] = set()
        for index in sorted((self.root / "index").glob("*.jsonl")):
            entries = self._entries(index)
            live = [e for e in entries if self._has(e)]
            kept = [e for e in live[-versions:] if now - float(e.get("time", 0)) <= max_age]
            referenced.update(e["digest"] for e in kept)
            if len(kept) == len(entries):
                continue
            removed += len(entries) - len(kept)
            if kept:
                text = "".join(json.dumps(e) + "\n" for e in kept)
                write_atomic(index, text.encode(), mode=0o600)
            else:
                index.unlink(missing_ok=True)
        if removed:
            self._remove_unreferenced(referenced)
        return removed

    def _remove_unreferenced(self, referenced: set[str]) -> None:
        for obj in (self.root / "objects").glob("*/*"):
            if obj.parent.name + obj.name not in referenced and not obj.name.startswith("."):
                obj.unlink(missing_ok=True)

    def restore(self, path: str, version: int = 1) -> BackupVersion:
        """Put version N of `path` back (mode and owner too); the current content is saved first."""
        versions = self.versions(path)
        if not versions:
            raise GitpuppetError(f"no backups of {path}")
        if not 1 <= version <= len(versions):
            raise GitpuppetError(f"{path} has versions 1 to {len(versions)}, not {version}")
        chosen = versions[version - 1]
        data = self.read(chosen)
        try:
            st = os.lstat(path)
            with open(path, "rb") as fh:
                # What it replaces is as secret as what it puts back.
                keep = BackupStore(self.root.parent, self.sensitive or chosen.sensitive)
                keep.save(path, fh.read(), st)
        except (FileNotFoundError, IsADirectoryError):
            pass
        atomic_write(path, data, mode=chosen.mode, uid=chosen.uid, gid=chosen.gid)
        return chosen
