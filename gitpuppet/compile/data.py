"""Hierarchical data (SPEC §5): levels from gitpuppet.yaml, merges first/unique/hash/deep.

Each level is a template path under data/, rendered with the node's facts and node scope; a level
that cannot be rendered (a missing fact) or whose file is absent is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gitpuppet.compile.loader import PosDict, YamlCache, expect_mapping
from gitpuppet.compile.source import module_names
from gitpuppet.compile.template import Templates, confined_path
from gitpuppet.errors import SourceError, SourcePos

MERGES = ("first", "unique", "hash", "deep")
_MISSING = object()


@dataclass
class Level:
    """One hierarchy level: the template as written and the path it rendered to (or why not)."""

    template: str
    path: str | None
    skipped: str = ""  # why the level was skipped, for --explain
    data: PosDict | None = None
    pos: SourcePos | None = None  # where gitpuppet.yaml lists it
    unrenderable: bool = False  # the path could not be rendered (a missing fact or var)
    module: str | None = None  # a module's data/common.yaml: answers only `<module>.…` keys

    @property
    def shown(self) -> str:
        """The level for --explain: the template, and the path it rendered to if different."""
        if self.path is None or self.path == f"data/{self.template}":
            return self.path or self.template
        return f"{self.template} -> {self.path}"

    def answers(self, key: str) -> bool:
        """A module's level holds defaults for its own keys only: it cannot add to, or set,
        the site's other keys (a merged `admin_users`, say)."""
        return self.module is None or key == self.module or key.startswith(self.module + ".")


@dataclass
class Trace:
    """What `lookup --explain` prints: each level, whether it had the key, the merge used."""

    key: str
    merge: str
    steps: list[str] = field(default_factory=list)


class LookupMiss(SourceError):
    """A lookup that found its key at no level; `trace` holds every level tried."""

    def __init__(
        self, pos: SourcePos | None, message: str, hint: str | None, trace: Trace | None
    ) -> None:
        super().__init__(pos, message, hint)
        self.trace = trace


def deep_merge(high: Any, low: Any) -> Any:
    """Merge two values, `high` winning; mappings recursively, lists unioned (high first)."""
    if isinstance(high, dict) and isinstance(low, dict):
        out = dict(low)
        for k, v in high.items():
            out[k] = deep_merge(v, low[k]) if k in low else v
        # keep the higher level's key order first
        return {**{k: out[k] for k in high}, **{k: out[k] for k in low if k not in high}}
    if isinstance(high, list) and isinstance(low, list):
        return unique_merge([high, low])
    return high


