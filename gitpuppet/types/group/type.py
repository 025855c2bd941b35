"""`group`: a local group (gid, system, members), read from /etc/group and changed with
groupadd, groupmod, gpasswd and groupdel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitpuppet.contract import ApplyContext, ResourceType
from gitpuppet.errors import ApplyError
from gitpuppet.model import Change, Resource
from gitpuppet.resources.accounts import (
    Accounts,
    GroupEntry,
    check_name,
    forget_accounts,
    read_accounts,
    run_tool,
)
from gitpuppet.types.group.spec import GroupParams


@dataclass(slots=True)
class GroupState:
    """The group as it is (None: absent), with the databases it was read from."""

    entry: GroupEntry | None
    accounts: Accounts


def wanted_members(p: GroupParams) -> list[str] | None:
    """The member list to manage, duplicates removed, in the order given (None: unmanaged)."""
    return None if p.members is None else list(dict.fromkeys(p.members))


class GroupType(ResourceType):
    name = "group"

    def current(self, res: Resource, ctx: ApplyContext) -> GroupState:
        """The group's line in /etc/group (names are checked first: a bad one fails here)."""
        p: GroupParams = res.params
        check_name("group", p.name)
        for member in p.members or ():
            check_name("user", member)
        accounts = read_accounts(ctx)
        return GroupState(accounts.groups.get(p.name), accounts)

    def diff(self, cur: GroupState, res: Resource, ctx: ApplyContext) -> list[Change]:
        """ensure, gid and members; `system` only matters when the group is created."""
        p: GroupParams = res.params
        entry = cur.entry
        if p.ensure == "absent":
            return [Change("ensure", "present", "absent")] if entry else []
        members = wanted_members(p)
        if entry is None:
            changes = [Change("ensure", "absent", "present")]
            if p.gid is not None:
                changes.append(Change("gid", None, p.gid))
            if members:
                changes.append(Change("members", [], members))
            return changes
        changes = []
        if p.gid is not None and p.gid != entry.gid:
            changes.append(Change("gid", entry.gid, p.gid))
        if members is not None and set(members) != set(entry.members):
            changes.append(Change("members", list(entry.members), members))
        return changes

    def apply(
        self, res: Resource, cur: GroupState, changes: list[Change], ctx: ApplyContext
    ) -> None:
        """groupdel, or groupadd/groupmod then gpasswd -M for the members."""
        p: GroupParams = res.params
        try:
            if p.ensure == "absent":
                _remove(p, cur.accounts)
                return
            attrs = {c.attr for c in changes}
            if p.gid is not None and "gid" in attrs:
                _check_gid_free(p, cur.accounts)
            members = wanted_members(p)
            if members is not None and "members" in attrs:
                _check_members_exist(p, members, cur.accounts)
            if cur.entry is None:
                argv = ["groupadd"]
                if p.system:
                    argv.append("--system")
                if p.gid is not None:
                    argv += ["--gid", str(p.gid)]
                run_tool([*argv, "--", p.name], f"creating group {p.name}")
            elif "gid" in attrs:
                run_tool(
                    ["groupmod", "--gid", str(p.gid), "--", p.name],
                    f"changing the gid of group {p.name}",
                )
            if members is not None and "members" in attrs:
                run_tool(
                    ["gpasswd", "-M", ",".join(members), "--", p.name],
                    f"setting the members of group {p.name}",
                )
        finally:
            forget_accounts(ctx)


def _remove(p: GroupParams, accounts: Accounts) -> None:
    entry = accounts.groups.get(p.name)
    users = accounts.primary_users(entry.gid) if entry else []
    if users:
        raise ApplyError(
            f"cannot remove group {p.name}: it is the primary group of {_names(users)}",
            hint="remove those users first, or give them another primary group (gid)",
        )
    run_tool(["groupdel", "--", p.name], f"removing group {p.name}")


def _check_gid_free(p: GroupParams, accounts: Accounts) -> None:
    assert p.gid is not None
    if p.gid < 0:
        raise ApplyError(f"gid {p.gid} of group {p.name} is negative")
    other = accounts.group_with_gid(p.gid, other_than=p.name)
    if other is not None:
        raise ApplyError(
            f"gid {p.gid} is already used by group {other.name}",
            hint=f"choose another gid for {p.name}, or change or remove group {other.name}",
        )


def _check_members_exist(p: GroupParams, members: list[str], accounts: Accounts) -> None:
    missing = [m for m in members if m not in accounts.users]
    if missing:
        raise ApplyError(
            f"members of group {p.name} do not exist: {', '.join(missing)}",
            hint="create the users first (require: user:NAME on the group), or list the group "
            "in each user's `groups` instead",
        )


def _names(users: list[str]) -> str:
    shown = ", ".join(users[:5])
    return (
        f"user {shown}"
        if len(users) == 1
        else f"users {shown}" + (f" and {len(users) - 5} more" if len(users) > 5 else "")
    )


TYPE: Any = GroupType()
