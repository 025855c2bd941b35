"""YAML loading that keeps source positions, with PyYAML's C parser.

Mappings load as `PosDict` (its own line, and the line of every key); sequences as `PosList`
(the line of every item). Duplicate keys are an error, not a silent overwrite. Nesting is limited
to MAX_DEPTH and alias expansion to MAX_ALIASED values (a 400-byte "billion laughs" file is an
error at its line, not gigabytes for whatever walks the loaded data).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import yaml

from gitpuppet.compile.source import SourceTree
from gitpuppet.errors import SourceError, SourcePos, did_you_mean


class PosDict(dict):  # type: ignore[type-arg]
    """A mapping with `line` (where it starts) and `lines[key]` (where each key is)."""

    __slots__ = ("file", "line", "lines")

    def __init__(self) -> None:
        super().__init__()
        self.file = ""
        self.line = 0
        self.lines: dict[Any, int] = {}

    def pos(self, key: Any = None) -> SourcePos:
        """Position of `key`, or of the mapping itself."""
        if key is not None and key in self.lines:
            return SourcePos(self.file, self.lines[key])
        return SourcePos(self.file, self.line)


class PosList(list):  # type: ignore[type-arg]
    """A sequence with `line` and `lines[i]` for each item."""

    __slots__ = ("file", "line", "lines")

    def __init__(self) -> None:
        super().__init__()
        self.file = ""
        self.line = 0
        self.lines: list[int] = []

    def pos(self, index: int | None = None) -> SourcePos:
        if index is not None and index < len(self.lines):
            return SourcePos(self.file, self.lines[index])
        return SourcePos(self.file, self.line)


MAX_DEPTH = 100  # nested lists and mappings; configuration is rarely deeper than 10
MAX_ALIASED = 100_000  # values that aliases may add to a file beyond what it spells out


class _Loader(yaml.CSafeLoader):
    source_file = ""
    depth = 0


def _too_deep(loader: _Loader, node: yaml.Node) -> SourceError:
    return SourceError(
        SourcePos(loader.source_file, node.start_mark.line + 1),
        f"YAML nested more than {MAX_DEPTH} levels deep",
        "flatten this structure",
    )


def check_aliases(root: yaml.Node, path: str) -> None:
    """Refuse a document whose aliases expand to more than MAX_ALIASED extra values, or that
    refers to itself (iterative: a deep document cannot exhaust the stack here)."""
    sizes: dict[int, int] = {}  # node -> values it stands for, aliases expanded
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    busy: set[int] = set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if not isinstance(node, (yaml.SequenceNode, yaml.MappingNode)):
            sizes[key] = 1
            continue
        children = _children(node)
        if not done:
            if key in sizes:
                continue
            if key in busy:
                raise SourceError(
                    SourcePos(path, node.start_mark.line + 1), "a YAML alias refers to itself"
                )
            busy.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            continue
        busy.discard(key)
        sizes[key] = total = 1 + sum(sizes.get(id(c), 1) for c in children)
        if total - len(sizes) > MAX_ALIASED:
            raise SourceError(
                SourcePos(path, node.start_mark.line + 1),
                f"YAML aliases here expand to more than {MAX_ALIASED:,} values",
                "use fewer aliases (an alias bomb?)",
            )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value)


_STR = "tag:yaml.org,2002:str"
_Scalar = yaml.ScalarNode


def _construct(loader: _Loader, node: yaml.Node) -> Any:
    # A string is its node's value: what construct_object would return, without its bookkeeping
    # (most of a large data file's load).
    if node.tag == _STR and node.__class__ is _Scalar:
        return node.value
    return loader.construct_object(node, deep=True)


T = TypeVar("T")


def _nested(build: Callable[[_Loader, Any], T]) -> Callable[[_Loader, Any], T]:
    """A constructor for a mapping or sequence that counts the nesting (MAX_DEPTH at most)."""

    def construct(loader: _Loader, node: Any) -> T:
        if loader.depth >= MAX_DEPTH:
            raise _too_deep(loader, node)
        loader.depth += 1
        try:
            return build(loader, node)
        finally:
            loader.depth -= 1

    return construct


def _build_mapping(loader: _Loader, node: yaml.MappingNode) -> PosDict:
    loader.flatten_mapping(node)
    out = PosDict()
    out.file = loader.source_file
    out.line = node.start_mark.line + 1
    lines = out.lines
    for key_node, value_node in node.value:
        key = _construct(loader, key_node)
        if key.__class__ is not str:
            try:
                hash(key)
            except TypeError:
                raise SourceError(
                    SourcePos(loader.source_file, key_node.start_mark.line + 1),
                    "a mapping key must be a plain value, not a list or mapping",
                ) from None
        line = key_node.start_mark.line + 1
        if key in lines:
            raise SourceError(
                SourcePos(loader.source_file, line),
                f"duplicate key '{key}' (first at line {lines[key]})",
                "remove or merge one of them",
            )
        out[key] = _construct(loader, value_node)
        lines[key] = line
    return out


def _build_sequence(loader: _Loader, node: yaml.SequenceNode) -> PosList:
    out = PosList()
    out.file = loader.source_file
    out.line = node.start_mark.line + 1
    lines = out.lines
    for child in node.value:
        out.append(_construct(loader, child))
        lines.append(child.start_mark.line + 1)
    return out


_Loader.add_constructor("tag:yaml.org,2002:map", _nested(_build_mapping))
_Loader.add_constructor("tag:yaml.org,2002:seq", _nested(_build_sequence))


def parse_yaml(text: str | bytes, path: str) -> Any:
    """Parse one YAML document; errors name the file and line."""
    loader = _Loader(text)
    loader.source_file = path
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if "*" in text if isinstance(text, str) else b"*" in text:  # no alias without a '*'
            check_aliases(node, path)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        problem = exc.problem or exc.context or "invalid YAML"
        raise SourceError(
            SourcePos(path, line),
            f"YAML syntax error: {problem}",
            "check the indentation and quoting on this line",
        ) from None
    except yaml.YAMLError as exc:
        raise SourceError(SourcePos(path, 0), f"YAML error: {exc}") from None
    finally:
        loader.dispose()


class YamlCache:
    """Loads each YAML file of a tree once."""

    def __init__(self, tree: SourceTree) -> None:
        self.tree = tree
        self._cache: dict[str, Any] = {}

    def load(self, path: str) -> Any:
        """The parsed file; raises FileNotFoundError when absent."""
        if path not in self._cache:
            data = self.tree.read_bytes(path)
            self._cache[path] = parse_yaml(data, path)
        return self._cache[path]

    def load_optional(self, path: str) -> Any:
        """The parsed file, or None when absent."""
        try:
            return self.load(path)
        except FileNotFoundError:
            return None


def expect_mapping(value: Any, path: str, what: str) -> PosDict:
    """`value` when it is a mapping (an empty file is an empty mapping), else an error."""
    if value is None:
        empty = PosDict()
        empty.file = path
        return empty
    if not isinstance(value, PosDict):
        line = getattr(value, "line", 1)
        raise SourceError(
            SourcePos(path, line), f"{what} must be a mapping, not {type(value).__name__}"
        )
    return value


def refuse_unknown_keys(
    data: PosDict, allowed: tuple[str, ...] | dict[str, Any], what: str, hint: str | None = None
) -> None:
    """SourceError at the first key of `data` not in `allowed`: "unknown <what> 'k'"
    (`what` may hold `{key}` for the key's place in it), with a did-you-mean, else `hint`."""
    for key in data:
        if key not in allowed:
            text = what.replace("{key}", str(key)) if "{key}" in what else f"unknown {what} '{key}'"
            raise SourceError(data.pos(key), text, did_you_mean(str(key), list(allowed)) or hint)
