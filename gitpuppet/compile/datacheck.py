"""Silent data mistakes made visible (issue: validate --strict, warnings in `node`).

Two mistakes that data lookup forgives by design, and so hides: a hierarchy level that cannot
render for a node (a typo such as `node.vars.rolee` skips the level on every node), and a data key
`<class>.<param>` for a class that has no such parameter (`web.worker` is never looked up).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from gitpuppet.compile.compiler import find_unit, unit_names
from gitpuppet.compile.data import Level
from gitpuppet.compile.loader import PosDict, YamlCache
from gitpuppet.errors import GitpuppetError, SourceError, did_you_mean

_NO_ATTRIBUTE = re.compile(r"has no attribute '([^']+)'|'([^']+)' is undefined|name '([^']+)'")


def hierarchy_problems(levels: list[Level], names: Iterable[str]) -> list[SourceError]:
    """Each level of a node's hierarchy that could not render; `names` (node vars, facts)
    feed the "did you mean"."""
    out = []
    for level in levels:
        if not level.unrenderable:
            continue
        reason = level.skipped.removeprefix("cannot render: ")
        hint = None
        found = _NO_ATTRIBUTE.search(reason)
        if found:
            hint = did_you_mean(next(g for g in found.groups() if g), names)
        out.append(
            SourceError(
                level.pos,
                f"hierarchy level '{level.template}' cannot render: {reason}",
                hint
                or "give the node what the level needs, or write the level with "
                "`| default(...)` where it is optional",
            )
        )
    return out


def data_key_problems(yaml_cache: YamlCache) -> list[SourceError]:
    """Data keys `<class>.<param>` (dotted, or nested under the class name) whose class exists
    but has no such parameter, in every data file."""
    checker = _KeyChecker(yaml_cache)
    tree = yaml_cache.tree
    for path in tree.walk_files("data") if tree.is_dir("data") else []:
        if not path.endswith((".yaml", ".yml")):
            continue
        try:
            data = yaml_cache.load(path)
        except GitpuppetError:
            continue  # validate reports the file itself
        if isinstance(data, PosDict):
            for key, value in data.items():
                if key != "lookup_options" and isinstance(key, str):
                    checker.check(key.split("."), value, data, key)
    return checker.problems


_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _KeyChecker:
    def __init__(self, yaml_cache: YamlCache) -> None:
        self.yaml = yaml_cache
        self.problems: list[SourceError] = []
        self._params: dict[str, list[str] | None] = {}
        self.classes = (
            unit_names(yaml_cache.tree, "classes") if yaml_cache.tree.is_dir("classes") else []
        )

    def params(self, klass: str) -> list[str] | None:
        """The parameter names of `klass`, or None when there is no such class."""
        if klass not in self._params:
            path = find_unit(self.yaml.tree, "classes", klass)
            names: list[str] | None = None
            if path is not None:
                try:
                    body = self.yaml.load(path)
                except GitpuppetError:
                    body = None
                params = body.get("params") if isinstance(body, dict) else None
                names = [str(k) for k in params] if isinstance(params, dict) else []
            self._params[klass] = names
        return self._params[klass]

    def check(self, parts: list[str], value: Any, where: PosDict, written: str) -> None:
        """`parts` is the key so far; `where` and `written` say where it is in the file."""
        split = next(
            (i for i in range(len(parts), 0, -1) if self.params(".".join(parts[:i])) is not None),
            0,
        )
        klass = ".".join(parts[:split])
        if split == len(parts) or split == 0:
            # `web: {workers: 4}`, or `web: {vhost: {port: 80}}` for class web.vhost
            prefix = ".".join(parts) + "."
            if isinstance(value, PosDict) and (
                split or any(c.startswith(prefix) for c in self.classes)
            ):
                for sub, inner in value.items():
                    if isinstance(sub, str):
                        self.check([*parts, *sub.split(".")], inner, value, sub)
            return  # otherwise not a class key: any lookup() may read it
        param = parts[split]
        known = self.params(klass) or []
        if param in known or not _PARAM_NAME.fullmatch(param):
            return  # a parameter, or a key no parameter could be named (a path, say): data
        self.problems.append(
            SourceError(
                where.pos(written),
                f"data key '{'.'.join(parts)}': class '{klass}' has no parameter '{param}'",
                did_you_mean(param, known) or f"its parameters: {', '.join(known) or 'none'}",
            )
        )
