"""Declaring resources: one `- type: title` entry (for_each, when, metaparameters), a resource
of a type (its spec resolves content, build_params checks it) or a define use (its parameters,
then its own entries). A mixin of the Compiler, which holds the state it fills in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitpuppet.compile.content import TreeSources
from gitpuppet.compile.edges import Pending
from gitpuppet.compile.entries import ABSENT, EntryShape, entries_of, entry_shape, names_of
from gitpuppet.compile.loader import PosDict
from gitpuppet.compile.source import SourceTree, unit_names
from gitpuppet.compile.template import Templates, renders_to_itself
from gitpuppet.errors import SourceError, SourcePos, did_you_mean
from gitpuppet.model import Ref, Resource, scope_tags, sensitive_label
from gitpuppet.resources import checks
from gitpuppet.types import schemas
from gitpuppet.types.build import build_params

DEFINE_KEYS = ("params", "include", "resources")
EDGE_META = ("require", "before", "notify", "subscribe")
_META_KEYS = frozenset((*EDGE_META, "noop", "sensitive", "tags"))


@dataclass
class Meta:
    """Metaparameters that a define use passes down to what it contains."""

    noop: bool = False
    sensitive: bool = False
    tags: frozenset[str] = frozenset()


class Declarations:
    """The Compiler's part that declares resources and define uses (a mixin)."""

    tree: SourceTree
    templates: Templates
    sources: TreeSources
    resources: list[Resource]
    by_ref: dict[Ref, Resource]
    by_path: dict[tuple[str, str], Ref]
    containers: dict[Ref, list[Ref]]
    container_pos: dict[Ref, SourcePos]
    pending: list[Pending]
    errors: list[SourceError] | None
    _shapes: dict[int, EntryShape]
    _define_entries: dict[str, list[tuple[Any, SourcePos]]]
    _tags: dict[tuple[Any, ...], frozenset[str]]

    if TYPE_CHECKING:

        def collect(self, exc: SourceError) -> None: ...
        def find_unit(self, folder: str, name: str) -> str | None: ...
        def declare_class(self, name: str, pos: SourcePos, chain: list[str]) -> None: ...
        def _unit_body(self, path: str, allowed: tuple[str, ...], what: str) -> PosDict: ...
        def _unit_scope(
            self, params: dict[str, Any], title: str | None = None
        ) -> dict[str, Any]: ...
        def resolve_params(
            self,
            body: PosDict,
            given: dict[str, Any],
            given_pos: SourcePos,
            what: str,
            lookup_prefix: str | None,
            extra: dict[str, Any] | None = None,
            given_lines: dict[Any, int] | None = None,
        ) -> dict[str, Any]: ...

    def declare_entry(
        self,
        entry: Any,
        pos: SourcePos,
        scope: dict[str, Any],
        klass: str | None,
        define: str | None,
        stack: list[Ref],
        inherited: Meta,
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
        inherited: Meta,
        source: Ref,
    ) -> Meta:
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
        return Meta(noop, sensitive, tags)

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
        inherited: Meta,
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
        inherited: Meta,
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
