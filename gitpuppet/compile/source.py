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


# -- external modules (SPEC §9) -------------------------------------------------------------

MODULE_FOLDERS = ("templates", "files", "data")  # `templates/ntp:x` is module ntp's templates/x


class ModularTree:
    """The control repo with its external modules: a path `<module>:<path>` (and, as the
    compiler writes them, `templates/<module>:<path>`, `files/…`, `data/…`) reads the module's
    own tree; every other path reads the control repo. A module's tree is its own root: a
    `..` or a symlink cannot reach the control repo or another module from it."""

    def __init__(
        self, site: SourceTree, modules: dict[str, SourceTree], commits: dict[str, str]
    ) -> None:
        self.site = site
        self.modules = modules
        self.commits = commits  # module name -> resolved commit id (for the report)
        self.label = site.label

    def route(self, path: str) -> tuple[SourceTree, str, str, str]:
        """(tree, path in it, prefix as asked, prefix in that tree) for `path`."""
        path = path.strip("/")
        first, _, rest = path.partition("/")
        if ":" in first:
            name, _, inner_first = first.partition(":")
            if name in self.modules:
                inner = f"{inner_first}/{rest}" if rest else inner_first
                return self._checked(name, inner, f"{name}:", "")
        if first in MODULE_FOLDERS and ":" in rest.split("/", 1)[0]:
            name, _, inner = rest.partition(":")
            if name in self.modules:
                inner = f"{first}/{inner}" if inner else first
                return self._checked(name, inner, f"{first}/{name}:", f"{first}/")
        return self.site, path, "", ""

    def _checked(
        self, name: str, inner: str, asked: str, prefix: str
    ) -> tuple[SourceTree, str, str, str]:
        if any(part in ("..", ".") for part in inner.split("/")):
            raise SourceError(
                SourcePos(f"{name}:{inner}"),
                f"path '{inner}' leaves module '{name}'",
                "a module's paths stay inside the module",
            )
        return self.modules[name], inner.strip("/"), asked, prefix

    def read_bytes(self, path: str) -> bytes:
        tree, inner, _, _ = self.route(path)
        return tree.read_bytes(inner)

    def is_file(self, path: str) -> bool:
        tree, inner, _, _ = self.route(path)
        return tree.is_file(inner)

    def is_dir(self, path: str) -> bool:
        tree, inner, _, _ = self.route(path)
        return tree.is_dir(inner)

    def list_dir(self, path: str) -> list[str]:
        tree, inner, _, _ = self.route(path)
        return tree.list_dir(inner)

    def walk_files(self, path: str) -> list[str]:
        """Files below `path`, spelled with the prefix `path` was asked with."""
        tree, inner, asked, prefix = self.route(path)
        found = tree.walk_files(inner)
        if tree is self.site:
            return found
        return [asked + p[len(prefix) :] for p in found]


def module_commits(tree: SourceTree) -> dict[str, str]:
    """The resolved commit of every module of `tree` ({} for a tree without modules)."""
    return dict(tree.commits) if isinstance(tree, ModularTree) else {}


def module_names(tree: SourceTree) -> list[str]:
    """The modules `tree` has, sorted."""
    return sorted(tree.modules) if isinstance(tree, ModularTree) else []


def module_of(file: str) -> str | None:
    """The module a source path belongs to (`ntp:classes/x.yaml`, `templates/ntp:x.j2`), or
    None for the control repo's own files."""
    first, _, rest = file.partition("/")
    if ":" in first:
        return first.split(":", 1)[0]
    if first in MODULE_FOLDERS and ":" in rest.split("/", 1)[0]:
        return rest.split(":", 1)[0]
    return None


def find_unit(tree: SourceTree, folder: str, name: str) -> str | None:
    """classes/a/b.yaml or classes/a/b/init.yaml for `a.b`; for a module `ntp`, `ntp.b` is
    `ntp:classes/b.yaml` (or b/init.yaml) and `ntp` is `ntp:classes/init.yaml`. None when absent."""
    if not name or any(not part or part.startswith(".") or "/" in part for part in name.split(".")):
        return None
    if ":" in name:
        return None
    first, _, rest = name.partition(".")
    if isinstance(tree, ModularTree) and first in tree.modules:
        base = f"{first}:{folder}/{rest.replace('.', '/')}" if rest else f"{first}:{folder}/init"
        candidates = [f"{base}.yaml"] + ([f"{base}/init.yaml"] if rest else [])
    else:
        base = f"{folder}/{name.replace('.', '/')}"
        candidates = [f"{base}.yaml", f"{base}/init.yaml"]
    for path in candidates:
        if tree.is_file(path):
            return path
    return None


def unit_names(tree: SourceTree, folder: str) -> list[str]:
    """Every class (or define) name under `folder`, the modules' too, for "did you mean"."""
    names = _unit_names(tree.walk_files(folder), folder, "")
    for module in module_names(tree):
        names += _unit_names(tree.walk_files(f"{module}:{folder}"), f"{module}:{folder}", module)
    return names


def _unit_names(paths: list[str], folder: str, module: str) -> list[str]:
    names = []
    for path in paths:
        if path.endswith(".yaml"):
            rel = path[len(folder) + 1 : -5]
            if rel.endswith("/init"):
                rel = rel[:-5]
            elif rel == "init" and module:
                rel = ""  # a module's classes/init.yaml is the module itself
            name = rel.replace("/", ".")
            names.append(f"{module}.{name}" if module and name else module or name)
    return names
