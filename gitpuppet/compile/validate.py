"""`validate`: parse every file of a control repo and compile every declaration (SPEC §4).

Collects every problem instead of stopping at the first, so a repo's CI shows them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jinja2

from gitpuppet.compile import compile_node
from gitpuppet.compile.compiler import CLASS_KEYS, load_settings
from gitpuppet.compile.datacheck import data_key_problems, hierarchy_problems
from gitpuppet.compile.declare import DEFINE_KEYS
from gitpuppet.compile.loader import PosDict, YamlCache, refuse_unknown_keys
from gitpuppet.compile.modspec import parse_modules
from gitpuppet.compile.nodes import (
    Declaration,
    load_declarations,
    matching_patterns,
    select_declaration,
)
from gitpuppet.compile.source import SourceTree
from gitpuppet.compile.template import Templates
from gitpuppet.errors import GitpuppetError, SourceError, SourcePos


@dataclass
class NodeCompile:
    """One node compiled for a declaration: why it was chosen, what came out."""

    node: str
    via: str  # exact, facts-dir, example, --node
    resources: int | None = None  # None: the compile failed
    errors: list[str] = field(default_factory=list)


@dataclass
class DeclarationReport:
    """One node declaration and the nodes validate compiled it with (`--json`)."""

    key: str
    kind: str
    source: str
    compiled: list[NodeCompile] = field(default_factory=list)


@dataclass
class Validation:
    """What validate found: errors (fatal), warnings, and which nodes compiled."""

    files: int = 0
    nodes: dict[str, int] = field(default_factory=dict)  # node -> resource count
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    declarations: list[DeclarationReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_tree(
    tree: SourceTree,
    facts_for: Callable[[str], dict[str, Any]],
    only_nodes: list[str] | None = None,
    environment: str | None = None,
    facts_dir_names: list[str] | None = None,
    strict: bool = False,
) -> Validation:
    """Check every YAML file and template, then compile every declaration at least once
    (SPEC §4): exact names, `facts_dir_names`, and the `examples:` of patterns and `default`
    that nothing else reached; or only `only_nodes`. `strict`: findings that are warnings
    otherwise (a declaration nothing compiled, data mistakes) are errors."""
    result = Validation()
    yaml_cache = YamlCache(tree)
    _check_files(tree, yaml_cache, result)
    try:
        load_settings(yaml_cache)
        decls, files = load_declarations(yaml_cache)
    except GitpuppetError as exc:
        if str(exc) not in result.errors:
            result.errors.append(str(exc))
        return result
    reports = {id(d): DeclarationReport(d.key, d.kind, str(d.pos)) for d in decls}
    result.declarations = list(reports.values())
    findings = _Grouped()  # warnings, or errors under --strict
    errors = _Grouped()
    plan = plan_compiles(decls, files, only_nodes, facts_dir_names or [], result)
    for name, via, decl in plan:
        report = NodeCompile(name, via)
        reports[id(decl)].compiled.append(report)
        facts = _facts(name, facts_for, decls, result)
        if facts is None:
            continue
        compiled = compile_node(tree, name, facts, environment, collect=True, yaml=yaml_cache)
        report.errors = [str(e) for e in _without_cascades(compiled.errors)]
        for problem in report.errors:
            errors.add(problem, name)
        if compiled.catalog is not None:
            report.resources = result.nodes[name] = len(compiled.catalog.resources)
        names = [*_var_names(decls), *(str(k) for k in facts)]
        for level_problem in hierarchy_problems(compiled.levels, names):
            findings.add(str(level_problem), name)
    for key_problem in data_key_problems(yaml_cache):
        findings.add(str(key_problem))
    if only_nodes is None:
        for decl in decls:
            if not reports[id(decl)].compiled:
                findings.add(
                    f"{decl.pos}: {decl.kind} '{decl.key}': nothing compiled this declaration "
                    "(add `examples: [a node name it matches]`, or give its nodes' facts with "
                    "--facts-dir)"
                )
    result.errors += errors.lines()
    (result.errors if strict else result.warnings).extend(findings.lines())
    return result


def plan_compiles(
    decls: list[Declaration],
    files: list[str],
    only_nodes: list[str] | None,
    facts_dir_names: list[str],
    result: Validation,
) -> list[tuple[str, str, Declaration]]:
    """(node name, why, the declaration it selects) for each compile validate does."""
    if only_nodes:
        wanted = [(n.lower(), "--node") for n in only_nodes]
    else:
        wanted = [(d.key, "exact") for d in decls if d.kind == "exact"]
        wanted += [(n, "facts-dir") for n in facts_dir_names]
    plan: dict[str, tuple[str, str, Declaration]] = {}
    for name, via in wanted:
        try:
            decl = select_declaration(decls, files, name).declaration
        except GitpuppetError as exc:
            result.errors.append(f"node {name}: {exc}")
            continue
        plan.setdefault(name, (name, via, decl))
    if only_nodes:
        return list(plan.values())
    reached = {id(decl) for _, _, decl in plan.values()}
    for decl in decls:
        for example, pos in decl.examples:
            try:
                chosen: Declaration | None = select_declaration(decls, files, example).declaration
            except GitpuppetError:
                chosen = None
            if chosen is not decl:
                by = f"by {chosen.label}" if chosen is not None else "by no declaration"
                result.errors.append(
                    f"{pos}: example '{example}' of {decl.label} is matched {by}, not by this "
                    "declaration (fix the example or the pattern)"
                )
            elif id(decl) not in reached:
                plan.setdefault(example, (example, "example", decl))
    return list(plan.values())


def _facts(
    name: str,
    facts_for: Callable[[str], dict[str, Any]],
    decls: list[Declaration],
    result: Validation,
) -> dict[str, Any] | None:
    """The facts `name` is compiled with (None, and an error, when they cannot be read); warns
    when several patterns match the name."""
    patterns = matching_patterns(decls, name)
    if len(patterns) > 1:
        where = ", ".join(f"{d.key} ({d.pos})" for d in patterns)
        result.warnings.append(
            f"node {name}: several patterns match it: {where}; the first in file order wins"
        )
    try:
        return facts_for(name)
    except GitpuppetError as exc:
        result.errors.append(f"node {name}: {exc}")
        return None


def _without_cascades(errors: list[GitpuppetError]) -> list[GitpuppetError]:
    """A reference to a resource whose entry failed is "not declared" only because of that
    failure: it is left out when other errors explain it (it shows once they are fixed)."""
    first = [e for e in errors if _UNDECLARED not in e.message]
    return first or errors


_UNDECLARED = "is not declared in this node's catalog"


def _var_names(decls: list[Declaration]) -> set[str]:
    """Every node var name any declaration sets (for "did you mean" on a hierarchy level)."""
    out: set[str] = set()
    for decl in decls:
        raw = decl.body.get("vars")
        if isinstance(raw, dict):
            out.update(str(k) for k in raw)
    return out


class _Grouped:
    """Messages in the order first seen, each with the nodes it was found for: one typo in a
    class that 300 nodes share is one line, not 300."""

    def __init__(self) -> None:
        self._nodes: dict[str, list[str]] = {}

    def add(self, message: str, node: str | None = None) -> None:
        nodes = self._nodes.setdefault(message, [])
        if node is not None and node not in nodes:
            nodes.append(node)

    def lines(self) -> list[str]:
        out = []
        for message, nodes in self._nodes.items():
            if not nodes:
                out.append(message)
            elif len(nodes) == 1:
                out.append(f"node {nodes[0]}: {message}")
            else:
                shown = ", ".join(nodes[:3]) + (f" and {len(nodes) - 3} more" if nodes[3:] else "")
                out.append(f"nodes {shown}: {message}")
        return out


def _check_files(tree: SourceTree, yaml_cache: YamlCache, result: Validation) -> None:
    """Parse every YAML file of the language and every template."""
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
    refuse_unknown_keys(data, allowed, "key")
