"""Types that edit part of an existing text file (line, host): read, transform, diff, write."""

from __future__ import annotations

import os
from typing import Any

from gitpuppet.backup import BackupStore
from gitpuppet.errors import ApplyError
from gitpuppet.model import REDACTED, Change, Resource
from gitpuppet.resources.base import ApplyContext, ResourceType
from gitpuppet.resources.fsutil import atomic_write, unified_diff


class TextEditType(ResourceType):
    """Subclasses give the file path and a pure `edit(text, params) -> text`."""

    create_missing = False

    def path(self, res: Resource) -> str:
        raise NotImplementedError

    def edit(self, text: str, res: Resource) -> str:
        raise NotImplementedError

    def current(self, res: Resource, ctx: ApplyContext) -> str | None:
        try:
            with open(self.path(res), encoding="utf-8", newline="") as fh:
                return fh.read()
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            raise ApplyError(f"{self.path(res)} is not UTF-8 text") from None

    def diff(self, cur: Any, res: Resource, ctx: ApplyContext) -> list[Change]:
        if cur is None:
            if not self.create_missing:
                return [Change("file", "absent", "present")]
            cur = ""
        new = self.edit(cur, res)
        if new == cur:
            return []
        path = self.path(res)
        if res.sensitive:
            return [Change("content", REDACTED, REDACTED, redacted=True)]
        text = unified_diff(cur.encode(), new.encode(), path) if ctx.want_diff else None
        return [
            Change(
                "content",
                f"{len(cur.splitlines())} lines",
                f"{len(new.splitlines())} lines",
                diff=text,
            )
        ]

    def apply(self, res: Resource, cur: Any, changes: list[Change], ctx: ApplyContext) -> None:
        path = self.path(res)
        if cur is None and not self.create_missing:
            raise ApplyError(f"{path} does not exist", hint=f"manage the file first (file: {path})")
        # Edit the file a link points to (/etc/hosts may be a link), never replace the link.
        path = os.path.realpath(path)
        new = self.edit(cur or "", res)
        st = os.stat(path) if cur is not None else None
        if cur is not None:
            BackupStore(ctx.state_dir).save(path, cur.encode(), st)
        atomic_write(
            path,
            new.encode(),
            mode=st.st_mode & 0o7777 if st else 0o644,
            uid=st.st_uid if st else None,
            gid=st.st_gid if st else None,
        )
