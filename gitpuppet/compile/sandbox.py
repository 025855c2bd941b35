"""The Jinja2 environment every string and template file renders in: a sandbox with limits.

`ImmutableSandboxedEnvironment` already refuses `__class__`, `__globals__`, `_private` names
and the methods that change a list or dict, so `cycler.__init__.__globals__.os` and
`''.__class__.__mro__` are undefined and raise SecurityError when used. On top of it:

- the operators that can build huge values (`*`, `+`, `%`, `**`) are checked before they run,
  and so are calls, string methods, `.format`, and every filter (limits.py);
- each `{% for %}` counts its iterations, each call counts one step, and a render stops after
  MAX_STEPS (nested loops over 100,000 items end in about a second, not in hours);
- everything a render writes (output, `{% set %}` blocks, macros, includes) is counted against
  MAX_EMIT, and `~` concatenations against MAX_SIZE.

The counting is added to each template's syntax tree when it is parsed (`_parse`), so every
template this environment compiles carries it: no render path can skip it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from types import FunctionType
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg

from gitpuppet.compile import limits
from gitpuppet.compile.limits import RenderLimit

_HOOKS = ("gp_loop", "gp_emit", "gp_concat")
_SCALARS = frozenset({str, int, float, bool})
_UNKNOWN = frozenset[str]()
_MAPPING_NAMES: dict[type, frozenset[str] | None] = {}
_STR_METHODS = {"center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join"}


class _Budget:
    """Steps and emitted characters of the render in progress (nested renders share it).

    `with budget:` is one top-level render: the counters start from zero, and a render nested
    in it (a lookup inside a template) shares them. A class, not a generator context manager:
    it is entered for every render (tens of thousands per compile)."""

    __slots__ = ("depth", "emitted", "steps")

    def __init__(self) -> None:
        self.depth = 0
        self.steps = 0
        self.emitted = 0

    def __enter__(self) -> None:
        if self.depth == 0:
            self.steps = 0
            self.emitted = 0
        self.depth += 1

    def __exit__(self, *exc: object) -> None:
        self.depth -= 1


class LimitedTemplate(jinja2.Template):
    """A template whose output, when included or extended, counts as emitted.

    `raw_render_func` is the uncounted one, for the top-level render: what it writes itself is
    counted where it is written (loops, printed values), and the rest is its own literal text.
    """

    raw_render_func: Callable[[Any], Iterator[str]]

    @classmethod
    def _from_namespace(cls, environment: Any, namespace: Any, globals: Any) -> Any:
        template = super()._from_namespace(environment, namespace, globals)
        root = template.root_render_func
        budget = environment.budget

        def root_render_func(context: Any) -> Iterator[str]:
            for event in root(context):
                budget.emitted += len(event)
                if budget.emitted > limits.MAX_EMIT:
                    environment.charge_text(0)  # raises
                yield event

        template.raw_render_func = root  # type: ignore[attr-defined]
        template.root_render_func = root_render_func
        return template


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox gitpuppet renders with; see the module docstring."""

    intercepted_binops = frozenset({"*", "+", "%", "**"})
    template_class = LimitedTemplate

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.budget = _Budget()
        for hook in _HOOKS:  # called as filters: a direct call, never folded at compile time
            self.filters[hook] = getattr(self, hook)
        self.globals["lipsum"] = _small_lipsum(self.globals["lipsum"])  # type: ignore[arg-type]

    def limit_filters(self) -> None:
        """Wrap every filter registered so far with its size checks."""
        for name, func in list(self.filters.items()):
            if name not in _HOOKS and not getattr(func, "gitpuppet_limited", False):
                self.filters[name] = _limited_filter(name, func)

    # -- the budget -------------------------------------------------------------------------

    def render_budget(self) -> _Budget:
        """One top-level render (`with env.render_budget():`): see _Budget."""
        return self.budget

    def charge_step(self) -> None:
        budget = self.budget
        budget.steps += 1
        if budget.steps > limits.MAX_STEPS:
            raise RenderLimit(
                f"the render took over {limits.MAX_STEPS:,} loop iterations and calls"
            )

    def charge_text(self, size: int) -> None:
        budget = self.budget
        budget.emitted += size
        if budget.emitted > limits.MAX_EMIT:
            raise RenderLimit(f"the render wrote over {limits.MAX_EMIT:,} characters")

    # -- hooks the compiled templates call -------------------------------------------------

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        limits.check_binop(operator, left, right)
        return self.binop_table[operator](left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        budget = __self.budget
        budget.steps += 1
        if budget.steps > limits.MAX_STEPS:
            __self.charge_step()  # raises
        if __obj.__class__ is not FunctionType:  # a plain function (lookup) is no str method
            owner = getattr(__obj, "__self__", None)
            if isinstance(owner, (str, bytes)) and getattr(__obj, "__name__", "") in _STR_METHODS:
                limits.check_str_method(owner, __obj.__name__, args)
        result = super().call(__context, __obj, *args, **kwargs)
        size = limits.length(result)
        if size > limits.MAX_SIZE:
            raise limits.too_big("a call's result", size)
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`obj.attribute`. On a mapping whose instances have no attribute of that name (a
        dict's keys are most of what templates read), the item, as the sandbox's own getattr
        would find it after its failed attribute lookup; anything else goes to that getattr."""
        names = _MAPPING_NAMES.get(obj.__class__, _UNKNOWN)
        if names is _UNKNOWN:
            names = _mapping_names(obj.__class__)
        if names is None or attribute in names:
            return super().getattr(obj, attribute)
        try:
            return obj[attribute]
        except (TypeError, LookupError):
            return self.undefined(obj=obj, name=attribute)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # A str, int, float or bool is neither internal nor mutable: what the sandbox decides
        # for one comes down to the leading underscore (without its isinstance checks).
        if obj.__class__ in _SCALARS:
            return not attr.startswith("_")
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__
        is_map = value.__name__ == "format_map"

        def checked(*args: Any, **kwargs: Any) -> str:
            if is_map and len(args) == 1 and isinstance(args[0], dict):
                limits.check_format(fmt, (), args[0])
            else:
                limits.check_format(fmt, args, kwargs)
            return wrapped(*args, **kwargs)

        return checked

    @jinja2.pass_context
    def gp_loop(self, context: Any, items: Any, literal: int) -> Iterator[Any]:
        """A `{% for %}`'s iterable: each iteration is a step and writes `literal` characters."""
        budget = self.budget
        for item in items:
            budget.steps += 1
            budget.emitted += literal
            if budget.steps > limits.MAX_STEPS or budget.emitted > limits.MAX_EMIT:
                self.charge_step()  # raises, saying which limit
                self.charge_text(0)
            yield item

    @jinja2.pass_context
    def gp_emit(self, context: Any, value: Any) -> str:
        """One `{{ value }}` written anywhere (output, a set block, a macro)."""
        if not isinstance(value, str):
            limits.check_text("a printed value", value)
            value = str(value)
        budget = self.budget
        budget.emitted += len(value)
        if budget.emitted > limits.MAX_EMIT:
            self.charge_text(0)  # raises
        return value

    @jinja2.pass_context
    def gp_concat(self, context: Any, *parts: Any) -> str:
        """`a ~ b ~ …`, refused once the joined text would pass MAX_SIZE."""
        out = []
        size = 0
        for part in parts:
            if not isinstance(part, str):
                limits.check_text("a concatenation", part, size)
                part = str(part)
            size += len(part)
            if size > limits.MAX_SIZE:
                raise limits.too_big("a concatenation", size)
            out.append(part)
        return "".join(out)

    # -- parsing ----------------------------------------------------------------------------

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        _add_counting(tree)
        return tree


def _mapping_names(cls: type) -> frozenset[str] | None:
    """Every attribute name an instance of `cls` can have, when `cls` is a dict (or a dict
    subclass with slots: no instance __dict__, no __getattr__); None for any other class."""
    plain = (
        issubclass(cls, dict)
        and cls.__dictoffset__ == 0
        and cls.__getattribute__ is dict.__getattribute__
        and not hasattr(cls, "__getattr__")
    )
    names = frozenset(dir(cls)) if plain else None
    _MAPPING_NAMES[cls] = names
    return names


def _hook(name: str, *args: nodes.Expr, lineno: int) -> nodes.Filter:
    first, *rest = args
    call = nodes.Filter(first, name, list(rest), [], None, None)
    call.set_lineno(lineno)
    return call


def _add_counting(tree: nodes.Template) -> None:
    """Route loops, printed values and `~` through the environment's counters."""
    every = [tree, *tree.find_all(nodes.Node)]
    for node in every:  # first `~`, so that a printed or looped-over `a ~ b` is counted too
        for field in node.fields:
            value = getattr(node, field, None)
            if isinstance(value, nodes.Concat):
                setattr(node, field, _concat_call(value))
            elif isinstance(value, list):
                value[:] = [_concat_call(v) if isinstance(v, nodes.Concat) else v for v in value]
    for node in every:
        if isinstance(node, nodes.For):
            literal = nodes.Const(_literal_size(node.body))
            node.iter = _hook("gp_loop", node.iter, literal, lineno=node.lineno)  # type: ignore[arg-type]
        elif isinstance(node, nodes.Output):
            node.nodes = [
                n if isinstance(n, nodes.TemplateData) else _hook("gp_emit", n, lineno=n.lineno)
                for n in node.nodes
            ]


def _concat_call(concat: nodes.Concat) -> nodes.Filter:
    return _hook("gp_concat", *concat.nodes, lineno=concat.lineno)


def _literal_size(body: list[nodes.Node]) -> int:
    """Characters of literal text one pass of a loop body writes (nested loops count theirs)."""
    size = 0
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, nodes.TemplateData):
            size += len(node.data)
        elif not isinstance(node, nodes.For):
            stack.extend(node.iter_child_nodes())
    return size


def _limited_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    skip = 1 if _PassArg.from_obj(func) is not None else 0

    @functools.wraps(func)
    def limited(*args: Any, **kwargs: Any) -> Any:
        if len(args) > skip:
            limits.check_filter(name, args[skip], args[skip + 1 :], kwargs)
        result = func(*args, **kwargs)
        if limits.length(result) > limits.MAX_SIZE:
            raise limits.too_big(f"filter {name}'s result", limits.length(result))
        return result

    limited.gitpuppet_limited = True  # type: ignore[attr-defined]
    return limited


def _small_lipsum(lipsum: Callable[..., str]) -> Callable[..., str]:
    def small(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002
        if n > 100 or max > 1000 or min > 1000:
            raise RenderLimit("lipsum() is limited to 100 paragraphs of 1,000 words")
        return lipsum(n, html, min, max)

    return small
