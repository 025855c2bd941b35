"""`mount`: an fstab entry and whether the file system is mounted now.

The fstab is edited like `line` edits a file (safepath, temp file renamed over it, old text
backed up). The mounted state is read from /proc/self/mountinfo; mount(8) and umount(8) run
through command.py with the device, type and options given in argv, so the result does not
depend on what fstab says. A mount point must be a directory that no non-root user can
replace (else a link planted there would send the mount elsewhere).
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from typing import Any

from gitpuppet.command import run_command
from gitpuppet.errors import ApplyError
from gitpuppet.model import Change, Resource
from gitpuppet.resources.base import ApplyContext, RefreshNotNeeded, ResourceType
from gitpuppet.resources.safepath import MissingParent, open_parent
from gitpuppet.resources.textfile import TextEditType
from gitpuppet.types.mount.fstab import Mounted, edit_fstab, find_entry, fstab_line, mounted_at
from gitpuppet.types.mount.spec import MountParams

# Tests point these elsewhere.
FSTAB = "/etc/fstab"
MOUNTINFO = "/proc/self/mountinfo"
TIMEOUT = 120


class _Fstab(TextEditType):
    """The fstab part: the text edit path that `line` and `host` take."""

    name = "mount"
    create_missing = True

    def path(self, res: Resource) -> str:
        return FSTAB

    def edit(self, text: str, res: Resource) -> str:
        return edit_fstab(text, res.params)


_FSTAB = _Fstab()


@dataclass(slots=True)
class MountState:
    fstab: str | None  # the fstab text (None: no fstab)
    mounted: Mounted | None


def _run(argv: list[str], what: str) -> None:
    result = run_command(argv, timeout=TIMEOUT)
    if result.returncode != 0:
        first = result.output.strip().splitlines()[:1]
        raise ApplyError(
            f"{what} failed: {first[0] if first else 'exit ' + str(result.returncode)}",
            output=result.output,
        )


def _check_point(p: MountParams, ctx: ApplyContext) -> None:
    """The mount point is a directory nobody but root can swap for a link."""
    try:
        at = open_parent(p.name, ctx.caches)
    except MissingParent as exc:
        raise ApplyError(f"mount point {p.name}: {exc.message}", hint=exc.hint) from None
    with at:
        st = at.lstat()
        if st is None or not stat.S_ISDIR(st.st_mode):
            raise ApplyError(
                f"mount point {p.name} is not a directory",
                hint=f"declare it (file: {p.name}, ensure: directory)",
            )
        if not at.guarded:
            raise ApplyError(
                f"mount point {p.name} is in a directory a non-root user can change: not mounted",
                hint="mount under a directory only root can write",
            )


class MountType(ResourceType):
    name = "mount"
    refreshable = True

    def current(self, res: Resource, ctx: ApplyContext) -> MountState:
        with open(MOUNTINFO, encoding="utf-8", errors="surrogateescape") as fh:
            mounted = mounted_at(fh.read(), res.params.name)
        return MountState(_FSTAB.current(res, ctx), mounted)

    def diff(self, cur: MountState, res: Resource, ctx: ApplyContext) -> list[Change]:
        p: MountParams = res.params
        changes: list[Change] = []
        text = cur.fstab or ""
        if edit_fstab(text, p) != text:
            want = "absent" if p.ensure == "absent" else fstab_line(p)
            changes.append(Change("fstab", find_entry(text, p.name) or "absent", want))
        if p.ensure == "mounted" and cur.mounted is None:
            changes.append(Change("ensure", "unmounted", "mounted"))
        if p.ensure in ("unmounted", "absent") and cur.mounted is not None:
            changes.append(Change("ensure", "mounted", p.ensure))
        return changes

    def apply(
        self, res: Resource, cur: MountState, changes: list[Change], ctx: ApplyContext
    ) -> None:
        """Unmount before an entry goes; write fstab before a mount."""
        p: MountParams = res.params
        if cur.mounted is not None and p.ensure in ("unmounted", "absent"):
            _run(["umount", "--", p.name], f"umount {p.name}")
        if any(c.attr == "fstab" for c in changes):
            _FSTAB.apply(res, cur.fstab, [], ctx)
        if cur.mounted is None and p.ensure == "mounted":
            _check_point(p, ctx)
            argv = ["mount", "-t", str(p.fstype), "-o", p.options, "--", str(p.device), p.name]
            _run(argv, f"mount {p.name}")

    def refresh_absorbed(self, changes: list[Change]) -> bool:
        return any(c.attr == "ensure" for c in changes)  # mounted by this run: fresh already

    def refresh(self, res: Resource, ctx: ApplyContext) -> str | None:
        """Remount with the options of the resource (a changed option takes effect)."""
        p: MountParams = res.params
        if p.ensure != "mounted":
            raise RefreshNotNeeded(f"{p.name} is not to be mounted: nothing to remount")
        _run(["mount", "-o", f"remount,{p.options}", "--", p.name], f"remount {p.name}")
        return "remounted"


TYPE: Any = MountType()
