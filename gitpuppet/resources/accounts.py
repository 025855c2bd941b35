"""What the `user` and `group` types share: the account databases read straight from
/etc/passwd, /etc/group and /etc/shadow, the shadow tools that change them, and a user's
~/.ssh/authorized_keys.

The databases are read once per run and kept in `ctx.caches` (AccountsCache). The cached copy is used only while
the files are unchanged (same inode, size and mtime), so an account that a package's install
script created in the meantime is seen; a type also drops the copy after changing anything.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field

from gitpuppet.command import CommandResult, run_command
from gitpuppet.contract import ApplyContext
from gitpuppet.errors import ApplyError
from gitpuppet.model import REDACTED, Change
from gitpuppet.resources.checks import is_account_name
from gitpuppet.resources.fsutil import (
    commit_temp,
    group_name,
    remove_stale_temps,
    unified_diff,
    user_name,
    write_temp,
)

PASSWD = "/etc/passwd"
GROUP = "/etc/group"
SHADOW = "/etc/shadow"
# Generous: usermod --move-home and userdel --remove copy or delete a whole home, and killing
# them halfway would leave it split in two.
TOOL_TIMEOUT = 900


@dataclass(frozen=True, slots=True)
class UserEntry:
    """One line of /etc/passwd."""

    name: str
    uid: int
    gid: int
    comment: str
    home: str
    shell: str


@dataclass(frozen=True, slots=True)
class GroupEntry:
    """One line of /etc/group."""

    name: str
    gid: int
    members: tuple[str, ...]


@dataclass(slots=True)
class Accounts:
    """The local account databases as read at one moment."""

    users: dict[str, UserEntry]
    groups: dict[str, GroupEntry]
    signature: tuple[object, ...]
    _shadow: dict[str, str] | None = field(default=None, repr=False)

    def shadow(self) -> dict[str, str]:
        """User name -> password hash from /etc/shadow (read on first use: only root can)."""
        if self._shadow is None:
            self._shadow = {}
            for fields in _read_table(SHADOW, 2):
                self._shadow.setdefault(fields[0], fields[1])
        return self._shadow

    def user_with_uid(self, uid: int, other_than: str = "") -> UserEntry | None:
        return next((u for u in self.users.values() if u.uid == uid and u.name != other_than), None)

    def group_with_gid(self, gid: int, other_than: str = "") -> GroupEntry | None:
        return next(
            (g for g in self.groups.values() if g.gid == gid and g.name != other_than), None
        )

    def group_label(self, gid: int) -> str | int:
        """The name of a gid, or the number when no group has it."""
        group = self.group_with_gid(gid)
        return group.name if group else gid

    def groups_of(self, user: str) -> frozenset[str]:
        """The groups that list `user` as a member (its supplementary groups)."""
        return frozenset(g.name for g in self.groups.values() if user in g.members)

    def primary_users(self, gid: int) -> list[str]:
        """The users whose primary group is `gid`."""
        return sorted(u.name for u in self.users.values() if u.gid == gid)

    def resolve_gid(self, group: str | int) -> int | None:
        """A group name or number as a gid; None for a name or number no group has."""
        if isinstance(group, int) or group.isdigit():
            gid = int(group)
            return gid if self.group_with_gid(gid) else None
        entry = self.groups.get(group)
        return entry.gid if entry else None


def _signature() -> tuple[object, ...]:
    out: list[object] = []
    for path in (PASSWD, GROUP, SHADOW):
        try:
            st = os.stat(path)
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
        except FileNotFoundError:
            out.append(None)
    return tuple(out)


def _read_table(path: str, min_fields: int) -> list[list[str]]:
    """The colon-separated records of an account file (NIS `+`/`-` lines and junk skipped)."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            text = fh.read()
    except FileNotFoundError:
        return []
    except PermissionError:
        raise ApplyError(f"cannot read {path}", hint="gitpuppet must run as root") from None
    rows = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= min_fields and fields[0] and fields[0][0] not in "+-#":
            rows.append(fields)
    return rows


