"""Compile one node's catalog from a control repo (SPEC §2, §3.1).

Pure: reads the source tree and the facts, touches nothing on the machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitpuppet.compile import graph
from gitpuppet.compile.content import TreeSources
from gitpuppet.compile.data import DataStore
from gitpuppet.compile.edges import EdgeResolution, Pending
from gitpuppet.compile.entries import (
    ABSENT,
    EntryShape,
    check_keys,
    entries_of,
    entry_shape,
    names_of,
)
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
from gitpuppet.compile.template import Templates, renders_to_itself
from gitpuppet.errors import CompileErrors, SourceError, SourcePos, did_you_mean
from gitpuppet.model import (
    Catalog,
    Ref,
    Resource,
    scope_tags,
    sensitive_label,
)
from gitpuppet.resources import checks
from gitpuppet.types import schemas
from gitpuppet.types.build import build_params

CLASS_KEYS = ("params", "include", "resources")
DEFINE_KEYS = ("params", "include", "resources")
EDGE_META = ("require", "before", "notify", "subscribe")
_META_KEYS = frozenset((*EDGE_META, "noop", "sensitive", "tags"))


@dataclass
class _Meta:
    """Metaparameters that a define use passes down to what it contains."""

    noop: bool = False
    sensitive: bool = False
    tags: frozenset[str] = frozenset()


@dataclass
class _ClassInfo:
    name: str
    pos: SourcePos
    params: dict[str, Any] = field(default_factory=dict)


class Compiler(ParamResolution, EdgeResolution):
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
                    entry, entry_pos, scope, name, None, [Ref("class", name)], _Meta()
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

    # -- resources --------------------------------------------------------------------------

    def declare_entry(
        self,
        entry: Any,
        pos: SourcePos,
        scope: dict[str, Any],
        klass: str | None,
        define: str | None,
        stack: list[Ref],
        inherited: _Meta,
    ) -> None:
        """One `- type: title` entry: for_each and when, then the resource or define use."""
        shape = self._shapes.get(id(entry))
        if shape is None or shape.entry is not entry:
            shape = self._shapes[id(entry)] = entry_shape(entry, pos)
        type_key, attr_pos, parts = shape.type_key, shape.attr_pos, shape.parts
        items: list[dict[str, Any]] = [{}]
        if shape.for_each is not ABSENT:
            items = self._for_each(shape.for_each, scope, entry.pos("for_each"))
        when = shape.when
        render = self.templates.render_value
        is_type = type_key in schemas()
        title_raw, title_static = shape.title, renders_to_itself(shape.title)
        for extra in items:
            local = {**scope, **extra} if extra else scope
            if when is not None and not self._truth(when, local, entry.pos("when")):
                continue
            title = title_raw if title_static else render(title_raw, local, pos)
            if isinstance(title, (dict, list)) or title is None or title == "":
                raise SourceError(pos, f"the title of a {type_key} must be a non-empty string")
            if title.__class__ is not str:
                wrong = checks.not_text(title)
                if wrong:
                    raise SourceError(pos, f"the title of a {type_key} {wrong}")
            title = str(title)
            rendered = {k: render(v, local, p) if dynamic else v for k, v, p, dynamic in parts}
            if is_type:
                spec = schemas()[type_key]
                title = checks.typed_title(type_key, spec.namevar in spec.path_attrs, title, pos)
                checks.no_none(type_key, rendered, parts)
                self.declare_resource(
                    type_key,
                    title,
                    rendered,
                    dict(attr_pos),
                    pos,
                    local,
                    klass,
                    define,
                    stack,
                    inherited,
                )
            else:
                self.declare_define_use(
                    type_key, title, rendered, dict(attr_pos), pos, klass, stack, inherited
                )

    def _for_each(self, raw: Any, scope: dict[str, Any], pos: SourcePos) -> list[dict[str, Any]]:
        value = self.templates.render_value(raw, scope, pos)
        if isinstance(value, dict):
            return [{"item": k, "key": k, "value": v} for k, v in value.items()]
        if isinstance(value, (list, tuple)):
            return [{"item": v} for v in value]
        raise SourceError(
            pos, f"for_each must give a list or a mapping, not {type(value).__name__}"
        )

    def _truth(self, when: Any, scope: dict[str, Any], pos: SourcePos) -> bool:
        if isinstance(when, bool):
            return when
        if not isinstance(when, str):
            raise SourceError(pos, "when must be an expression (a string) or true/false")
        text = when.strip()
        if not text.startswith("{{"):
            text = "{{ " + text + " }}"
        result = self.templates.render_string(text, scope, pos)
        if isinstance(result, str):
            return result.strip().lower() not in ("", "false", "no", "0", "none")
        return bool(result)

    def _meta(
        self,
        attrs: dict[str, Any],
        attr_pos: dict[str, SourcePos],
        pos: SourcePos,
        inherited: _Meta,
        source: Ref,
    ) -> _Meta:
        if _META_KEYS.isdisjoint(attrs):
            return inherited
        noop, sensitive, tags = inherited.noop, inherited.sensitive, inherited.tags
        for key in EDGE_META:
            if key in attrs:
                value = attrs.pop(key)
                where = attr_pos.get(key, pos)
                targets = value if isinstance(value, list) else [value]
                for target in targets:
                    if not isinstance(target, str):
                        raise SourceError(
                            where, f"{key} must be a reference (type:title) or a list of them"
                        )
                    self.pending.append(Pending(key, source, target, where))
        for key in ("noop", "sensitive"):
            if key in attrs:
                value = attrs.pop(key)
                if not isinstance(value, bool):
                    raise SourceError(attr_pos.get(key, pos), f"{key} must be true or false")
                if key == "noop":
                    noop = noop or value
                else:
                    sensitive = sensitive or value
        if "tags" in attrs:
            value = attrs.pop("tags")
            value = value if isinstance(value, list) else [value]
            if not all(isinstance(t, str) and not checks.text_problem(t, False) for t in value):
                raise SourceError(
                    attr_pos.get("tags", pos), "tags must be a name or a list of names (one line)"
                )
            tags = tags.union(value)
        return _Meta(noop, sensitive, tags)

    def declare_resource(
        self,
        type_name: str,
        title: str,
        attrs: dict[str, Any],
        attr_pos: dict[str, SourcePos],
        pos: SourcePos,
        scope: dict[str, Any],
        klass: str | None,
        define: str | None,
        stack: list[Ref],
        inherited: _Meta,
    ) -> None:
        ref = Ref(type_name, title)
        meta = self._meta(attrs, attr_pos, pos, inherited, ref)
        spec = schemas()[type_name]
        resolved = spec.resolve(attrs, attr_pos, pos, scope, self.sources)
        # Attribute names were checked when the entry was first read.
        params = build_params(
            type_name, title, attrs, pos, attr_pos, check_names=False, resolved=resolved
        )
        if ref in self.by_ref:
            secret = meta.sensitive or self.by_ref[ref].sensitive
            shown = sensitive_label(ref) if secret else str(ref)  # the title may be the secret
            raise SourceError(
                pos,
                f"{shown} is declared twice (also at {self.by_ref[ref].pos})",
                "declare it once, or give the two different titles",
            )
        if spec.namevar in spec.path_attrs:
            self._claim_path(type_name, getattr(params, spec.namevar), ref, pos)
        define_type = define.split(":", 1)[0] if define else None
        tags_key = (meta.tags, type_name, klass, define_type)
        tags = self._tags.get(tags_key)
        if tags is None:
            more = {type_name}
            if klass:
                more |= scope_tags(klass)
            if define_type:
                more |= scope_tags(define_type)
            tags = self._tags[tags_key] = meta.tags | more
        res = Resource(
            type_name,
            title,
            params,
            pos,
            klass,
            define,
            meta.noop,
            meta.sensitive,
            tags,
            attr_pos,
        )
        self.resources.append(res)
        self.by_ref[ref] = res
        for container in stack:
            self.containers[container].append(ref)

    def _claim_path(self, type_name: str, path: str, ref: Ref, pos: SourcePos) -> None:
        """One resource per path of a path-titled type, whatever its title: `file: motd` with
        `path: /etc/motd` and `file: /etc/motd` are the same file."""
        other = self.by_path.get((type_name, path))
        if other is not None:
            raise SourceError(
                pos,
                f"{ref} manages {path}, as {other} does (declared at {self.by_ref[other].pos})",
                "declare it once, or give the two different paths",
            )
        self.by_path[type_name, path] = ref

    def declare_define_use(
        self,
        name: str,
        title: str,
        attrs: dict[str, Any],
        attr_pos: dict[str, SourcePos],
        pos: SourcePos,
        klass: str | None,
        stack: list[Ref],
        inherited: _Meta,
    ) -> None:
        path = self.find_unit("defines", name)
        if path is None:
            known = list(schemas()) + unit_names(self.tree, "defines")
            raise SourceError(
                pos, f"unknown resource type or define '{name}'", did_you_mean(name, known)
            )
        ref = Ref(name, title)
        if ref in self.containers:
            raise SourceError(pos, f"{ref} is declared twice (also at {self.container_pos[ref]})")
        meta = self._meta(attrs, attr_pos, pos, inherited, ref)
        body = self._unit_body(path, DEFINE_KEYS, f"define '{name}'")
        params = self.resolve_params(
            body,
            attrs,
            pos,
            f"define '{name}'",
            lookup_prefix=None,
            extra={"title": title},
            given_lines={key: where.line for key, where in attr_pos.items()},
        )
        self.containers[ref] = []
        self.container_pos[ref] = pos
        scope = self._unit_scope(params, title)
        if "include" in body:
            for inc, inc_pos in names_of(body, "include", scope, self.templates):
                self.declare_class(inc, inc_pos, [])
        entries = self._define_entries.get(path)
        if entries is None:
            entries = self._define_entries[path] = entries_of(body, path)
        define, inner = str(ref), [*stack, ref]
        for entry, entry_pos in entries:
            try:
                self.declare_entry(entry, entry_pos, scope, klass, define, inner, meta)
            except SourceError as exc:
                if self.errors is None:
                    raise
                self.collect(exc)

    # -- edges ------------------------------------------------------------------------------
