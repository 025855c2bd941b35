"""`mount` parameters, checks and automatic edges (pure: touches nothing)."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass

from gitpuppet.model import Ref
from gitpuppet.resources.coerce import INT, STR
from gitpuppet.resources.schema import EdgeIndex, Params, attr

ENSURE = ("mounted", "unmounted", "present", "absent")


@dataclass(slots=True)
class MountParams(Params):
    type_name = "mount"
    name: str = attr(STR, doc="the absolute mount point (the title)")
    ensure: str = attr(
        STR,
        "mounted",
        ENSURE,
        doc="mounted or unmounted (in fstab either way), present (fstab only), absent",
    )
    device: str | None = attr(STR, doc="what is mounted: /dev/…, UUID=…, LABEL=…, an image")
    fstype: str | None = attr(STR, doc="the file system type (ext4, vfat, nfs, tmpfs …)")
    options: str = attr(STR, "defaults", doc="mount options, comma-separated")
    dump: int = attr(INT, 0, doc="fstab's fifth field (dump frequency)")
    passno: int = attr(
        INT, 0, doc="fstab's sixth field, fs_passno (fsck order: 0, 1 for /, 2 others)"
    )

    def check(self) -> list[tuple[str, str]]:
        return mount_problems(self)

    def paths_written(self) -> tuple[list[str], bool]:
        """/etc/fstab, and the mount point with what is inside it: a `purge` of a directory
        above never deletes files of the filesystem mounted there."""
        return ["/etc/fstab", self.name], True

    def auto_edges(self, ref: Ref, index: EdgeIndex) -> None:
        """After its mount point's directory and its device file when declared; a nested
        mount after the one above it (before it when both go away)."""
        for path in (self.name, self.device or ""):
            index.need_path(path, ref, "automatic: its mount point or device")
        for other in index.by_type.get("mount", ()):
            q: MountParams = other.params
            if other.ref != ref and _inside(self.name, q.name):
                leaving = self.ensure in ("unmounted", "absent")
                why = "automatic: a mount and the mount above it"
                if leaving and q.ensure in ("unmounted", "absent"):
                    index.add(ref, other.ref, why)
                else:
                    index.add(other.ref, ref, why)


def _inside(path: str, top: str) -> bool:
    return path != top and (top == "/" or path.startswith(top + "/"))


def mount_problems(p: MountParams) -> list[tuple[str, str]]:
    """What fstab or mount(8) could not take."""
    errs: list[tuple[str, str]] = []
    if not os.path.isabs(p.name):
        errs.append(("name", f"mount point '{p.name}' is not absolute"))
    elif posixpath.normpath(p.name) != p.name and p.name != "/":
        errs.append(("name", f"mount point '{p.name}': write it as {posixpath.normpath(p.name)}"))
    if p.ensure != "absent":
        for key in ("device", "fstype"):
            if not getattr(p, key):
                errs.append((key, f"mount needs a {key} (unless ensure: absent)"))
    for key in ("fstype", "options"):
        value = getattr(p, key) or ""
        if any(ch.isspace() for ch in value) or value.startswith("-"):
            errs.append((key, f"{key} '{value}' cannot hold blanks nor start with '-'"))
    if p.device is not None and (p.device.startswith("-") or not p.device.strip()):
        errs.append(("device", f"device '{p.device}' cannot be empty nor start with '-'"))
    for key in ("dump", "passno"):
        if getattr(p, key) < 0:
            errs.append((key, f"{key} must be 0 or more"))
    return errs