@dataclass(slots=True)
class AccountsCache:
    """The run's copy of the account databases (ApplyContext.caches), None until read."""

    accounts: Accounts | None = None


def read_accounts(ctx: ApplyContext) -> Accounts:
    """The account databases: from the run's cache while the files are unchanged."""
    sig = _signature()
    cache = ctx.caches.get(AccountsCache)
    if cache.accounts is not None and cache.accounts.signature == sig:
        return cache.accounts
    users: dict[str, UserEntry] = {}
    for f in _read_table(PASSWD, 7):
        if f[2].isdigit() and f[3].isdigit() and f[0] not in users:
            users[f[0]] = UserEntry(f[0], int(f[2]), int(f[3]), f[4], f[5], f[6])
    groups: dict[str, GroupEntry] = {}
    for f in _read_table(GROUP, 4):
        if f[2].isdigit() and f[0] not in groups:
            members = tuple(m for m in f[3].split(",") if m)
            groups[f[0]] = GroupEntry(f[0], int(f[2]), members)
    cache.accounts = Accounts(users, groups, sig)
    return cache.accounts


def forget_accounts(ctx: ApplyContext) -> None:
    """Drop the cached databases (after a change, so the next read sees it)."""
    ctx.caches.drop(AccountsCache)


def check_name(kind: str, name: str) -> None:
    """A clear error for a user or group name the shadow tools would refuse or misread."""
    if not is_account_name(name):
        raise ApplyError(
            f"'{name}' is not a valid {kind} name",
            hint="use letters, digits, '_', '-' and '.', not starting with '-', at most 32",
        )


def run_tool(
    argv: Sequence[str],
    what: str,
    *,
    input: bytes | None = None,
    secret: str | None = None,
) -> CommandResult:
    """Run a shadow tool; on failure an ApplyError saying `what` failed, with the tool's
    last line in the message and its output attached. `secret` never appears in either."""
    result = run_command(list(argv), timeout=TOOL_TIMEOUT, input=input)
    if result.returncode != 0:
        output = result.output
        if secret:
            output = output.replace(secret, REDACTED)
        lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
        said = f": {lines[-1]}" if lines else ""
        raise ApplyError(
            f"{what} failed ({argv[0]} exited {result.returncode}){said}",
            output=output or None,
        )
    return result


# ~/.ssh/authorized_keys: managed whole, owned by the user, 0600 in a 0700 ~/.ssh. It lives in
# a directory the user controls, so it is never read or written through a link: a link to
# /etc/shadow would otherwise end up in a diff, or chowned to the user.

KEYS_MODE = 0o600
SSH_DIR_MODE = 0o700
KEYS_READ_CAP = 4 * 1024 * 1024
_DIR_NOFOLLOW = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class PathMeta:
    """Kind (file, directory, link, other), permission bits and owner, as lstat saw them."""

    kind: str
    mode: int
    uid: int
    gid: int

    @classmethod
    def of(cls, st: os.stat_result) -> PathMeta:
        if stat.S_ISREG(st.st_mode):
            kind = "file"
        elif stat.S_ISDIR(st.st_mode):
            kind = "directory"
        elif stat.S_ISLNK(st.st_mode):
            kind = "link"
        else:
            kind = "other"
        return cls(kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)


@dataclass(slots=True)
class KeysState:
    """A user's ~/.ssh and ~/.ssh/authorized_keys as they are (None: missing)."""

    home: str
    ssh_dir: PathMeta | None = None
    file: PathMeta | None = None
    data: bytes | None = None  # the content, when the file is a regular file

    @property
    def path(self) -> str:
        return os.path.join(self.home, ".ssh", "authorized_keys")


def keys_data(keys: list[str]) -> bytes:
    """The file's content: one key per line, blank items dropped."""
    return "".join(f"{k.strip()}\n" for k in keys if k.strip()).encode()


def count_keys(data: bytes) -> str:
    """How many keys, as "1 key" or "3 keys" (lines neither blank nor comments)."""
    lines = data.decode("utf-8", errors="replace").splitlines()
    n = sum(1 for line in lines if line.strip() and not line.lstrip().startswith("#"))
    return "1 key" if n == 1 else f"{n} keys"


