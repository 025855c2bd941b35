"""The control-repo language: compile a node's catalog from a source tree and facts."""

from __future__ import annotations

import gc
from typing import Any

from gitpuppet.compile.source import DirTree, SourceTree
from gitpuppet.model import Catalog

__all__ = ["DirTree", "SourceTree", "compile_catalog", "lookup_value"]


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

        return Compiler(tree, node_name, facts, environment).compile()
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
    compiler.node_scope(compiler.select())
    trace = Trace(key, merge or "first") if explain else None
    value = compiler.data.lookup(
        key, default=MISSING if default is None else default, merge=merge, trace=trace
    )
    return (value, trace) if explain else value
