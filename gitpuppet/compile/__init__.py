"""The control-repo language: compile a node's catalog from a source tree and facts."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitpuppet.compile.source import DirTree, SourceTree
from gitpuppet.errors import CompileErrors, GitpuppetError, SourceError, SourcePos
from gitpuppet.model import Catalog

if TYPE_CHECKING:
    from gitpuppet.compile.data import Level
    from gitpuppet.compile.loader import YamlCache

__all__ = ["DirTree", "SourceTree", "compile_catalog", "compile_node", "lookup_value"]


@dataclass
class Compiled:
    """A compile as validate and `node` see it: the catalog (None when it failed), every error
    found, and the data hierarchy as the node rendered it."""

    catalog: Catalog | None
    errors: list[GitpuppetError] = field(default_factory=list)
    levels: list[Level] = field(default_factory=list)
    var_names: list[str] = field(default_factory=list)  # the node's vars (for "did you mean")
    # The tree's YAML as this compile parsed it: what looks at the data after the compile
    # (datacheck) reads it from here instead of parsing every data file again.
    yaml: YamlCache | None = None


def compile_node(
    tree: SourceTree,
    node_name: str,
    facts: dict[str, Any],
    environment: str | None = None,
    collect: bool = False,
    yaml: YamlCache | None = None,
) -> Compiled:
    """Compile `node_name` keeping the data levels; with `collect`, a failed class, resource
    entry or edge does not end the compile, and every error is returned instead of raised.

    `yaml`: the tree's parsed YAML to share (validate compiles many nodes of one tree, and
    nothing in a compile changes what it loaded)."""
    from gitpuppet.compile.compiler import Compiler

    compiler = Compiler(tree, node_name, facts, environment, yaml)
    if collect:
        compiler.errors = []
    out = Compiled(None, yaml=compiler.yaml)
    enabled = gc.isenabled()
    gc.disable()  # as compile_catalog
    try:
        out.catalog = compiler.compile()
    except CompileErrors as exc:
        out.errors = list(exc.errors)
    except (RecursionError, MemoryError) as exc:
        out.errors = [compile_failure(exc, compiler)]
    except GitpuppetError as exc:
        if not collect:
            raise
        out.errors = [*(compiler.errors or []), exc]
    finally:
        if enabled:
            gc.enable()
    if out.errors and not collect:
        raise out.errors[0]
    scope = getattr(compiler, "base_scope", None)
    if scope is not None:
        out.var_names = [str(k) for k in scope["node"]["vars"]]
    data = getattr(compiler, "data", None)
    if data is not None:
        try:
            out.levels = data.levels
        except GitpuppetError:
            pass  # a level that leaves data/: the compile reported it
    return out


def compile_catalog(
    tree: SourceTree, node_name: str, facts: dict[str, Any], environment: str | None = None
) -> Catalog:
    """The catalog of `node_name`; raises SourceError (file:line) when the repo is wrong."""
    # A compile allocates a great many objects that all live on in the catalog, and makes
    # almost no reference cycles: collecting during it only scans the growing catalog again and
    # again (a fifth of the time at 10,000 resources). What cycles there are go at the next
    # collection after it.
    enabled = gc.isenabled()
    gc.disable()
    try:
        from gitpuppet.compile.compiler import Compiler

        compiler = Compiler(tree, node_name, facts, environment)
        try:
            return compiler.compile()
        except (RecursionError, MemoryError) as exc:
            raise compile_failure(exc, compiler) from None
    finally:
        if enabled:
            gc.enable()


def lookup_value(
    tree: SourceTree,
    node_name: str,
    facts: dict[str, Any],
    key: str,
    merge: str | None = None,
    default: Any = None,
    explain: bool = False,
    environment: str | None = None,
) -> Any:
    """A data lookup as the node sees it; with explain, returns (value, Trace)."""
    from gitpuppet.compile.compiler import Compiler
    from gitpuppet.compile.data import MISSING, Trace

    compiler = Compiler(tree, node_name, facts, environment)
    trace = Trace(key, merge or "first") if explain else None
    try:
        compiler.node_scope(compiler.select())
        value = compiler.data.lookup(
            key, default=MISSING if default is None else default, merge=merge, trace=trace
        )
    except (RecursionError, MemoryError) as exc:
        raise compile_failure(exc, compiler) from None
    return (value, trace) if explain else value


def compile_failure(exc: BaseException, compiler: Any) -> GitpuppetError:
    """A RecursionError or MemoryError of a compile as a user error at the place being
    compiled (the last value or template rendered), so a run treats it like any compile error."""
    what = (
        "nested too deeply (includes, defines or data that refer to each other?)"
        if isinstance(exc, RecursionError)
        else "out of memory"
    )
    message = f"compile of node {compiler.node_name} failed: {what}"
    hint = "simplify the structure at this place"
    where = _innermost_pos(exc) or getattr(compiler.templates, "where", None)
    if where is None:
        return GitpuppetError(message, hint)
    return SourceError(where, message, hint)


def _innermost_pos(exc: BaseException) -> SourcePos | None:
    """The SourcePos held by the innermost compiler frame of the traceback (its `pos` or
    `where`): the class, define or value being compiled when the error struck."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        frame_locals = tb.tb_frame.f_locals
        for name in ("where", "pos"):
            value = frame_locals.get(name)
            if isinstance(value, SourcePos):
                found = value
                break
        tb = tb.tb_next
    return found
