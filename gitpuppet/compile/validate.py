"""`validate`: parse every file of a control repo and compile every exactly named node.

Collects every problem instead of stopping at the first, so a repo's CI shows them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jinja2

from gitpuppet.compile import compile_catalog
from gitpuppet.compile.compiler import CLASS_KEYS, DEFINE_KEYS, load_settings
from gitpuppet.compile.loader import PosDict, YamlCache
from gitpuppet.compile.modspec import parse_modules
from gitpuppet.compile.nodes import load_declarations, matching_patterns
from gitpuppet.compile.source import SourceTree
from gitpuppet.compile.template import Templates
from gitpuppet.errors import GitpuppetError, SourceError, SourcePos, did_you_mean


@dataclass
class Validation:
    """What validate found: errors (fatal), warnings, and which nodes compiled."""

    files: int = 0
    nodes: dict[str, int] = field(default_factory=dict)  # node -> resource count
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_tree(
    tree: SourceTree,
    facts_for: Callable[[str], dict[str, Any]],
    only_nodes: list[str] | None = None,
    environment: str | None = None,
) -> Validation:
    """Check every YAML file and template, then compile each exact node name (or `only_nodes`)."""
    result = Validation()
    yaml_cache = YamlCache(tree)
    templates = Templates(tree)
    yaml_files = [p for p in _walk(tree, "", result) if p.endswith((".yaml", ".yml"))]
    checked = ("nodes.yaml", "gitpuppet.yaml", "modules.yaml")
    for path in yaml_files:
        if not (path.startswith(("nodes/", "classes/", "defines/", "data/")) or path in checked):
            continue
        result.files += 1
        try:
            data = yaml_cache.load(path)
            if path.startswith(("classes/", "defines/")):
                _check_unit(path, data, CLASS_KEYS if path.startswith("classes/") else DEFINE_KEYS)
        except GitpuppetError as exc:
            result.errors.append(str(exc))
    for path in _walk(tree, "templates", result):
        result.files += 1
        try:
            templates.env.parse(
                tree.read_bytes(path).decode("utf-8"), path[len("templates/") :], path
            )
        except jinja2.TemplateSyntaxError as exc:
            result.errors.append(f"{path}:{exc.lineno}: template syntax error: {exc.message}")
        except UnicodeDecodeError:
            result.errors.append(f"{path}: a template must be UTF-8 text")
        except GitpuppetError as exc:  # a link that leaves the repo
            result.errors.append(str(exc))
    try:
        parse_modules(yaml_cache)
    except GitpuppetError as exc:
        result.errors.append(str(exc))
    try:
        load_settings(yaml_cache)
        decls, _files = load_declarations(yaml_cache)
    except GitpuppetError as exc:
        if str(exc) not in result.errors:
            result.errors.append(str(exc))
        return result
    names = only_nodes or [d.key for d in decls if d.kind == "exact"]
    for name in names:
        patterns = matching_patterns(decls, name)
        if len(patterns) > 1:
            where = ", ".join(f"{d.key} ({d.pos})" for d in patterns)
            result.warnings.append(
                f"node {name}: several patterns match it: {where}; the first in file order wins"
            )
        try:
            catalog = compile_catalog(tree, name, facts_for(name), environment)
            result.nodes[name] = len(catalog.resources)
        except GitpuppetError as exc:
            result.errors.append(f"node {name}: {exc}")
    return result


def _walk(tree: SourceTree, path: str, result: Validation) -> list[str]:
    """The files below `path`, or none and an error (a folder linked out of the repo)."""
    try:
        return tree.walk_files(path)
    except GitpuppetError as exc:
        result.errors.append(str(exc))
        return []


def _check_unit(path: str, data: Any, allowed: tuple[str, ...]) -> None:
    if data is None:
        return
    if not isinstance(data, PosDict):
        raise SourceError(SourcePos(path, 1), "a class or define file must be a mapping")
    for key in data:
        if key not in allowed:
            raise SourceError(
                data.pos(key), f"unknown key '{key}'", did_you_mean(str(key), allowed)
            )
