"""Where the compiler reads the control repo from: a directory, or one commit's git tree.

Paths are POSIX, relative to the repo root, never starting with '/'. The compiler only sees
this interface, so a run compiles exactly the tree of the commit it chose and nothing else.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Protocol

from gitpuppet.errors import SourceError, SourcePos


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
    """A control repo in a plain directory (`gitpuppet apply PATH`).

    As in a git tree, symlinks may point anywhere inside the repo; one that leaves it (a file,
    or a folder on the way) is an error naming the link, never a read of what it points at
    (`templates/leak -> /etc/shadow` must not print /etc/shadow)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.label = str(root)
        self._real_root = os.path.realpath(root)

    def _full(self, path: str) -> str:
        """The real path of `path`, checked to be inside the repo."""
        full = os.path.join(self._real_root, path) if path else self._real_root
        real = os.path.realpath(full)
        if real != self._real_root and not real.startswith(self._real_root + os.sep):
            raise SourceError(
                SourcePos(_first_link(self._real_root, path) or path),
                f"symlink leaves the repository (to {real})",
                "a control repo's symlinks must point inside it",
            )
        return real

    def read_bytes(self, path: str) -> bytes:
        full = self._full(path)
        try:
            # O_NOFOLLOW: the checked path is the one read, even if a link is planted since.
            fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise FileNotFoundError(path) from None
        except OSError as exc:
            raise SourceError(SourcePos(path), f"cannot read: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise FileNotFoundError(path)
            return handle.read()

    def is_file(self, path: str) -> bool:
        return os.path.isfile(self._full(path))

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(self._full(path))

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
            rel = os.path.relpath(dirpath, base)
            prefix = path.strip("/")
            if rel != ".":
                prefix = f"{prefix}/{rel}" if prefix else rel
            for name in filenames:
                out.append(f"{prefix}/{name}".replace(os.sep, "/") if prefix else name)
        return sorted(out)


def _first_link(root: str, path: str) -> str | None:
    """The first component of `path` that is a symlink (what a person should look at)."""
    parts = [p for p in path.split("/") if p]
    for i in range(len(parts)):
        rel = "/".join(parts[: i + 1])
        if os.path.islink(os.path.join(root, rel)):
            return rel
    return None
