"""`ini_setting` parameters, checks and automatic edges (pure: touches nothing)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from gitpuppet.model import Ref
from gitpuppet.resources.coerce import STR
from gitpuppet.resources.schema import EdgeIndex, Params, attr


@dataclass(slots=True)
class IniSettingParams(Params):
    type_name = "ini_setting"
    name: str = attr(STR, doc="a name for the setting (the title)")
    ensure: str = attr(STR, "present", ("present", "absent"), doc="present or absent")
    path: str = attr(STR, "", doc="the absolute path of the INI file (created if missing)")
    section: str = attr(STR, "", doc='the section, without brackets; "": before any section')
    setting: str = attr(STR, "", doc="the key within the section")
    value: str | None = attr(STR, doc="the value (needed with ensure: present)")
    separator: str = attr(
        STR, " = ", doc='what goes between key and value, e.g. " = ", "=" or ": "'
    )

    @property
    def delimiter(self) -> str:
        """The character that splits a key from its value in this file (`=` or `:`)."""
        return self.separator.strip() or "="

    def check(self) -> list[tuple[str, str]]:
        return setting_problems(self)

    def auto_edges(self, ref: Ref, index: EdgeIndex) -> None:
        """After the file it edits, when the catalog declares it."""
        index.need_path(self.path, ref, "automatic: the file it edits")

    def paths_written(self) -> tuple[list[str], bool]:
        return [self.path], False


def setting_problems(p: IniSettingParams) -> list[tuple[str, str]]:
    """What makes the setting impossible to write or to find again."""
    errs: list[tuple[str, str]] = []
    if not p.path:
        errs.append(("path", "ini_setting needs a path"))
    elif not os.path.isabs(p.path):
        errs.append(("path", f"path '{p.path}' is not absolute"))
    key = p.setting.strip()
    if not key:
        errs.append(("setting", "ini_setting needs a setting (the key)"))
    elif key != p.setting:
        errs.append(("setting", f"setting '{p.setting}' has blanks around it; remove them"))
    elif p.delimiter in key or key[0] in "[#;":
        errs.append(
            ("setting", f"setting '{key}' cannot hold '{p.delimiter}' nor start with [, # or ;")
        )
    if "]" in p.section or "[" in p.section or p.section != p.section.strip():
        errs.append(("section", f"section '{p.section}' cannot hold [ or ] or outer blanks"))
    if p.separator.strip() not in ("=", ":"):
        errs.append(("separator", "separator must be '=' or ':' with optional blanks"))
    if p.ensure == "present" and p.value is None:
        errs.append(("value", "ensure: present needs a value"))
    return errs
