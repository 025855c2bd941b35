"""`ini_setting`: one key of an INI-style file (`php memory` -> memory_limit in [PHP]).

The file is edited like `line` edits one: read through its directory's descriptor, edited by
a pure function (ini.edit_ini), written as a temp file renamed over it, the old text backed
up. A missing file is created (0644, root's).
"""

from __future__ import annotations

from typing import Any

from gitpuppet.model import Resource
from gitpuppet.resources.textfile import TextEditType
from gitpuppet.types.ini_setting.ini import edit_ini
from gitpuppet.types.ini_setting.spec import IniSettingParams


class IniSettingType(TextEditType):
    name = "ini_setting"
    create_missing = True

    def path(self, res: Resource) -> str:
        return str(res.params.path)

    def follow(self, res: Resource) -> bool:
        return False  # as `line` by default: a link at the path is an error, not followed

    def edit(self, text: str, res: Resource) -> str:
        p: IniSettingParams = res.params
        value = p.value if p.ensure == "present" else None
        return edit_ini(text, p.section, p.setting, value, p.separator)


TYPE: Any = IniSettingType()
