"""One commit's tree as a SourceTree, read straight from the object store (no checkout).

The compiler asks the same questions many times (is_dir, list_dir of classes/, templates/ …), so
tree lookups and walks are cached per path; a commit never changes, so the caches never go stale.
"""

from __future__ import annotations

import posixpath

import pygit2
from pygit2.enums import FileMode

from gitpuppet.errors import GitpuppetError

_MAX_LINKS = 16  # symlink hops before a path counts as a loop (same order as the kernel's 40)


class GitTree:
    """A SourceTree over the tree of `commit_id`; label "commit <short id>".

    Symlinks inside the tree are followed as a checkout would show them; a link that leaves the
    tree, dangles or loops counts as absent. Submodule entries are absent too.
    """

    label: str

    def __init__(self, repo: pygit2.Repository, commit_id: str) -> None:
        try:
            commit = repo.get(commit_id)
        except (ValueError, pygit2.GitError) as exc:
            raise GitpuppetError(f"commit {commit_id[:12]} cannot be read: {exc}") from None
        if not isinstance(commit, pygit2.Commit):
            raise GitpuppetError(
                f"commit {commit_id[:12]} is not in the node's repository",
                "fetch again (gitpuppet pull)",
            )
        self.repo = repo
        self.commit_id = str(commit.id)
        self.label = f"commit {commit.short_id}"
        self._root: pygit2.Tree = commit.tree
        # path -> (object, resolved path) or None; "" is the root.
        self._nodes: dict[str, tuple[pygit2.Object, str] | None] = {"": (self._root, "")}
        self._walks: dict[str, list[str]] = {}

    # -- lookup ---------------------------------------------------------------------------

    def _lookup(self, path: str, hops: int = 0) -> tuple[pygit2.Object, str] | None:
        """The object at `path` (links followed) and its link-free path, or None."""
        path = path.strip("/")
        if path in self._nodes:
            return self._nodes[path]
        parent, _, name = path.rpartition("/")
        found: tuple[pygit2.Object, str] | None = None
        above = self._lookup(parent, hops)
        if above is not None and isinstance(above[0], pygit2.Tree) and name not in ("", ".", ".."):
            tree, real_parent = above
            assert isinstance(tree, pygit2.Tree)
            try:
                obj: pygit2.Object | None = tree[name]
            except KeyError:
                obj = None
            real = f"{real_parent}/{name}" if real_parent else name
            if obj is None or obj.filemode == FileMode.COMMIT:
                found = None
            elif obj.filemode == FileMode.LINK and isinstance(obj, pygit2.Blob):
                found = self._follow(real_parent, obj, hops)
            else:
                found = (obj, real)
        elif name == "" and above is not None:
            found = above
        self._nodes[path] = found
        return found

    def _follow(
        self, real_parent: str, link: pygit2.Blob, hops: int
    ) -> tuple[pygit2.Object, str] | None:
        if hops >= _MAX_LINKS:
            return None
        target = link.data.decode("utf-8", "surrogateescape")
        if target.startswith("/"):
            return None  # an absolute link points outside the repository
        joined = posixpath.normpath(posixpath.join(real_parent, target))
        if joined == ".":
            return (self._root, "")
        if joined.startswith("../") or joined == "..":
            return None
        return self._lookup(joined, hops + 1)

    # -- SourceTree -----------------------------------------------------------------------

    def read_bytes(self, path: str) -> bytes:
        """The file's bytes; FileNotFoundError when absent or not a file."""
        node = self._lookup(path)
        if node is None or not isinstance(node[0], pygit2.Blob):
            raise FileNotFoundError(path)
        try:
            return node[0].data
        except (pygit2.GitError, KeyError, ValueError) as exc:
            raise GitpuppetError(
                f"{self.label}: {path} cannot be read from the node's repository: {exc}",
                "the clone is damaged; the next pull reclones it",
            ) from None

    def is_file(self, path: str) -> bool:
        """True when `path` is a file (or a link to one inside the tree)."""
        node = self._lookup(path)
        return node is not None and isinstance(node[0], pygit2.Blob)

    def is_dir(self, path: str) -> bool:
        """True when `path` is a directory ('' is the root)."""
        node = self._lookup(path)
        return node is not None and isinstance(node[0], pygit2.Tree)

    def list_dir(self, path: str) -> list[str]:
        """Sorted entry names of a directory; [] when it is absent."""
        node = self._lookup(path)
        if node is None or not isinstance(node[0], pygit2.Tree):
            return []
        return sorted(e.name for e in node[0] if e.name and e.filemode != FileMode.COMMIT)

    def walk_files(self, path: str) -> list[str]:
        """Every file below `path` (links to files included), repo-relative and sorted."""
        key = path.strip("/")
        cached = self._walks.get(key)
        if cached is None:
            node = self._lookup(key)
            cached = []
            if node is not None and isinstance(node[0], pygit2.Tree):
                self._walk(node[0], f"{key}/" if key else "", cached)
                cached.sort()
            self._walks[key] = cached
        return list(cached)

    def _walk(self, tree: pygit2.Tree, prefix: str, out: list[str]) -> None:
        # Modes, not object types: no object is loaded for a blob entry, which keeps a walk of
        # 10,000 files in a few milliseconds.
        for entry in tree:
            mode = entry.filemode
            name = f"{prefix}{entry.name}"
            if mode == FileMode.TREE:
                self._walk(entry, name + "/", out)  # type: ignore[arg-type]
            elif mode in (FileMode.BLOB, FileMode.BLOB_EXECUTABLE) or (
                mode == FileMode.LINK and self.is_file(name)
            ):
                out.append(name)
