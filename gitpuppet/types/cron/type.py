"""`cron`: one job in /etc/cron.d/<title>, the file written whole.

The file is the job: a header saying gitpuppet manages it, the environment lines, then one line
`minute hour monthday month weekday user command` (or `@daily user command`). It is root-owned
and 0644, because cron ignores a cron.d file that is not (Debian's cron says "WRONG FILE OWNER"
or "BAD FILE MODE" in syslog and runs nothing).

The title is checked by the schema at compile time against the rule cron applies to cron.d file
names (Debian's cron, like run-parts, skips any name with a character other than letters,
digits, `-` and `_`: `backup.sh` would be ignored without a word), so a job cron would never
run is rejected before anything is written. `name_problem` repeats the check here for
resources built some other way.
"""

from __future__ import annotations

import os
import pwd
import re
import stat
from dataclasses import dataclass
from typing import Any

from gitpuppet.backup import BackupStore
from gitpuppet.contract import ApplyContext, ResourceType
from gitpuppet.errors import ApplyError
from gitpuppet.model import REDACTED, Change, Resource
from gitpuppet.resources.describe import kind_of, short_digest
from gitpuppet.resources.fsutil import (
    finish_write,
    fsync_dir,
    group_name,
    remove_stale_temps,
    unified_diff,
    user_name,
    write_temp,
)
from gitpuppet.types.cron.spec import CRON_FIELDS, CronParams, job_problems

# Where the job files go; tests point this at a temporary folder.
CRON_DIR = "/etc/cron.d"
FILE_MODE = 0o644


def _env_line(key: str, value: str) -> str:
    # cron strips one pair of matching quotes and the blanks around an unquoted value: quote a
    # value those rules would change, so the job sees it exactly as written.
    if value != value.strip() or not value or value[0] in "'\"":
        value = f'"{value}"'
    return f"{key}={value}"


def _escape_percent(command: str) -> str:
    # cron ends the command at an unescaped % and feeds the rest to it as stdin; escape it so
    # the command runs as written (`date +%F`). An already escaped \% is left alone.
    return re.sub(r"(?<!\\)%", r"\\%", command)


def render(p: CronParams, ref: str) -> bytes:
    """The whole cron.d file for a job (pure)."""
    lines = [
        f"# Managed by gitpuppet ({ref}): changes made here are overwritten.",
        *(_env_line(k, v) for k, v in p.environment.items()),
    ]
    when = p.special if p.special is not None else " ".join(str(getattr(p, f)) for f in CRON_FIELDS)
    lines.append(f"{when} {p.user} {_escape_percent(p.command or '')}")
    return ("\n".join(lines) + "\n").encode()


@dataclass(slots=True)
class CronState:
    """The job file now: None fields when it does not exist."""

    path: str
    kind: str | None  # file, directory, link, other, or None
    data: bytes | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    st: os.stat_result | None = None


def _path(p: CronParams) -> str:
    return os.path.join(CRON_DIR, p.name)


def _check(p: CronParams) -> None:
    errs = job_problems(p)
    if errs:
        attr, message = errs[0]
        raise ApplyError(f"{message} (attribute {attr})" if attr != "name" else message)


class CronType(ResourceType):
    name = "cron"
    batch_writes = True

    def current(self, res: Resource, ctx: ApplyContext) -> CronState:
        """One lstat, and the content when it is a regular file."""
        p: CronParams = res.params
        _check(p)
        path = _path(p)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            return CronState(path, None)
        state = CronState(
            path, kind_of(st), None, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st
        )
        if state.kind == "file":
            with open(path, "rb") as fh:
                state.data = fh.read()
        return state

    def diff(self, cur: CronState, res: Resource, ctx: ApplyContext) -> list[Change]:
        """ensure, content (a unified diff when asked), mode and owner of the job file."""
        p: CronParams = res.params
        if p.ensure == "absent":
            return [Change("ensure", "present", "absent")] if cur.kind is not None else []
        changes: list[Change] = []
        if cur.kind != "file":
            changes.append(Change("ensure", cur.kind or "absent", "present"))
        new = render(p, str(res.ref))
        old = cur.data if cur.kind == "file" else None
        if old != new:
            if res.sensitive:
                changes.append(Change("content", REDACTED, REDACTED, redacted=True))
            else:
                text = unified_diff(old, new, cur.path) if ctx.want_diff else None
                changes.append(Change("content", short_digest(old), short_digest(new), text))
        if cur.kind == "file":
            if cur.mode != FILE_MODE:
                changes.append(Change("mode", f"{cur.mode:04o}", f"{FILE_MODE:04o}"))
            if cur.uid != 0 and cur.uid is not None:
                changes.append(Change("owner", user_name(cur.uid), "root"))
            if cur.gid != 0 and cur.gid is not None:
                changes.append(Change("group", group_name(cur.gid), "root"))
        return changes

    def apply(
        self, res: Resource, cur: CronState, changes: list[Change], ctx: ApplyContext
    ) -> None:
        """Write the file whole (temp file, rename) or remove it; the old content is backed up."""
        p: CronParams = res.params
        if cur.kind == "directory":
            raise ApplyError(f"{cur.path} is a directory, not a cron job file")
        backups = BackupStore(ctx.state_dir, res.sensitive)
        if p.ensure == "absent":
            if cur.kind == "file" and cur.data is not None:
                backups.save(cur.path, cur.data, cur.st)
            try:
                os.unlink(cur.path)
            except FileNotFoundError:
                return
            except OSError as exc:
                raise ApplyError(f"cannot remove {cur.path}: {exc.strerror}") from None
            fsync_dir(CRON_DIR)
            return
        try:
            pwd.getpwnam(p.user)
        except KeyError:
            raise ApplyError(
                f"user '{p.user}' does not exist", hint="create it first (a user resource)"
            ) from None
        if not os.path.isdir(CRON_DIR):
            raise ApplyError(
                f"{CRON_DIR} does not exist (is cron installed?)",
                hint="install cron first (package: cron) and require it",
            )
        remove_stale_temps(cur.path, ctx.swept)
        new = render(p, str(res.ref))
        # The temp file is `.<title>.gitpuppet-…`: cron skips names with dots, so it never runs
        # a half-written job.
        tmp = write_temp(cur.path, new, mode=FILE_MODE, uid=0, gid=0, sync=ctx.batch is None)
        try:
            if cur.kind == "file" and cur.data is not None and cur.data != new:
                backups.save(cur.path, cur.data, cur.st, ctx.batch)
        except BaseException:
            os.unlink(tmp)
            raise
        finish_write(tmp, cur.path, ctx.batch)


TYPE: Any = CronType()
