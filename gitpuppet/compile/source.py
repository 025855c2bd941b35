"""Where the compiler reads the control repo from: a directory, or one commit's git tree.

Paths are POSIX, relative to the repo root, never starting with '/'. The compiler only sees
this interface, so a run compiles exactly the tree of the commit it chose and nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol


class SourceTree(Protocol):
    """Read-only view of a control repo."""

    label: str  # for messages: a directory path or "commit 1a2b3c4"

    def read_bytes(self, path: str) -> bytes:
        """The file's bytes; raises FileNotFoundError when absent or not a file."""
        ...

    def is_file(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def list_dir(self, path: str) -> list[str]:
        """Sorted entry names of a directory ('' is the root); [] when it is absent."""
        ...

    def walk_files(self, path: str) -> list[str]:
        """Every file below `path`, as repo-relative paths, sorted; [] when absent."""
        ...


class DirTree:
    """A control repo in a plain directory (`gitpuppet apply PATH`)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.label = str(root)

    def _full(self, path: str) -> Path:
        return self.root / path if path else self.root

    def read_bytes(self, path: str) -> bytes:
        full = self._full(path)
        if not full.is_file():
            raise FileNotFoundError(path)
        return full.read_bytes()

    def is_file(self, path: str) -> bool:
        return self._full(path).is_file()

    def is_dir(self, path: str) -> bool:
        return self._full(path).is_dir()

    def list_dir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(self._full(path)))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def walk_files(self, path: str) -> list[str]:
        base = self._full(path)
        out: list[str] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            rel = os.path.relpath(dirpath, self.root)
            for name in filenames:
                out.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
        return sorted(out)