def unique_merge(values: list[Any]) -> list[Any]:
    """Flatten lists (highest level first) and drop duplicates, keeping first occurrence."""
    out: list[Any] = []
    seen: list[Any] = []
    for value in values:
        items = value if isinstance(value, list) else [value]
        for item in items:
            marker = _hashable(item)
            if marker in seen:
                continue
            seen.append(marker)
            out.append(item)
    return out


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return ("__map__", tuple(sorted((str(k), _hashable(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("__list__", tuple(_hashable(v) for v in value))
    return value


def _dig(data: dict[Any, Any], key: str) -> Any:
    """`key` in `data`: the literal key first, then the dotted path."""
    if key in data:
        return data[key]
    node: Any = data
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return _MISSING
    return node


class DataStore:
    """Data lookups for one node. `scope` is the node-level template scope (facts, node)."""

    def __init__(
        self,
        yaml_cache: YamlCache,
        templates: Templates,
        hierarchy: list[str],
        hierarchy_pos: SourcePos,
        scope: dict[str, Any],
    ) -> None:
        self.yaml = yaml_cache
        self.templates = templates
        self.scope = scope
        self.hierarchy_pos = hierarchy_pos
        self.hierarchy = hierarchy
        self._levels: list[Level] | None = None
        self._options: dict[str, str] | None = None
        self._active: set[str] = set()

    @property
    def levels(self) -> list[Level]:
        """The hierarchy rendered with the current scope (resolved on first use)."""
        if self._levels is None:
            lines = getattr(self.hierarchy, "lines", None)
            self._levels = [
                self._resolve(
                    t, SourcePos(self.hierarchy_pos.file, lines[i]) if lines else self.hierarchy_pos
                )
                for i, t in enumerate(self.hierarchy)
            ] + [_module_level(self.yaml, name) for name in module_names(self.yaml.tree)]
        return self._levels

    def reset(self, scope: dict[str, Any]) -> None:
        """Use a new scope (e.g. once node vars are known): levels are rendered again."""
        self.scope = scope
        self._levels = None
        self._options = None

    def _resolve(self, template: str, pos: SourcePos) -> Level:
        try:
            rendered = self.templates.render_string(template, self.scope, pos)
        except SourceError as exc:
            why = f"cannot render: {exc.message}"
            return Level(template, None, skipped=why, pos=pos, unrenderable=True)
        path = confined_path("data", str(rendered), pos, "data")
        data = self.yaml.load_optional(path)
        if data is None and not self.yaml.tree.is_file(path):
            return Level(template, path, skipped="file absent", pos=pos)
        return Level(template, path, data=expect_mapping(data, path, "a data file"), pos=pos)

    def lookup_options(self) -> dict[str, str]:
        """`lookup_options:` merged over all levels (higher wins): key -> merge strategy."""
        if self._options is None:
            options: dict[str, str] = {}
            for level in reversed(self.levels):
                if level.data is None or level.data.get("lookup_options") is None:
                    continue
                raw = level.data["lookup_options"]
                if not isinstance(raw, PosDict):
                    raise SourceError(
                        level.data.pos("lookup_options"), "lookup_options must be a mapping"
                    )
                for key, opts in raw.items():
                    if not level.answers(str(key)):
                        continue
                    merge = opts.get("merge") if isinstance(opts, dict) else opts
                    if isinstance(merge, dict):
                        merge = merge.get("strategy")
                    if merge not in MERGES:
                        raise SourceError(
                            SourcePos(level.path or "", raw.lines.get(key, raw.line)),
                            f"lookup_options for '{key}': merge must be one of {', '.join(MERGES)}, not {merge!r}",
                        )
                    options[str(key)] = merge
            self._options = options
        return self._options

    def lookup(
        self,
        key: str,
        default: Any = _MISSING,
        merge: str | None = None,
        pos: SourcePos | None = None,
        trace: Trace | None = None,
        render: bool = True,
    ) -> Any:
        """The value of `key`; without a default, a missing key is an error at `pos`."""
        if merge is None:
            merge = self.lookup_options().get(key, "first")
        if merge not in MERGES:
            raise SourceError(
                pos, f"lookup merge must be one of {', '.join(MERGES)}, not {merge!r}"
            )
        if trace is not None:
            trace.merge = merge
        found: list[tuple[Any, Level]] = []
        for level in self.levels:
            if not level.answers(key):
                continue
            if level.data is None:
                if trace is not None:
                    trace.steps.append(f"{level.shown}: skipped ({level.skipped})")
                continue
            value = _dig(level.data, key)
            if trace is not None:
                trace.steps.append(
                    f"{level.path}: {'found' if value is not _MISSING else 'not found'}"
                )
            if value is _MISSING:
                continue
            if render:
                value = self._render(key, value, level)
            found.append((value, level))
            if merge == "first":
                break
        if not found:
            if default is not _MISSING:
                return default
            raise LookupMiss(
                pos,
                f"lookup of '{key}' found nothing in the data hierarchy",
                "add it to data/ (e.g. common.yaml) or give lookup a default",
                trace,
            )
        values = [v for v, _ in found]
        if merge == "first":
            return values[0]
        if merge == "unique":
            return unique_merge(values)
        if merge == "hash":
            out: dict[Any, Any] = {}
            for value, level in reversed(found):
                if not isinstance(value, dict):
                    raise SourceError(
                        _key_pos(level, key), f"hash merge of '{key}': not a mapping here"
                    )
                out.update(value)
            return out
        result = values[-1]
        for value in reversed(values[:-1]):
            result = deep_merge(value, result)
        return result

    def _render(self, key: str, value: Any, level: Level) -> Any:
        if key in self._active:
            raise SourceError(
                _key_pos(level, key), f"data key '{key}' refers to itself through lookup()"
            )
        self._active.add(key)
        try:
            pos = (
                level.data.pos(key.split(".")[0])
                if level.data is not None
                else SourcePos(level.path or "")
            )
            return self.templates.render_value(value, self.scope, pos)
        finally:
            self._active.discard(key)

    def lookup_function(self) -> Callable[..., Any]:
        """`lookup(key, default=..., merge=...)` for templates; results are memoised (data and
        node scope do not change during a compile, except once when node vars are set)."""
        memo: dict[tuple[str, str | None], Any] = {}

        def lookup(key: str, default: Any = _MISSING, merge: str | None = None) -> Any:
            if self._levels is None:
                memo.clear()  # the scope changed (node vars): start again
            memo_key = (key, merge)
            if memo_key not in memo:
                try:
                    memo[memo_key] = self.lookup(key, merge=merge)
                except LookupMiss:
                    if default is _MISSING:
                        raise
                    return default
            return memo[memo_key]

        return lookup


MISSING = _MISSING


def _module_level(yaml_cache: YamlCache, module: str) -> Level:
    """The lowest levels: each module's data/common.yaml (SPEC §9)."""
    path = f"{module}:data/common.yaml"
    data = yaml_cache.load_optional(path)
    if data is None:
        return Level(path, path, skipped="file absent", module=module)
    return Level(path, path, data=expect_mapping(data, path, "a data file"), module=module)


def _key_pos(level: Level, key: str) -> SourcePos:
    """Where `key` (or its first dotted part) is written in a level's file."""
    if level.data is None:
        return SourcePos(level.path or "")
    return level.data.pos(key if key in level.data else key.split(".")[0])
