"""Node declarations (SPEC §2.1): which declaration a node name selects, and why."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

from gitpuppet.compile.loader import PosDict, PosList, YamlCache, expect_mapping
from gitpuppet.errors import SourceError, SourcePos, did_you_mean

DECLARATION_KEYS = ("classes", "vars", "examples")


@dataclass
class Declaration:
    """One key of a nodes file and its body."""

    key: str
    kind: str  # exact, regex, glob, default
    body: PosDict
    pos: SourcePos
    pattern: re.Pattern[str] | None = None
    examples: list[tuple[str, SourcePos]] = field(default_factory=list)

    @property
    def label(self) -> str:
        """How output names it: `regex '/^web/' at nodes/web.yaml:3`."""
        return f"{self.kind} '{self.key}' at {self.pos}"


@dataclass
class Selection:
    """The declaration chosen for a node, with regex captures (`node.match`)."""

    declaration: Declaration
    match: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def node_files(yaml_cache: YamlCache) -> list[str]:
    """Every nodes file: nodes.yaml at the root, then nodes/**/*.yaml in sorted path order."""
    tree = yaml_cache.tree
    files = ["nodes.yaml"] if tree.is_file("nodes.yaml") else []
    files += [p for p in tree.walk_files("nodes") if p.endswith((".yaml", ".yml"))]
    return files


def classify(key: str, pos: SourcePos) -> tuple[str, re.Pattern[str] | None]:
    """exact / regex / glob / default, with the compiled pattern."""
    if key == "default":
        return "default", None
    if len(key) >= 2 and key.startswith("/") and key.endswith("/"):
        try:
            return "regex", re.compile(key[1:-1], re.IGNORECASE)
        except re.error as exc:
            raise SourceError(
                pos, f"node pattern {key} is not a valid regular expression: {exc}"
            ) from None
    if any(c in key for c in "*?["):
        return "glob", re.compile(fnmatch.translate(key.lower()))
    return "exact", None


def load_declarations(yaml_cache: YamlCache) -> tuple[list[Declaration], list[str]]:
    """All declarations in file order; duplicate exact names are an error naming both places."""
    files = node_files(yaml_cache)
    decls: list[Declaration] = []
    exact: dict[str, Declaration] = {}
    for path in files:
        data = expect_mapping(yaml_cache.load(path), path, "a nodes file")
        for raw_key, body in data.items():
            key = str(raw_key)
            pos = data.pos(raw_key)
            kind, pattern = classify(key, pos)
            if kind == "exact":
                key = key.lower()
            if body is None:
                body = PosDict()
                body.file, body.line = pos.file, pos.line
            if not isinstance(body, PosDict):
                raise SourceError(pos, f"node '{key}' must be a mapping with classes and vars")
            for k in body:
                if k not in DECLARATION_KEYS:
                    raise SourceError(
                        body.pos(k),
                        f"unknown key '{k}' in node '{key}'",
                        did_you_mean(str(k), DECLARATION_KEYS) or "use classes and vars",
                    )
            decl = Declaration(key, kind, body, pos, pattern, _examples(body, key, kind))
            if kind in ("exact", "default"):
                if key in exact:
                    raise SourceError(
                        pos, f"node '{key}' is declared twice (also at {exact[key].pos})"
                    )
                exact[key] = decl
            decls.append(decl)
    return decls, files


def _examples(body: PosDict, key: str, kind: str) -> list[tuple[str, SourcePos]]:
    """`examples:` of a pattern or `default`: node names validate compiles it with."""
    if "examples" not in body:
        return []
    where = body.pos("examples")
    if kind == "exact":
        raise SourceError(
            where,
            f"node '{key}' is an exact name: examples are for patterns and default",
            "remove examples: validate compiles an exact name as it is",
        )
    raw = body["examples"]
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for i, item in enumerate(items):
        pos = raw.pos(i) if isinstance(raw, PosList) else where
        if not isinstance(item, str) or not item or "\n" in item:
            raise SourceError(pos, f"examples of node '{key}' must be node names (strings)")
        out.append((item.lower(), pos))
    return out


def select_declaration(decls: list[Declaration], files: list[str], name: str) -> Selection:
    """Exact name, then patterns in file order (first wins), then `default`."""
    name = name.lower()
    default = None
    for decl in decls:
        if decl.kind == "exact" and decl.key == name:
            return Selection(decl, [name], files)
    for decl in decls:
        if decl.kind in ("regex", "glob"):
            assert decl.pattern is not None
            match = decl.pattern.search(name) if decl.kind == "regex" else decl.pattern.match(name)
            if match:
                groups = [match.group(0)] + [g if g is not None else "" for g in match.groups()]
                return Selection(decl, groups, files)
        elif decl.kind == "default":
            default = decl
    if default is not None:
        return Selection(default, [name], files)
    searched = ", ".join(files) if files else "no nodes files (nodes.yaml or nodes/*.yaml)"
    raise SourceError(
        None,
        f"no declaration matches node '{name}' and there is no default (searched: {searched})",
        "add the node name, a pattern that matches it, or a `default:` declaration",
    )


def matching_patterns(decls: list[Declaration], name: str) -> list[Declaration]:
    """Every pattern that matches `name` (validate warns when there are several)."""
    out = []
    for decl in decls:
        if decl.pattern is None:
            continue
        m = decl.pattern.search(name) if decl.kind == "regex" else decl.pattern.match(name)
        if m:
            out.append(decl)
    return out


def declared_classes(body: PosDict) -> list[tuple[str, dict[str, Any] | None, SourcePos]]:
    """`classes:` as (name, params or None, position), from the list or the mapping form."""
    raw = body.get("classes")
    if raw is None:
        return []
    out: list[tuple[str, dict[str, Any] | None, SourcePos]] = []
    if isinstance(raw, list):
        for i, item in enumerate(raw):
            pos = raw.pos(i) if hasattr(raw, "pos") else body.pos("classes")
            if not isinstance(item, str):
                raise SourceError(pos, "each class in a list must be a class name")
            out.append((item, None, pos))
    elif isinstance(raw, dict):
        for name, params in raw.items():
            pos = raw.pos(name) if hasattr(raw, "pos") else body.pos("classes")
            if params is not None and not isinstance(params, dict):
                raise SourceError(pos, f"parameters of class '{name}' must be a mapping")
            out.append((str(name), params or {}, pos))
    else:
        raise SourceError(
            body.pos("classes"),
            "classes must be a list of names or a mapping of name to parameters",
        )
    return out
