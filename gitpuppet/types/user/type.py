"""`user`: a local account (uid, primary and supplementary groups, home, shell, comment,
password hash, authorized keys), read from /etc/passwd, /etc/group and /etc/shadow and changed
with useradd, usermod, chpasswd and userdel.

The password hash is never shown: its change is always redacted, and it reaches chpasswd on
stdin, never on a command line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from gitpuppet.contract import ApplyContext, ResourceType
from gitpuppet.errors import ApplyError
from gitpuppet.model import Change, Resource
from gitpuppet.resources.accounts import (
    REDACTED,
    Accounts,
    KeysState,
    UserEntry,
    check_name,
    count_keys,
    forget_accounts,
    keys_change,
    keys_data,
    read_accounts,
    read_keys,
    run_tool,
    write_keys,
)
from gitpuppet.types.user.spec import UserParams


@dataclass(slots=True)
class UserState:
    """The account as it is (entry None: absent), with the databases it was read from."""

    entry: UserEntry | None
    accounts: Accounts
    password: str | None = None  # the shadow hash, read only when `password` is managed
    keys: KeysState | None = None  # read only when `authorized_keys` is managed


def check_params(p: UserParams) -> None:
    """The spec's check again, raised before anything is read (params built some other way):
    the names as the shadow tools take them, then `UserParams.check`, the one source."""
    check_name("user", p.name)
    if isinstance(p.gid, str) and not p.gid.isdigit():
        check_name("group", p.gid)
    for group in p.groups or ():
        check_name("group", group)
    for _attr, problem in p.check():
        raise ApplyError(f"user {p.name}: {problem}")


def wanted_gid(p: UserParams, accounts: Accounts) -> int | None:
    """The primary gid asked for: a number as given, a name resolved (None: no such group)."""
    if p.gid is None:
        return None
    if isinstance(p.gid, int) or p.gid.isdigit():
        return int(p.gid)
    group = accounts.groups.get(p.gid)
    return group.gid if group else None


def wanted_groups(p: UserParams) -> list[str] | None:
    return None if p.groups is None else sorted(set(p.groups))


class UserType(ResourceType):
    name = "user"

    def current(self, res: Resource, ctx: ApplyContext) -> UserState:
        """The passwd line; the shadow hash and the keys file only when they are managed."""
        p: UserParams = res.params
        check_params(p)
        accounts = read_accounts(ctx)
        entry = accounts.users.get(p.name)
        state = UserState(entry, accounts)
        if entry is not None and p.ensure == "present":
            if p.password is not None:
                state.password = accounts.shadow().get(p.name)
            if p.authorized_keys is not None:
                state.keys = read_keys(p.home or entry.home)
        return state

    def diff(self, cur: UserState, res: Resource, ctx: ApplyContext) -> list[Change]:
        """Every managed attribute that differs; `system` and `managehome` only steer apply."""
        p: UserParams = res.params
        entry, accounts = cur.entry, cur.accounts
        if p.ensure == "absent":
            return [Change("ensure", "present", "absent")] if entry else []
        if entry is None:
            return [Change("ensure", "absent", "present"), *_planned(p)]
        changes: list[Change] = []
        if p.uid is not None and p.uid != entry.uid:
            changes.append(Change("uid", entry.uid, p.uid))
        gid = wanted_gid(p, accounts)
        if p.gid is not None and gid != entry.gid:
            changes.append(Change("gid", accounts.group_label(entry.gid), p.gid))
        groups = wanted_groups(p)
        have = sorted(accounts.groups_of(p.name))
        if groups is not None and groups != have:
            changes.append(Change("groups", have, groups))
        for attr in ("home", "shell", "comment"):
            want = getattr(p, attr)
            if want is not None and want != getattr(entry, attr):
                changes.append(Change(attr, getattr(entry, attr), want))
        if p.password is not None and cur.password != p.password:
            changes.append(Change("password", REDACTED, REDACTED, redacted=True))
        if p.authorized_keys is not None and cur.keys is not None:
            uid = p.uid if p.uid is not None else entry.uid
            change = keys_change(
                cur.keys,
                keys_data(p.authorized_keys),
                uid,
                entry.gid if gid is None else gid,
                ctx.want_diff,
            )
            if change is not None:
                changes.append(change)
        return changes

    def apply(
        self, res: Resource, cur: UserState, changes: list[Change], ctx: ApplyContext
    ) -> None:
        """userdel, or useradd/usermod, then chpasswd and the authorized_keys file."""
        p: UserParams = res.params
        attrs = {c.attr for c in changes}
        try:
            if p.ensure == "absent":
                argv = ["userdel", *(["--remove"] if p.managehome else []), "--", p.name]
                run_tool(argv, f"removing user {p.name}")
                return
            _check_before_change(p, cur, attrs)
            if cur.entry is None:
                run_tool(_useradd_argv(p, cur.accounts), f"creating user {p.name}")
            else:
                argv = _usermod_argv(p, attrs)
                if argv:
                    run_tool(["usermod", *argv, "--", p.name], f"changing user {p.name}")
            if p.password is not None and "password" in attrs:
                run_tool(
                    ["chpasswd", "--encrypted"],
                    f"setting the password of user {p.name}",
                    input=f"{p.name}:{p.password}\n".encode(),
                    secret=p.password,
                )
            if p.authorized_keys is not None and "authorized_keys" in attrs:
                forget_accounts(ctx)
                entry = read_accounts(ctx).users.get(p.name)
                if entry is None:
                    raise ApplyError(f"user {p.name} disappeared while it was being changed")
                write_keys(entry.home, keys_data(p.authorized_keys), entry.uid, entry.gid, p.name)
        finally:
            forget_accounts(ctx)


def _planned(p: UserParams) -> list[Change]:
    """What creating the user sets, for the report (the password redacted)."""
    changes = []
    for attr in ("uid", "gid", "home", "shell", "comment"):
        value = getattr(p, attr)
        if value is not None:
            changes.append(Change(attr, None, value))
    if p.groups:
        changes.append(Change("groups", [], wanted_groups(p)))
    if p.password is not None:
        changes.append(Change("password", None, REDACTED, redacted=True))
    if p.authorized_keys is not None:
        changes.append(Change("authorized_keys", None, count_keys(keys_data(p.authorized_keys))))
    return changes


def _check_before_change(p: UserParams, cur: UserState, attrs: set[str]) -> None:
    """Name what stands in the way (a taken uid, a missing group) instead of a tool's code."""
    accounts, creating = cur.accounts, cur.entry is None
    if p.uid is not None and (creating or "uid" in attrs):
        other = accounts.user_with_uid(p.uid, other_than=p.name)
        if other is not None:
            raise ApplyError(
                f"uid {p.uid} is already used by user {other.name}",
                hint=f"choose another uid for {p.name}, or change or remove user {other.name}",
            )
    if p.gid is not None and (creating or "gid" in attrs):
        gid = wanted_gid(p, accounts)
        if gid is None or accounts.group_with_gid(gid) is None:
            which = f"gid {p.gid}" if gid is not None else f"'{p.gid}'"
            raise ApplyError(
                f"primary group {which} of user {p.name} does not exist",
                hint="declare it (a group resource) or create it first",
            )
    if p.groups and (creating or "groups" in attrs):
        missing = [g for g in wanted_groups(p) or () if g not in accounts.groups]
        if missing:
            raise ApplyError(
                f"supplementary groups of user {p.name} do not exist: {', '.join(missing)}",
                hint="declare them (group resources) or take them out of `groups`",
            )
    old_home = cur.entry.home if cur.entry is not None else None
    new_home = p.home if "home" in attrs and p.managehome else None
    # usermod would record the new home and then fail to move the old one onto it.
    if old_home and new_home and os.path.isdir(old_home) and os.path.lexists(new_home):
        raise ApplyError(
            f"cannot move the home of user {p.name} from {old_home} to {new_home}: "
            f"{new_home} already exists",
            hint=f"remove {new_home}, or set managehome: false to change only the home field",
        )


