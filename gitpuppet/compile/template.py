"""Jinja2 for every string value and for template files, with StrictUndefined.

A string with no `{{`/`{%`/`{#` is returned as is (most values: no Jinja2 work at all). A string
that is exactly one expression (`"{{ sites }}"`) keeps its type; when that expression is a bare
name, its value is taken from the scope as Jinja would resolve it. Each source text is compiled
once per compile. Template files are read from `templates/` of the source tree and may not
leave it; they render with `trim_blocks` (the newline after a `{% … %}` tag is dropped, as
Ansible does), inline strings without it. Everything renders in the sandbox of sandbox.py (no attribute of Python's internals,
limits on what one render may build or write); the fast paths above only skip Jinja2 where no
expression is evaluated at all.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
from jinja2 import StrictUndefined
from jinja2.runtime import Context

from gitpuppet.compile.limits import RenderLimit, check_text
from gitpuppet.compile.quick import Expr, Plan, evaluate, plan_output, plan_single, render_plan
from gitpuppet.compile.sandbox import LimitedSandbox
from gitpuppet.compile.source import SourceTree
from gitpuppet.errors import SourceError, SourcePos, did_you_mean

# (template, single, name, plan): see Templates._compile.
_Compiled = tuple[jinja2.Template | None, bool, str | None, Plan | Expr | None]
_SINGLE_EXPR = re.compile(r"^\{\{(?P<expr>(?:(?!\{\{|\}\}).)*)\}\}$", re.S)


def confined_path(folder: str, name: str, pos: SourcePos | None, what: str) -> str:
    """`folder/name` normalised; an error when `name` is absolute or leaves the folder."""
    if not name or name.startswith("/") or "\\" in name:
        raise SourceError(pos, f"{what} path '{name}' must be relative to {folder}/")
    joined = posixpath.normpath(posixpath.join(folder, name))
    if not joined.startswith(folder + "/"):
        raise SourceError(
            pos, f"{what} path '{name}' leaves {folder}/", f"keep {what} files inside {folder}/"
        )
    return joined


class _TreeLoader(jinja2.BaseLoader):
    """Loads templates from `templates/` of a SourceTree (includes and extends too)."""

    def __init__(self, tree: SourceTree) -> None:
        self.tree = tree

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        path = confined_path("templates", template, None, "template")
        try:
            data = self.tree.read_bytes(path)
        except FileNotFoundError:
            raise jinja2.TemplateNotFound(template) from None
        return data.decode("utf-8"), path, lambda: True


class Templates:
    """Compiles and caches templates for one source tree."""

    def __init__(self, tree: SourceTree) -> None:
        self.env = _environment(tree, trim_blocks=False)
        # `template:` files (and what they include) drop the newline after a block tag, as
        # Ansible does; leading whitespace stays (lstrip_blocks off: `{%-` strips it).
        self.file_env = _environment(tree, trim_blocks=True)
        self.file_env.budget = self.env.budget  # a lookup inside a file render shares its budget
        # The place being rendered, for an error that no render caught (MemoryError …).
        self.where: SourcePos | None = None
        # Compiled once per source text, whatever resource or define use it appears in.
        self._compiled: dict[str, _Compiled] = {}
        self._files: dict[str, jinja2.Template] = {}

    def _with_globals(self, scope: Mapping[str, Any]) -> dict[str, Any]:
        """The scope with Jinja's globals (range, dict, namespace …) under it."""
        if "range" in scope and "facts" in scope:
            return scope  # type: ignore[return-value]  # the compiler's scopes carry them
        return {**self.env.globals, **scope}

    def _context(self, template: jinja2.Template, scope: Mapping[str, Any]) -> Context:
        """A context that uses the scope as given (Template.render would copy it).

        What `template.new_context(scope, shared=True)` builds, without the set of global names
        it copies from the globals' ChainMap on every call: that set is only read by an
        `{% import %}` without context, to find globals the imported template lacks, and every
        template here has the environment's globals and no others, so it is empty either way.
        """
        env = template.environment
        return env.context_class(env, self._with_globals(scope), template.name, template.blocks)

    def _render(self, template: jinja2.Template, scope: Mapping[str, Any]) -> str:
        ctx = self._context(template, scope)
        env = template.environment
        try:
            with env.render_budget():  # type: ignore[attr-defined]
                return env.concat(template.raw_render_func(ctx))  # type: ignore[attr-defined,no-any-return]
        except Exception:
            return env.handle_exception()  # re-raises with template line numbers

    def render_value(self, value: Any, scope: Mapping[str, Any], pos: SourcePos) -> Any:
        """Render every string inside `value` (recursively through lists and mappings).

        Lists and mappings come back as new plain ones; an item's position (its own line when
        the YAML loader recorded one) is only worked out for an item that needs rendering."""
        if isinstance(value, str):
            return self.render_string(value, scope, pos)
        if isinstance(value, list):
            lines = getattr(value, "lines", None)
            items = []
            for i, v in enumerate(value):
                if renders_to_itself(v):
                    items.append(v)
                else:
                    where = SourcePos(pos.file, lines[i]) if lines and i < len(lines) else pos
                    items.append(self.render_value(v, scope, where))
            return items
        if isinstance(value, dict):
            lines = getattr(value, "lines", None)
            out = {}
            for k, v in value.items():
                # The value renders before its key, as `out[key(k)] = value(v)` evaluates.
                if not renders_to_itself(v):
                    where = SourcePos(pos.file, lines[k]) if lines and k in lines else pos
                    v = self.render_value(v, scope, where)
                if isinstance(k, str) and "{" in k:
                    k = self.render_string(k, scope, pos)
                out[k] = v
            return out
        return value

    def render_string(self, text: str, scope: Mapping[str, Any], pos: SourcePos) -> Any:
        """Render one string; a single `{{ expr }}` keeps the expression's type."""
        if "{" not in text:
            return text
        compiled = self._compiled.get(text)
        self.where = pos
        try:
            if compiled is None:
                if "{{" not in text and "{%" not in text and "{#" not in text:
                    return text
                compiled = self._compile(text)
                self._compiled[text] = compiled
            template, single, name, plan = compiled
            if not single:
                if template is None:
                    return self._run_plan(plan, scope, render_plan)  # type: ignore[arg-type]
                return self._render(template, scope)
            if name is not None:
                full = self._with_globals(scope)
                if name in full:
                    result = full[name]
                    if isinstance(result, jinja2.Undefined):
                        str(result)  # raises UndefinedError with the name
                    return result
            if template is None:
                result = self._run_plan(plan, scope, evaluate)  # type: ignore[arg-type]
            else:
                ctx = self._context(template, scope)
                try:
                    with self.env.render_budget():
                        for _ in template.raw_render_func(ctx):  # type: ignore[attr-defined]
                            pass
                except Exception:
                    self.env.handle_exception()
                result = ctx.vars["result"]
            if isinstance(result, jinja2.Undefined):
                str(result)  # raises UndefinedError with the name
            if not isinstance(result, (str, int, float, bool)) and result is not None:
                check_text("the value", result)  # a list of 10**5 large strings is no value
            return result
        except SourceError as exc:
            if exc.pos is None:
                exc.pos = pos
            raise
        except jinja2.UndefinedError as exc:
            raise _undefined_error(exc, scope, pos) from None
        except jinja2.TemplateSyntaxError as exc:
            raise SourceError(pos, f"template syntax error: {exc.message}") from None
        except Exception as exc:  # noqa: BLE001 - any error in a user's expression
            raise _render_error(exc, pos) from None

    def _compile(self, text: str) -> _Compiled:
        """(template, single, name, plan): a string that is exactly one expression, nothing
        around it, compiles as `{% set result = expr %}` so that its value keeps its type;
        `name` is the variable when the expression is nothing but one (then a render is a dict
        lookup, as Jinja would resolve it from the same scope). A string of text and simple
        expressions is not compiled to Python at all: `plan` is what quick.py evaluates (and
        `template` is None)."""
        if not (text.startswith("{{") and _SINGLE_EXPR.match(text)):
            tree = self.env.parse(text)
            plan = plan_output(tree)
            if plan is not None:
                return None, False, None, plan
            return self.env.from_string(tree), False, None, None
        tree = self.env.parse(_set_result(text))
        expr = plan_single(tree)
        if expr is not None:
            # true/false/none parse as constants, so a bare name is a scope name.
            bare = expr.name if expr.name is not None and not expr.steps else None
            return None, True, bare, expr
        return self.env.from_string(tree), True, None, None

    def _run_plan(self, plan: Any, scope: Mapping[str, Any], run: Callable[..., Any]) -> Any:
        """`run(plan, …)` (quick.py) as one render: its budget, and its errors as Jinja's."""
        env = self.env
        full = self._with_globals(scope)
        try:
            with env.render_budget():
                return run(plan, env, full, lambda: env.context_class(env, full, None, {}))
        except Exception:
            return env.handle_exception()

    def render_file(self, name: str, scope: Mapping[str, Any], pos: SourcePos) -> str:
        """Render `templates/<name>`; errors point at the template's own line when known."""
        template = self._files.get(name)
        self.where = pos
        if template is None:
            confined_path("templates", name, pos, "template")
        try:
            if template is None:
                template = self._files[name] = self.file_env.get_template(name)
            return self._render(template, scope)
        except jinja2.TemplateNotFound as exc:
            missing = exc.name if isinstance(exc.name, str) else name
            where = pos
            if missing != name:  # included or extended by a template: point at that line
                where = _template_pos(exc) or pos
            raise SourceError(where, f"template '{missing}' not found under templates/") from None
        except jinja2.TemplateSyntaxError as exc:
            where = SourcePos(f"templates/{exc.name or name}", exc.lineno or 0)
            raise SourceError(where, f"template syntax error: {exc.message}") from None
        except jinja2.UndefinedError as exc:
            line = _template_line(exc)
            inner = SourcePos(f"templates/{name}", line) if line else pos
            err = _undefined_error(exc, scope, inner)
            err.message += f" (rendering templates/{name} for {pos})"
            raise err from None
        except SourceError as exc:
            if exc.pos is None:  # raised while loading an include: point at the including line
                exc.pos = _template_pos(exc) or pos
            raise
        except Exception as exc:  # noqa: BLE001
            line = _template_line(exc)
            where = SourcePos(f"templates/{name}", line) if line else pos
            err = _render_error(exc, where)
            if where is not pos:
                err.message += f" (rendering templates/{name} for {pos})"
            raise err from None


