"""Types that edit part of an existing text file (line, host): read, transform, diff, write."""

from __future__ import annotations

import os
import stat
from typing import Any

from gitpuppet.backup import BackupStore
from gitpuppet.contract import ApplyContext, ResourceType
from gitpuppet.errors import ApplyError
from gitpuppet.model import REDACTED, Change, Resource
from gitpuppet.resources.fsat import finish_write, read_file, readlink, sweep_temps, write_temp
from gitpuppet.resources.fsutil import unified_diff
from gitpuppet.resources.safepath import MAX_LINKS, MissingParent, Parent, UnsafePath, open_parent
from gitpuppet.resources.validatecmd import validate_temp


class TextEditType(ResourceType):
    """Subclasses give the file path and a pure `edit(text, params) -> text`."""

    create_missing = False

    def path(self, res: Resource) -> str:
        raise NotImplementedError

    def edit(self, text: str, res: Resource) -> str:
        raise NotImplementedError

    def follow(self, res: Resource) -> bool:
        """Whether a link at the path is followed (the file it points to is edited)."""
        return True

    def validate_command(self, res: Resource) -> str | None:
        """A command that must accept the new text (`%`: its temp file) before it is written."""
        return None

    def current(self, res: Resource, ctx: ApplyContext) -> str | None:
        """The file's text, read through its directory's descriptor (safepath)."""
        try:
            at = self._open(res, ctx)
        except MissingParent:
            return None
        with at:
            if at.lstat() is None:
                return None
            data, _ = read_file(at)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ApplyError(f"{self.path(res)} is not UTF-8 text") from None

    def _open(self, res: Resource, ctx: ApplyContext) -> Parent:
        """The directory of the file to edit: with follow, the one a link at the path points
        into (a link only root could have made; at most MAX_LINKS of them)."""
        path = self.path(res)
        at = open_parent(path, ctx.caches)
        for _ in range(MAX_LINKS):
            st = at.lstat()
            if st is None or not stat.S_ISLNK(st.st_mode):
                return at
            with at:
                if not self.follow(res):
                    raise ApplyError(
                        f"{at.path} is a symbolic link: {self.name} does not edit through it",
                        hint="set follow: true to edit the file it points to, or give the "
                        "real path",
                    )
                if not at.guarded:
                    raise UnsafePath(
                        f"{at.path} is a symbolic link in a directory that a non-root user "
                        "can change: not followed",
                        hint="give the real path",
                    )
                target = readlink(at)
            at = open_parent(os.path.join(at.dir_path, target), ctx.caches)
        at.close()
        raise ApplyError(f"{path}: too many levels of symbolic links")

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
        new = self.edit(cur or "", res)
        command = self.validate_command(res)
        with self._open(res, ctx) as at:
            sweep_temps(at)
            data, st = read_file(at) if cur is not None else (None, None)
            tmp = write_temp(
                at,
                new.encode(),
                mode=st.st_mode & 0o7777 if st else 0o644,
                uid=st.st_uid if st else None,
                gid=st.st_gid if st else None,
            )
            try:
                if command is not None:  # before the backup: a rejected edit changes nothing
                    validate_temp(command, at, tmp, path)
                if data is not None:
                    BackupStore(ctx.state_dir, res.sensitive).save(
                        os.path.realpath(at.path), data, st
                    )
            except BaseException:
                os.unlink(tmp, dir_fd=at.fd)
                raise
            finish_write(at, tmp, None)