def read_keys(home: str) -> KeysState:
    """The state of ~/.ssh and the keys file (read only, never through a link)."""
    state = KeysState(home)
    ssh_dir = os.path.join(home, ".ssh")
    try:
        state.ssh_dir = PathMeta.of(os.lstat(ssh_dir))
        dfd = os.open(ssh_dir, _DIR_NOFOLLOW)
    except OSError:  # missing, or not a directory: the lstat said which
        return state
    try:
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open("authorized_keys", flags, dir_fd=dfd)
        except FileNotFoundError:
            return state
        except OSError:  # a link (ELOOP), or unreadable
            try:
                st = os.stat("authorized_keys", dir_fd=dfd, follow_symlinks=False)
                state.file = PathMeta.of(st)
            except OSError:
                pass
            return state
        with os.fdopen(fd, "rb") as fh:
            state.file = PathMeta.of(os.fstat(fh.fileno()))
            if state.file.kind == "file":
                state.data = fh.read(KEYS_READ_CAP + 1)
    finally:
        os.close(dfd)
    return state


def keys_change(
    state: KeysState, want: bytes, uid: int, gid: int, want_diff: bool
) -> Change | None:
    """The `authorized_keys` change (content, kind, owner or mode differs), or None."""
    problems = []
    for label, meta, mode in (
        ("~/.ssh", state.ssh_dir, SSH_DIR_MODE),
        ("authorized_keys", state.file, KEYS_MODE),
    ):
        if meta is None:
            continue
        wanted_kind = "directory" if mode == SSH_DIR_MODE else "file"
        if meta.kind != wanted_kind:
            problems.append(f"{label} is a {meta.kind}")
            continue
        if meta.mode != mode:
            problems.append(f"{label} mode {meta.mode:04o}")
        if (meta.uid, meta.gid) != (uid, gid):
            problems.append(f"{label} owned by {user_name(meta.uid)}:{group_name(meta.gid)}")
    if not problems and state.data == want:
        return None
    old = "absent" if state.data is None else count_keys(state.data)
    text = None
    if want_diff and state.data != want:
        text = unified_diff(state.data, want, state.path)
    return Change("authorized_keys", "; ".join([old, *problems]), count_keys(want), text)


def write_keys(home: str, data: bytes, uid: int, gid: int, user: str) -> None:
    """Write ~/.ssh/authorized_keys atomically (0600 in a 0700 ~/.ssh, both the user's)."""
    ssh_dir = os.path.join(home, ".ssh")
    try:
        hfd = os.open(home, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ApplyError(
            f"home directory {home} of user {user} does not exist: nowhere to put authorized_keys",
            hint="set managehome: true (the home is made with the user), or create the directory",
        ) from None
    except OSError as exc:
        raise ApplyError(f"cannot open the home {home} of user {user}: {exc.strerror}") from None
    try:
        try:
            os.mkdir(".ssh", SSH_DIR_MODE, dir_fd=hfd)
        except FileExistsError:
            pass
        try:
            sfd = os.open(".ssh", _DIR_NOFOLLOW, dir_fd=hfd)
        except OSError:
            raise ApplyError(
                f"{ssh_dir} is not a directory (a link or a file): keys are not written through it",
                hint=f"remove {ssh_dir}; gitpuppet then makes the directory",
            ) from None
        try:
            os.fchown(sfd, uid, gid)
            os.fchmod(sfd, SSH_DIR_MODE)
            # Through the open descriptor: a link swapped in for ~/.ssh now is not followed.
            via = f"/proc/self/fd/{sfd}"
            target = f"{via}/authorized_keys"
            try:
                remove_stale_temps(target)
                commit_temp(write_temp(target, data, mode=KEYS_MODE, uid=uid, gid=gid), target)
            except ApplyError as exc:
                raise ApplyError(exc.message.replace(via, ssh_dir), hint=exc.hint) from None
        finally:
            os.close(sfd)
    finally:
        os.close(hfd)
