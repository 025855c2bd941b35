"""The exec type's spec: its parameters, checks and automatic edges (pure)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from gitpuppet.model import Ref
from gitpuppet.resources.checks import account_rules, command_problem
from gitpuppet.resources.coerce import BOOL, INT, INTLIST, MAP, STR, STR_OR_INT, STRLIST
from gitpuppet.resources.schema import EdgeIndex, Params, Problems, attr


@dataclass(slots=True)
class ExecParams(Params):
    type_name = "exec"
    namevar = "command"
    multiline = frozenset({"command", "onlyif", "unless", "environment"})
    multiline_title = True
    command: str = attr(
        STR, doc="the command (the title), split into words as a shell would, run without one"
    )
    creates: str | None = attr(STR, doc="a path: the command runs only while it does not exist")
    onlyif: str | None = attr(STR, doc="a command: run only if it exits 0")
    unless: str | None = attr(STR, doc="a command: run only if it exits non-zero")
    refreshonly: bool = attr(BOOL, False, doc="run only when refreshed (notify/subscribe)")
    cwd: str | None = attr(STR, doc="the absolute working directory")
    environment: dict[str, str] = attr(MAP, {}, doc="extra environment variables")
    path: list[str] = attr(
        STRLIST,
        ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"],
        doc="the folders searched for the command's program",
    )
    user: str | int | None = attr(STR_OR_INT, doc="run as this user")
    group: str | int | None = attr(STR_OR_INT, doc="run with this group")
    timeout: int = attr(INT, 300, doc="seconds before the command's process group is killed")
    returns: list[int] = attr(INTLIST, [0], doc="the exit codes that mean success")
    tries: int = attr(INT, 1, doc="how many times to try before failing")
    try_sleep: int = attr(INT, 0, doc="seconds to wait between tries")
    shell: bool = attr(BOOL, False, doc="run the command with /bin/sh -c")

    def check(self) -> list[tuple[str, str]]:
        errs = []
        if self.timeout <= 0:
            errs.append(("timeout", "timeout must be a positive number of seconds"))
        if self.tries < 1:
            errs.append(("tries", "tries must be at least 1"))
        if self.cwd and not os.path.isabs(self.cwd):
            errs.append(("cwd", f"cwd '{self.cwd}' is not absolute"))
        return errs

    def text_rules(self) -> Problems:
        errs: Problems = []
        for key in ("command", "onlyif", "unless"):
            command = getattr(self, key)
            if command is not None:
                problem = command_problem(command, split=not self.shell)
                if problem:
                    errs.append((key, f"{key} {problem}"))
        for folder in self.path:
            if not folder.startswith("/") or ":" in folder:
                errs.append(
                    ("path", f"path entry '{folder}' must be an absolute folder without ':'")
                )
        for name in self.environment:
            if not name or "=" in name:
                errs.append(("environment", f"'{name}' is not an environment variable name"))
        return (
            errs
            + account_rules("user", self.user, "user")
            + account_rules("group", self.group, "group")
        )

    def auto_edges(self, ref: Ref, index: EdgeIndex) -> None:
        index.need_account("user", self.user, ref)
