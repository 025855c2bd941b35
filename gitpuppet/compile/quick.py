"""Simple template strings evaluated straight from their syntax tree, with no Python generated.

Most strings of a control repo are text around a few expressions such as `{{ title }}`,
`{{ node.vars.role }}`, `{{ item['ip'] }}` or `{{ lookup('key', merge='hash') }}`: a name (or
a constant) followed by attributes, items and calls whose arguments are constants. Compiling
each to a Python module costs far more than rendering it. For these shapes `plan_output` and
`plan_single` turn the parsed tree (parsed by the sandbox, so it already carries the `gp_emit`
counting of sandbox.py) into a plan, and `render_plan` / `evaluate` run it making exactly the
calls Jinja's generated code makes: the scope lookup (`undefined(name=…)` when missing),
`environment.getattr`, `environment.getitem`, `environment.call(context, …)` (the sandbox's
checks, step counting and size limit) and `gp_emit` for every printed value. Any other node (a
filter, an operator, a test, a block, a slice) leaves the string to Jinja.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes
from jinja2.runtime import Context

from gitpuppet.compile.sandbox import LimitedSandbox

ATTR, ITEM, CALL = 0, 1, 2
_NO_CONST: Any = object()
_CONSTS = (str, int, float, bool, type(None))


@dataclass(frozen=True, slots=True)
class Expr:
    """`name` (or the constant `const`) followed by `steps`: (ATTR, name, None),
    (ITEM, key, None) or (CALL, args, kwargs), all constants."""

    name: str | None
    const: Any
    steps: tuple[tuple[int, Any, Any], ...]


Plan = tuple[str | Expr, ...]


def plan_output(tree: nodes.Template) -> Plan | None:
    """The plan of a template that is one run of text and printed simple expressions."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    parts: list[str | Expr] = []
    for node in tree.body[0].nodes:
        if isinstance(node, nodes.TemplateData):
            parts.append(node.data)
            continue
        if not (
            isinstance(node, nodes.Filter)
            and node.name == "gp_emit"
            and not node.args
            and not node.kwargs
            and node.dyn_args is None
            and node.dyn_kwargs is None
            and node.node is not None
        ):
            return None
        expr = _expr(node.node)
        if expr is None:
            return None
        parts.append(expr)
    return tuple(parts)


def plan_single(tree: nodes.Template) -> Expr | None:
    """The expression of `{% set result = expr %}` when it is a simple one."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Assign):
        return None
    return _expr(tree.body[0].node)


def _expr(node: nodes.Node) -> Expr | None:
    steps: list[tuple[int, Any, Any]] = []
    while True:
        if isinstance(node, nodes.Getattr) and node.ctx == "load":
            steps.append((ATTR, node.attr, None))
        elif isinstance(node, nodes.Getitem) and node.ctx == "load":
            key = _const(node.arg)
            if key is _NO_CONST:
                return None  # a slice or a computed key
            steps.append((ITEM, key, None))
        elif isinstance(node, nodes.Call):
            call = _call(node)
            if call is None:
                return None
            steps.append(call)
        else:
            break
        node = node.node
    steps.reverse()
    if isinstance(node, nodes.Name):
        # `self` is the template reference in Jinja, not a scope name.
        if node.ctx != "load" or node.name == "self":
            return None
        return Expr(node.name, None, tuple(steps))
    const = _const(node)
    return None if const is _NO_CONST else Expr(None, const, tuple(steps))


def _call(node: nodes.Call) -> tuple[int, Any, Any] | None:
    if node.dyn_args is not None or node.dyn_kwargs is not None:
        return None
    args = tuple(_const(a) for a in node.args)
    kwargs = {k.key: _const(k.value) for k in node.kwargs}
    if _NO_CONST in args or _NO_CONST in kwargs.values():
        return None
    return (CALL, args, kwargs)


def _const(node: nodes.Node) -> Any:
    if node.__class__ is nodes.Const and node.value.__class__ in _CONSTS:
        return node.value
    return _NO_CONST


def evaluate(
    expr: Expr, env: LimitedSandbox, scope: Mapping[str, Any], context: Callable[[], Context]
) -> Any:
    """The value of `expr` in `scope`; `context()` gives the render's Context (for a call)."""
    name = expr.name
    if name is None:
        value = expr.const
    elif name in scope:
        value = scope[name]
    else:
        value = env.undefined(name=name)
    for kind, first, second in expr.steps:
        if kind == ATTR:
            value = env.getattr(value, first)
        elif kind == ITEM:
            value = env.getitem(value, first)
        else:
            value = env.call(context(), value, *first, **second)
    return value


def render_plan(
    plan: Plan, env: LimitedSandbox, scope: Mapping[str, Any], context: Callable[[], Context]
) -> str:
    """The text of an output plan: literal parts as they are, each value through gp_emit."""
    out = []
    emit = env.gp_emit
    for part in plan:
        if part.__class__ is str:
            out.append(part)
        else:
            out.append(str(emit(None, evaluate(part, env, scope, context))))  # type: ignore[arg-type]
    return "".join(out)  # type: ignore[arg-type]
