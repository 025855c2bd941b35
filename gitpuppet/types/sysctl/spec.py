"""`sysctl` parameters, checks and automatic edges (pure: touches nothing).

The title is the key in sysctl's dotted form (`net.ipv4.ip_forward`); as in sysctl(8), a `/`
inside it stands for a dot inside one name (`net.ipv4.conf.eth0/100.forwarding`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitpuppet.model import Ref
from gitpuppet.resources.coerce import BOOL, STR, STR_OR_INT
from gitpuppet.resources.schema import EdgeIndex, Params, attr

# Where the persistent settings go, one file per key (owned whole).
SYSCTL_DIR = "/etc/sysctl.d"
_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_/:@+-]*")


@dataclass(slots=True)
class SysctlParams(Params):
    type_name = "sysctl"
    name: str = attr(STR, doc="the kernel parameter, e.g. net.ipv4.ip_forward (the title)")
    ensure: str = attr(
        STR,
        "present",
        ("present", "absent"),
        doc="absent removes the persistent file (the live value stays until reboot)",
    )
    value: str | int | None = attr(STR_OR_INT, doc="the value (needed with ensure: present)")
    persist: bool = attr(
        BOOL,
        True,
        doc="also write /etc/sysctl.d/60-gitpuppet-<key>.conf, so the value survives a reboot",
    )

    @property
    def wanted(self) -> str:
        """The value as the kernel prints it: words separated by one blank."""
        return normal_value(str(self.value))

    def check(self) -> list[tuple[str, str]]:
        return sysctl_problems(self)

    def auto_edges(self, ref: Ref, index: EdgeIndex) -> None:
        """After the directory its file goes into, when the catalog declares it."""
        if self.persist:
            index.need_path(SYSCTL_DIR, ref, "automatic: the directory of its file")

    def paths_written(self) -> tuple[list[str], bool]:
        return ([f"{SYSCTL_DIR}/{file_name(self.name)}"] if self.persist else []), False


def normal_value(value: str) -> str:
    return " ".join(value.split())


def proc_path(key: str) -> str:
    """The key's path under /proc/sys: dots become slashes, a slash stands for a dot."""
    return "/".join(part.replace("/", ".") for part in key.split("."))


def file_name(key: str) -> str:
    """The file of /etc/sysctl.d that holds the key's persistent value."""
    return f"60-gitpuppet-{key.replace('/', '_')}.conf"


def file_text(p: SysctlParams) -> bytes:
    return f"# managed by gitpuppet (sysctl:{p.name})\n{p.name} = {p.wanted}\n".encode()


def sysctl_problems(p: SysctlParams) -> list[tuple[str, str]]:
    """A key sysctl would not find, or a value it could not take."""
    errs: list[tuple[str, str]] = []
    parts = p.name.split(".")
    if len(parts) < 2 or not all(_PART.fullmatch(part) for part in parts):
        errs.append(
            (
                "name",
                f"'{p.name}' is not a sysctl key: dotted names of letters, digits, _ and - "
                "(e.g. net.ipv4.ip_forward)",
            )
        )
    if p.ensure == "present":
        if p.value is None:
            errs.append(("value", "ensure: present needs a value"))
        elif not normal_value(str(p.value)):
            errs.append(("value", "value is empty; give the value to set"))
    return errs
