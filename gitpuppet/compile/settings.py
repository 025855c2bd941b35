"""gitpuppet.yaml: the data hierarchy and the rollout settings of a control repo."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitpuppet.compile.loader import YamlCache, expect_mapping, refuse_unknown_keys
from gitpuppet.errors import SourceError, SourcePos

SETTINGS_KEYS = ("hierarchy", "rollout")


@dataclass
class Settings:
    """gitpuppet.yaml: the data hierarchy and the rollout (read by the agent)."""

    hierarchy: list[str]
    hierarchy_pos: SourcePos
    rollout: Any = None


def load_settings(yaml_cache: YamlCache) -> Settings:
    """Read gitpuppet.yaml (optional) and check its keys."""
    raw = yaml_cache.load_optional("gitpuppet.yaml")
    data = expect_mapping(raw, "gitpuppet.yaml", "gitpuppet.yaml")
    refuse_unknown_keys(data, SETTINGS_KEYS, "unknown setting '{key}' in gitpuppet.yaml")
    hierarchy = data.get("hierarchy", ["common.yaml"])
    if not isinstance(hierarchy, list) or not all(isinstance(h, str) for h in hierarchy):
        raise SourceError(data.pos("hierarchy"), "hierarchy must be a list of paths under data/")
    return Settings(
        hierarchy,
        data.pos("hierarchy") if "hierarchy" in data else SourcePos("gitpuppet.yaml", 1),
        data.get("rollout"),
    )
