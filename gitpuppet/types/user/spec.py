"""The user type's spec: its parameters, checks and automatic edges (pure)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from gitpuppet.model import Ref
from gitpuppet.resources.checks import (
    account_problems,
    account_rules,
    is_crypt_hash,
    passwd_field_problem,
)
from gitpuppet.resources.coerce import BOOL, INT, STR, STR_OR_INT, STRLIST
from gitpuppet.resources.schema import EdgeIndex, Params, Problems, attr


@dataclass(slots=True)
class UserParams(Params):
    type_name = "user"
    account_kind = "user"
    secret_attrs = frozenset({"password"})
    name: str = attr(STR, doc="the login name (the title)")
    ensure: str = attr(STR, "present", ("present", "absent"), doc="present or absent")
    uid: int | None = attr(INT, doc="the numeric user id")
    gid: str | int | None = attr(STR_OR_INT, doc="the primary group, by name or gid")
    groups: list[str] | None = attr(STRLIST, doc="supplementary groups: the whole list")
    home: str | None = attr(STR, doc="the absolute home directory")
    managehome: bool = attr(
        BOOL, False, doc="create the home directory (and remove it with ensure: absent)"
    )
    shell: str | None = attr(STR, doc="the login shell")
    comment: str | None = attr(STR, doc="the GECOS field (full name)")
    system: bool = attr(BOOL, False, doc="a system account (a uid below 1000) when created")
    password: str | None = attr(STR, doc="a crypt(3) hash, never a plain password; never printed")
    authorized_keys: list[str] | None = attr(
        STRLIST, doc="ssh public keys: the whole ~/.ssh/authorized_keys"
    )

    def check(self) -> list[tuple[str, str]]:
        """The one check of a user's values: the compiler runs it, and the type again before
        it reads anything (types/user/type.py:check_params)."""
        errs = account_problems("user", self.name, self.uid, "uid")
        if isinstance(self.gid, int) and self.gid < 0:
            errs.append(("gid", f"gid must be 0 or more, not {self.gid}"))
        if self.home is not None and not os.path.isabs(self.home):
            errs.append(
                ("home", f"home '{self.home}' is not absolute: it is not an absolute path from /")
            )
        if self.password is not None and not is_crypt_hash(self.password):
            errs.append(
                (
                    "password",
                    "password is not a crypt(3) hash (the value is not shown: it is sensitive); "
                    "give the hash, e.g. from `mkpasswd -m yescrypt`, never the plain password",
                )
            )
        for key in self.authorized_keys or []:
            if "\n" in key or "\r" in key:
                errs.append(
                    (
                        "authorized_keys",
                        "each authorized key must be one line (one spans several lines)",
                    )
                )
                break
        return errs

    def text_rules(self) -> Problems:
        errs: Problems = []
        for key in ("comment", "home", "shell"):
            value = getattr(self, key)
            problem = passwd_field_problem(key, value) if isinstance(value, str) else None
            if problem:
                errs.append((key, problem))
        return (
            errs
            + account_rules("gid", self.gid, "group")
            + account_rules("groups", self.groups or [], "group")
        )

    def auto_edges(self, ref: Ref, index: EdgeIndex) -> None:
        groups = [self.gid] if isinstance(self.gid, str) else []
        groups.extend(self.groups or ())
        for name in groups:
            if self.ensure == "absent":
                # A user goes before its groups do: a group cannot be removed while it is
                # some user's primary group.
                found = index.accounts.get(("group", name))
                if found is not None:
                    index.add(ref, found, "automatic: a removed user goes before its group")
            else:
                index.need_account("group", name, ref)

    def paths_written(self) -> tuple[list[str], bool]:
        if self.ensure == "absent":
            return [], False
        home = self.home or (f"/home/{self.name}" if self.managehome else None)
        return ([home] if home else []), True
