"""The file type's spec: its parameters, checks and automatic edges (pure)."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from typing import Any

from gitpuppet.errors import SourceError, SourcePos
from gitpuppet.model import REDACTED, Ref
from gitpuppet.resources.checks import account_rules, command_problem, is_account_name
from gitpuppet.resources.coerce import BOOL, MODE, STR, STR_OR_INT
from gitpuppet.resources.schema import (
    ContentSources,
    EdgeIndex,
    Params,
    Problems,
    attr,
    internal,
    owner_edges,
)

FILE_ENSURE = ("file", "present", "directory", "link", "absent")


@dataclass(slots=True)
class FileParams(Params):
    type_name = "file"
    namevar = "path"
    path_attrs = ("path",)
    multiline = frozenset({"content"})
    provides_paths = True
    path: str = attr(STR, doc="the absolute path managed (the title)")
    ensure: str = attr(
        STR,
        "file",
        FILE_ENSURE,
        doc="file, directory, link or absent; present: a file or a link, as it is",
    )
    content: str | None = attr(STR, doc="the file's content, given inline")
    source: str | None = attr(
        STR, doc="the content from a file under files/ (a folder with recurse)"
    )
    template: str | None = attr(STR, doc="the content from a Jinja2 template under templates/")
    owner: str | int | None = attr(STR_OR_INT, doc="owning user, by name or uid")
    group: str | int | None = attr(STR_OR_INT, doc="owning group, by name or gid")
    mode: str | None = attr(MODE, doc='permissions as an octal string, e.g. "0640"')
    target: str | None = attr(STR, doc="what a link points to (ensure: link)")
    recurse: bool = attr(BOOL, False, doc="manage a directory's contents from its source folder")
    purge: bool = attr(
        BOOL, False, doc="with recurse: remove entries nothing in the catalog manages"
    )
    force: bool = attr(
        BOOL,
        False,
        doc="replace a directory (or a file where a directory belongs) instead of failing",
    )
    backup: bool = attr(BOOL, True, doc="keep the replaced content in the backup store")
    replace: bool = attr(
        BOOL, True, doc="false: create the file if missing, never change an existing one's content"
    )
    validate: str | None = attr(
        STR, doc="a command run on the new content before it replaces the old (% is the temp file)"
    )
    # Filled in by the compiler: the bytes to write (from content, source or template), and for
    # a recursive directory, relative path -> bytes (None for a sub-directory).
    data: bytes | None = internal()
    tree: dict[str, bytes | None] | None = internal()

    def check(self) -> list[tuple[str, str]]:
        errs: list[tuple[str, str]] = []
        if not os.path.isabs(self.path):
            errs.append(("path", f"file path '{self.path}' is not absolute"))
        given = [k for k in ("content", "source", "template") if getattr(self, k) is not None]
        if len(given) > 1:
            errs.append(
                (given[1], f"give only one of content, source, template (got {', '.join(given)})")
            )
        if self.ensure == "link" and not self.target:
            errs.append(("ensure", "ensure: link needs a target"))
        if self.target and self.ensure != "link":
            errs.append(("target", "target is only for ensure: link"))
        if self.ensure in ("link", "absent") and given:
            errs.append((given[0], f"{given[0]} makes no sense with ensure: {self.ensure}"))
        if self.recurse and self.ensure != "directory":
            errs.append(("recurse", "recurse needs ensure: directory"))
        if self.purge and not self.recurse:
            errs.append(("purge", "purge needs recurse: true"))
        if self.ensure == "directory" and (self.content is not None or self.template is not None):
            errs.append(("ensure", "a directory has no content; use source with recurse"))
        if self.ensure == "directory" and self.source and not self.recurse:
            errs.append(("source", "a directory's source needs recurse: true"))
        return errs

    def text_rules(self) -> Problems:
        owner, group = self.owner, self.group
        if (
            self.validate is None
            and (owner is None or owner.__class__ is int or is_account_name(owner))
            and (group is None or group.__class__ is int or is_account_name(group))
        ):
            return []  # the common case, without building lists
        errs = account_rules("owner", owner, "user") + account_rules("group", group, "group")
        if self.validate is not None:
            problem = command_problem(self.validate, split=True)
            if problem:
                errs.append(("validate", f"validate command {problem}"))
        return errs

    def auto_edges(self, ref: Ref, index: EdgeIndex) -> None:
        # The nearest declared directory above this file.
        path = self.path
        parent = posixpath.dirname(path)
        while parent != path:
            if parent in index.paths:
                index.need_path(parent, ref, "automatic: parent directory")
                break
            path, parent = parent, posixpath.dirname(parent)
        owner_edges(ref, self.owner, self.group, index)

    def shown(self, sensitive: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.data is not None:
            if sensitive:
                out["content"] = REDACTED
            else:
                try:
                    out["content"] = self.data.decode("utf-8")
                except UnicodeDecodeError:
                    out["content"] = f"<{len(self.data)} bytes of binary data>"
        if self.tree is not None:
            out["files"] = sorted(self.tree)
        return out

    @classmethod
    def resolve(
        cls,
        attrs: dict[str, Any],
        attr_pos: dict[str, SourcePos],
        pos: SourcePos,
        scope: dict[str, Any],
        sources: ContentSources,
    ) -> dict[str, Any]:
        """content, template or source resolved into `data` (or `tree` for recurse)."""
        content = attrs.get("content")
        if content is None and "content" in attrs:
            raise SourceError(
                attr_pos.get("content", pos),
                "file attribute 'content' is ~ (nothing), not a string",
                'write content: "" for an empty file, or leave content out to keep what is there',
            )
        if isinstance(content, (int, float)) and not isinstance(content, bool):
            content = attrs["content"] = str(content)  # "{{ port }}" renders to a number
        if isinstance(content, str):
            return {"data": content.encode()}
        template = attrs.get("template")
        if isinstance(template, str):
            where = attr_pos.get("template", pos)
            return {"data": sources.render_template(template, scope, where).encode()}
        source = attrs.get("source")
        if isinstance(source, str):
            where = attr_pos.get("source", pos)
            if attrs.get("recurse"):
                return {"tree": sources.read_source_tree(source, where)}
            return {"data": sources.read_source(source, where)}
        return {}

    def paths_written(self) -> tuple[list[str], bool]:
        return [self.path], bool(self.recurse)