def _useradd_argv(p: UserParams, accounts: Accounts) -> list[str]:
    argv = ["useradd"]
    if p.system:
        argv.append("--system")
    if p.uid is not None:
        argv += ["--uid", str(p.uid)]
    if p.gid is not None:
        argv += ["--gid", str(p.gid)]
    elif p.name in accounts.groups:
        # useradd refuses to make a user group over an existing group: use that group, as a
        # `group` resource of the same name declared beside the user means.
        argv += ["--gid", p.name]
    if p.groups:
        argv += ["--groups", ",".join(wanted_groups(p) or ())]
    if p.home is not None:
        argv += ["--home-dir", p.home]
    argv.append("--create-home" if p.managehome else "--no-create-home")
    if p.shell is not None:
        argv += ["--shell", p.shell]
    if p.comment is not None:
        argv += ["--comment", p.comment]
    return [*argv, "--", p.name]


def _usermod_argv(p: UserParams, attrs: set[str]) -> list[str]:
    argv: list[str] = []
    if "uid" in attrs:
        argv += ["--uid", str(p.uid)]
    if "gid" in attrs:
        argv += ["--gid", str(p.gid)]
    if "groups" in attrs:
        argv += ["--groups", ",".join(wanted_groups(p) or ())]
    if "home" in attrs:
        argv += ["--home", str(p.home), *(["--move-home"] if p.managehome else [])]
    if "shell" in attrs:
        argv += ["--shell", str(p.shell)]
    if "comment" in attrs:
        argv += ["--comment", str(p.comment)]
    return argv


TYPE: Any = UserType()
