"""`sysctl`: a kernel parameter's live value (/proc/sys) and its persistent file
(/etc/sysctl.d/60-gitpuppet-<key>.conf, one per key, owned whole).

The live value is written straight to /proc/sys/<key with dots as slashes> (no shell, no
sysctl(8)); the file is written only after the kernel took the value, so a value the kernel
refuses is never made persistent for the next boot.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from typing import Any

from gitpuppet.errors import ApplyError
from gitpuppet.model import REDACTED, Change, Resource
from gitpuppet.resources.base import ApplyContext, ResourceType
from gitpuppet.resources.wholefile import (
    WholeFile,
    content_changes,
    read_whole,
    remove_whole,
    write_whole,
)
from gitpuppet.types.sysctl import spec
from gitpuppet.types.sysctl.spec import SysctlParams, file_name, file_text, normal_value, proc_path

# Tests point these at temporary folders.
PROC_SYS = "/proc/sys"
SYSCTL_DIR = spec.SYSCTL_DIR


@dataclass(slots=True)
class SysctlState:
    """The live value (None: the kernel has no such parameter) and the persistent file."""

    live: str | None
    file: WholeFile


def _live_path(p: SysctlParams) -> str:
    return os.path.join(PROC_SYS, proc_path(p.name))


def read_live(p: SysctlParams) -> str | None:
    """The value the kernel has now, words joined by one blank; None when there is no such
    parameter."""
    path = _live_path(p)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ApplyError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = os.read(fd, 1 << 16)
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise ApplyError(f"{p.name} is a group of parameters, not one") from None
        raise ApplyError(f"cannot read {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    return normal_value(data.decode("utf-8", "replace"))


def write_live(p: SysctlParams) -> None:
    path = _live_path(p)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise ApplyError(f"cannot write {path}: {exc.strerror}") from None
    try:
        os.write(fd, (p.wanted + "\n").encode())
    except OSError as exc:
        raise ApplyError(
            f"the kernel refused {p.name} = {p.wanted}: {exc.strerror}",
            hint="check the value's range and format (see the kernel's sysctl documentation)",
        ) from None
    finally:
        os.close(fd)


def _file_path(p: SysctlParams) -> str:
    return os.path.join(SYSCTL_DIR, file_name(p.name))


class SysctlType(ResourceType):
    name = "sysctl"

    def current(self, res: Resource, ctx: ApplyContext) -> SysctlState:
        p: SysctlParams = res.params
        live = read_live(p)
        if live is None and p.ensure == "present":
            raise ApplyError(
                f"the kernel has no parameter {p.name} ({_live_path(p)} does not exist)",
                hint="check the name; a module's parameters appear once the module is loaded",
            )
        return SysctlState(live, read_whole(_file_path(p), ctx))

    def diff(self, cur: SysctlState, res: Resource, ctx: ApplyContext) -> list[Change]:
        p: SysctlParams = res.params
        changes: list[Change] = []
        if p.ensure == "present" and cur.live != p.wanted:
            if res.sensitive:
                changes.append(Change("value", REDACTED, REDACTED, redacted=True))
            else:
                changes.append(Change("value", cur.live, p.wanted))
        if p.ensure == "present" and p.persist:
            changes += content_changes(cur.file, file_text(p), "file", res.sensitive, ctx)
        elif cur.file.kind is not None:
            changes.append(Change("file", cur.file.path, "absent"))
        return changes

    def apply(
        self, res: Resource, cur: SysctlState, changes: list[Change], ctx: ApplyContext
    ) -> None:
        """The live value first, then the file (or its removal)."""
        p: SysctlParams = res.params
        if p.ensure == "present" and cur.live != p.wanted:
            write_live(p)
        if p.ensure == "present" and p.persist:
            write_whole(_file_path(p), file_text(p), ctx, res.sensitive)
        else:
            remove_whole(_file_path(p), ctx, res.sensitive)


TYPE: Any = SysctlType()
