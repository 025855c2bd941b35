"""Compile one node's catalog from a control repo (SPEC §2, §3.1).

Pure: reads the source tree and the facts, touches nothing on the machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitpuppet.compile import graph
from gitpuppet.compile.content import TreeSources
from gitpuppet.compile.data import DataStore
from gitpuppet.compile.declare import Declarations, Meta
from gitpuppet.compile.edges import EdgeResolution, Pending
from gitpuppet.compile.entries import EntryShape, check_keys, entries_of, names_of
from gitpuppet.compile.loader import PosDict, YamlCache, expect_mapping
from gitpuppet.compile.nodes import (
    Selection,
    declared_classes,
    load_declarations,
    select_declaration,
)
from gitpuppet.compile.params import ParamSpec
from gitpuppet.compile.resolve import ParamResolution
from gitpuppet.compile.settings import load_settings
from gitpuppet.compile.source import SourceTree, find_unit, unit_names
from gitpuppet.compile.template import Templates
from gitpuppet.errors import CompileErrors, SourceError, SourcePos, did_you_mean
from gitpuppet.model import Catalog, Ref, Resource

CLASS_KEYS = ("params", "include", "resources")


@dataclass
class _ClassInfo:
    name: str
    pos: SourcePos
    params: dict[str, Any] = field(default_factory=dict)


class Compiler(Declarations, ParamResolution, EdgeResolution):
    """Builds the catalog of one node. Use `compile_catalog` rather than this directly."""

    def __init__(
        self,
        tree: SourceTree,
        node_name: str,
        facts: dict[str, Any],
        environment: str | None,
        yaml: YamlCache | None = None,
    ) -> None:
        self.tree = tree
        self.node_name = node_name.lower()
        self.facts = facts
        self.environment = environment
        self.yaml = yaml if yaml is not None and yaml.tree is tree else YamlCache(tree)
        self.templates = Templates(tree)
        self.sources = TreeSources(tree, self.templates)
        self.resources: list[Resource] = []
        self.by_ref: dict[Ref, Resource] = {}
        self.by_path: dict[tuple[str, str], Ref] = {}  # file and git resources by their path
        self.containers: dict[Ref, list[Ref]] = {}
        self.container_pos: dict[Ref, SourcePos] = {}
        self.pending: list[Pending] = []
        self.classes: dict[str, _ClassInfo] = {}
        self.node_params: dict[str, tuple[dict[str, Any], SourcePos]] = {}
        self._shapes: dict[int, EntryShape] = {}
        self._bodies: dict[str, PosDict] = {}
        self._define_entries: dict[str, list[tuple[Any, SourcePos]]] = {}
        self._tags: dict[tuple[Any, ...], frozenset[str]] = {}
        self._units: dict[tuple[str, str], str | None] = {}
        self._specs: dict[int, tuple[PosDict, dict[str, ParamSpec]]] = {}
        # validate sets a list: a failed class, entry or edge is kept here and the compile
        # goes on, so every error of a node is reported (SPEC §4), not only the first.
        self.errors: list[SourceError] | None = None

    def collect(self, exc: SourceError) -> None:
        """Keep `exc` (once: a define used ten times fails ten times at the same place)."""
        assert self.errors is not None
        if all(str(e) != str(exc) for e in self.errors):
            self.errors.append(exc)

    def find_unit(self, folder: str, name: str) -> str | None:
        """`find_unit` once per name: a define used 10,000 times is looked for once."""
        key = (folder, name)
        if key not in self._units:
            self._units[key] = find_unit(self.tree, folder, name)
        return self._units[key]

    # -- the node ---------------------------------------------------------------------------

    def select(self) -> Selection:
        decls, files = load_declarations(self.yaml)
        return select_declaration(decls, files, self.node_name)

    def node_scope(self, selection: Selection) -> dict[str, Any]:
        """facts, node, lookup, and the node's vars (rendered)."""
        body = selection.declaration.body
        class_names = [name for name, _, _ in declared_classes(body)]
        node: dict[str, Any] = {
            "name": self.node_name,
            "match": selection.match,
            "vars": {},
            "classes": class_names,
            "environment": self.environment or "",
        }
        # Jinja's globals (range, dict, namespace …) travel in every scope, so a render needs
        # no merge of its own.
        scope: dict[str, Any] = {**self.templates.env.globals, "facts": self.facts, "node": node}
        settings = load_settings(self.yaml)
        self.data = DataStore(
            self.yaml, self.templates, settings.hierarchy, settings.hierarchy_pos, scope
        )
        scope["lookup"] = self.data.lookup_function()
        raw_vars = body.get("vars")
        if raw_vars is not None:
            if not isinstance(raw_vars, dict):
                raise SourceError(body.pos("vars"), "vars must be a mapping")
            node["vars"] = self.templates.render_value(raw_vars, scope, body.pos("vars"))
        # Levels such as roles/{{ node.vars.role }}.yaml need the vars: render them again.
        self.data.reset(scope)
        return scope

    def compile(self) -> Catalog:
        selection = self.select()
        self.base_scope = self.node_scope(selection)
        decl = selection.declaration
        declared = declared_classes(decl.body)
        for name, params, pos in declared:
            if params is not None:
                self.node_params[name] = (params, pos)
        for name, _, pos in declared:
            try:
                self.declare_class(name, pos, [])
            except SourceError as exc:
                if self.errors is None:
                    raise
                self.collect(exc)
        edges = self.resolve_edges()
        if self.errors:
            raise CompileErrors(self.errors)
        automatic = graph.auto_edges(self.resources)
        ordered, automatic = graph.order(self.resources, edges, automatic)
        return Catalog(
            node=self.node_name,
            environment=self.environment,
            resources=ordered,
            edges=edges + automatic,
            classes=list(self.classes),
            matched=decl.key,
            matched_pos=decl.pos,
            match_kind=decl.kind,
        )

    # -- classes ----------------------------------------------------------------------------

    def declare_class(self, name: str, pos: SourcePos, chain: list[str]) -> None:
        """Declare a class once; its includes first, then its resources."""
        if name in chain:
            loop = " -> ".join(chain[chain.index(name) :] + [name])
            raise SourceError(
                pos,
                f"class '{name}' includes itself ({loop})",
                "remove the include that closes the loop",
            )
        if name in self.classes:
            return
        path = self.find_unit("classes", name)
        if path is None:
            raise SourceError(
                pos,
                f"unknown class '{name}' (no classes/{name.replace('.', '/')}.yaml)",
                did_you_mean(name, unit_names(self.tree, "classes")),
            )
        body = self._unit_body(path, CLASS_KEYS, f"class '{name}'")
        given, given_pos = self.node_params.get(name, ({}, pos))
        params = self.resolve_params(body, given, given_pos, f"class '{name}'", lookup_prefix=name)
        info = _ClassInfo(name, pos, params)
        self.classes[name] = info
        scope = self._unit_scope(params)
        for inc, inc_pos in names_of(body, "include", scope, self.templates):
            try:
                self.declare_class(inc, inc_pos, chain + [name])
            except SourceError as exc:
                if self.errors is None:
                    raise
                self.collect(exc)
        # A class's container only holds its own resources (and its defines'), not its includes'.
        self.containers.setdefault(Ref("class", name), [])
        self.container_pos[Ref("class", name)] = pos
        for entry, entry_pos in entries_of(body, path):
            try:
                self.declare_entry(
                    entry, entry_pos, scope, name, None, [Ref("class", name)], Meta()
                )
            except SourceError as exc:
                if self.errors is None:
                    raise
                self.collect(exc)

    def _unit_scope(self, params: dict[str, Any], title: str | None = None) -> dict[str, Any]:
        """A class's or define's scope: Jinja's globals and the node's vars (as they are now)
        under its parameters (and `title`), facts, node and lookup over them."""
        base = self.base_scope
        scope = {**self.templates.env.globals, **base["node"]["vars"], **params}
        if title is not None:
            scope["title"] = title
        scope["facts"], scope["node"], scope["lookup"] = base["facts"], base["node"], base["lookup"]
        return scope

    def _unit_body(self, path: str, allowed: tuple[str, ...], what: str) -> PosDict:
        """A class or define file, checked the first time it is used."""
        body = self._bodies.get(path)
        if body is None:
            body = expect_mapping(self.yaml.load(path), path, what)
            check_keys(body, allowed, what)
            self._bodies[path] = body
        return body

    # -- edges ------------------------------------------------------------------------------
