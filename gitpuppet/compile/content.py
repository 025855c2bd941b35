"""What a type's spec reads at compile time: files/ and templates/ of the control repo."""

from __future__ import annotations

from typing import Any

from gitpuppet.compile.source import SourceTree
from gitpuppet.compile.template import Templates, confined_path
from gitpuppet.errors import SourceError, SourcePos


class TreeSources:
    """`ContentSources` (resources/schema.py) over one commit's source tree."""

    def __init__(self, tree: SourceTree, templates: Templates) -> None:
        self.tree = tree
        self.templates = templates

    def render_template(self, name: str, scope: dict[str, Any], where: SourcePos) -> str:
        """The rendered text of templates/<name>."""
        return self.templates.render_file(name, scope, where)

    def read_source(self, name: str, where: SourcePos, key: str = "source") -> bytes:
        """The bytes of files/<name> (`key`: the attribute that names it, for messages)."""
        path = confined_path("files", name, where, key)
        try:
            return self.tree.read_bytes(path)
        except FileNotFoundError:
            raise SourceError(where, f"{key} file '{name}' not found under files/") from None

    def read_source_tree(self, name: str, where: SourcePos) -> dict[str, bytes | None]:
        """Relative path -> bytes (None for a sub-folder) of everything under files/<name>."""
        path = confined_path("files", name, where, "source")
        if not self.tree.is_dir(path):
            raise SourceError(where, f"source folder '{name}' not found under files/")
        tree: dict[str, bytes | None] = {}
        for file_path in self.tree.walk_files(path):
            rel = file_path[len(path) + 1 :]
            parts = rel.split("/")
            for i in range(1, len(parts)):
                tree.setdefault("/".join(parts[:i]), None)
            tree[rel] = self.tree.read_bytes(file_path)
        return tree
