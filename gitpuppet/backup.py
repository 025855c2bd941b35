"""Content-addressed copies of every file content a run replaced or removed (SPEC §8).

objects/ab/cdef… holds each content once; index/<hash of path>.jsonl lists a path's versions.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from gitpuppet.errors import GitpuppetError
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


class BackupStore:
    """The backups under `<state_dir>/backups`."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.root = Path(state_dir) / "backups"

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
        line = (json.dumps(entry) + "\n").encode()
        fd = os.open(index, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
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
        try:
            lines = self._index(path).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        entries = []
        for line in lines:
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a crash mid-append: the others still count
        entries.reverse()
        entries = [e for e in entries if self._object(e["digest"]).exists()]
        return [
            BackupVersion(
                i, e["path"], e["time"], e["digest"], e["size"], e["mode"], e["uid"], e["gid"]
            )
            for i, e in enumerate(entries, 1)
        ]

    def read(self, version: BackupVersion) -> bytes:
        return self._object(version.digest).read_bytes()

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
                self.save(path, fh.read(), st)
        except (FileNotFoundError, IsADirectoryError):
            pass
        atomic_write(path, data, mode=chosen.mode, uid=chosen.uid, gid=chosen.gid)
        return chosen