def _environment(tree: SourceTree, trim_blocks: bool) -> LimitedSandbox:
    """The sandboxed environment for the strings of a tree, or (trim_blocks) for its files."""
    env = LimitedSandbox(
        loader=_TreeLoader(tree),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        cache_size=-1,
        trim_blocks=trim_blocks,
    )
    env.filters.setdefault("to_yaml", _to_yaml)
    env.filters["bool"] = _to_bool
    env.limit_filters()
    return env


def _render_error(exc: Exception, pos: SourcePos) -> SourceError:
    """A failed render as a user error: a refused limit, a refused attribute, a bad value."""
    if isinstance(exc, RenderLimit):
        return SourceError(
            pos,
            f"template refused: {exc}",
            "a render may not build values that large, write that much or loop that long",
        )
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return SourceError(
            pos, f"template refused: {exc}", "templates may not reach Python internals"
        )
    if isinstance(exc, RecursionError):
        return SourceError(pos, "template error: templates or macros nested too deeply (a loop?)")
    if isinstance(exc, MemoryError):
        return SourceError(pos, "template error: out of memory while rendering")
    return SourceError(pos, f"template error: {type(exc).__name__}: {exc}")


def renders_to_itself(value: Any) -> bool:
    """True when `render_value` would give `value` back unchanged: a string without `{`, or
    anything that is not a string, list or mapping."""
    if isinstance(value, str):
        return "{" not in value
    return not isinstance(value, (list, dict))


def _set_result(text: str) -> str:
    """`{{ expr }}` as `{% set result = expr %}`."""
    match = _SINGLE_EXPR.match(text)
    assert match is not None
    return "{% set result = " + match.group("expr") + " %}"


def _undefined_error(
    exc: jinja2.UndefinedError, scope: Mapping[str, Any], pos: SourcePos
) -> SourceError:
    message = str(exc.message or exc)
    match = re.match(r"'(\w+)' is undefined", message)
    hint = None
    if match:
        hint = did_you_mean(match.group(1), list(scope))
        message = f"undefined name '{match.group(1)}' in template"
    return SourceError(pos, message, hint)


def _template_pos(exc: BaseException) -> SourcePos | None:
    """The innermost template file and line in `exc`'s traceback."""
    tb = exc.__traceback__
    found = None
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.startswith("templates/"):
            found = SourcePos(name, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _template_line(exc: BaseException) -> int:
    """The line inside a template file where `exc` was raised, from the traceback."""
    tb = exc.__traceback__
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith("templates/"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _to_yaml(value: Any) -> str:
    import yaml

    return yaml.safe_dump(_plain(value), default_flow_style=False, sort_keys=False)


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
