"""`gitpuppet node [NAME]`: which declaration matched and why, and the compiled catalog."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import click

from gitpuppet.cli.app import App, common_options
from gitpuppet.cli.common import inspect_facts, node_name, open_tree
from gitpuppet.compile.source import module_of
from gitpuppet.model import Catalog, Ref, Resource
from gitpuppet.redact import shown_attrs, shown_define

if TYPE_CHECKING:
    from gitpuppet.compile import Compiled, SourceTree


def resource_attrs(res: Resource) -> dict[str, Any]:
    """The attributes that differ from the type's defaults, content shown as text or size.

    Every value of a sensitive resource, a user's password hash and URL credentials are
    redacted."""
    return shown_attrs(res, _plain_attrs(res))


def _plain_attrs(res: Resource) -> dict[str, Any]:
    params = res.params
    out: dict[str, Any] = {}
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        if f.metadata.get("kind") == "internal" or f.name == params.namevar and value == res.title:
            continue
        default = (
            f.default
            if f.default is not dataclasses.MISSING
            else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
            )
        )
        if value != default:
            out[f.name] = value
    out.update(params.shown(res.sensitive))
    return out


def _labels(cat: Catalog) -> dict[Ref, str]:
    """How each sensitive resource of the catalog is named in output."""
    return {r.ref: r.label for r in cat.resources if r.sensitive}


def catalog_json(cat: Catalog) -> dict[str, Any]:
    """The catalog as plain data (the shape of `gitpuppet node --json`)."""
    labels = _labels(cat)
    return {
        "node": cat.node,
        "environment": cat.environment,
        "matched": {
            "key": cat.matched,
            "kind": cat.match_kind,
            "source": str(cat.matched_pos or ""),
        },
        "classes": cat.classes,
        "resources": [
            {
                "ref": r.label,
                "type": r.type,
                "title": r.label.partition(":")[2] if r.sensitive else r.title,
                "class": r.klass,
                "define": shown_define(r),
                "source": str(r.pos),
                "module": module_of(r.pos.file),  # SPEC §9: None for the control repo's own
                "tags": sorted(r.tags),
                "noop": r.noop,
                "sensitive": r.sensitive,
                "attributes": resource_attrs(r),
            }
            for r in cat.resources
        ],
        "edges": [
            {
                "first": labels.get(e.first, str(e.first)),
                "then": labels.get(e.then, str(e.then)),
                "kind": e.kind.value,
                "source": str(e.pos or ""),
            }
            for e in cat.edges
        ],
    }


def matched_line(cat: Catalog) -> str:
    """The first line of `node` and `apply`: which declaration matched (file:line and key), so
    a mistyped name that fell through to `default` shows at once (SPEC §2.1)."""
    if cat.match_kind == "default":
        return (
            f"node {cat.node}: matched default at {cat.matched_pos} "
            "(no exact name or pattern matches it)"
        )
    return f"node {cat.node}: matched {cat.match_kind} '{cat.matched}' at {cat.matched_pos}"


def data_warnings(tree: SourceTree, compiled: Compiled, facts: dict[str, Any]) -> list[str]:
    """What `validate --strict` would refuse, for one node: hierarchy levels that cannot render
    for it, data keys for parameters a class lacks."""
    from gitpuppet.compile.datacheck import data_key_problems, hierarchy_problems
    from gitpuppet.compile.loader import YamlCache

    names = [*compiled.var_names, *(str(k) for k in facts)]
    found = hierarchy_problems(compiled.levels, names)
    found += data_key_problems(compiled.yaml or YamlCache(tree))
    return [str(p) for p in found]


def print_catalog(app: App, cat: Catalog) -> None:
    """The human view: the match, the classes, the resources in order with their edges."""
    bold = (lambda s: click.style(s, bold=True)) if app.color else (lambda s: s)
    app.out(bold(matched_line(cat)))
    app.out(f"  classes   {', '.join(cat.classes) or '(none)'}")
    if cat.environment:
        app.out(f"  environment {cat.environment}")
    labels = _labels(cat)
    incoming: dict[Ref, list[str]] = {}
    for e in cat.edges:
        label = {"refresh": "notified by", "order": "after", "auto": "after (auto)"}[e.kind.value]
        incoming.setdefault(e.then, []).append(f"{label} {labels.get(e.first, str(e.first))}")
    app.out("")
    app.out(bold(f"resources ({len(cat.resources)}, in apply order)"))
    width = len(str(len(cat.resources)))
    for i, r in enumerate(cat.resources, 1):
        flags = "".join(f" [{f}]" for f, on in (("noop", r.noop), ("sensitive", r.sensitive)) if on)
        module = module_of(r.pos.file)
        origin = f", module {module}" if module else ""
        app.out(f"{i:>{width}}. {r.label}{flags}   ({r.pos}, class {r.klass or '-'}{origin})")
        for key, value in resource_attrs(r).items():
            text = value if isinstance(value, str) else repr(value)
            if (
                key == "content"
                and isinstance(value, str)
                and ("\n" in value.rstrip("\n") or len(value) > 60)
            ):
                text = f"{len(value.encode())} bytes, first line: {value.splitlines()[0][:60] if value else ''!r}"
            app.out(f"{'':>{width}}     {key}: {text}")
        for dep in incoming.get(r.ref, []):
            app.out(f"{'':>{width}}     {dep}")


@click.command(
    help="Which declaration matches NAME and why, the classes, and the compiled catalog."
)
@click.argument("name", required=False)
@click.option(
    "--repo", "repo", metavar="PATH", help="Control repo directory (default: the agent's checkout)."
)
@click.option(
    "--facts", "facts_file", metavar="F.yaml", help="Use these facts instead of this machine's."
)
@click.option("--environment", help="Value of node.environment (default: the agent's branch).")
@click.option("--json", "as_json", is_flag=True, help="Print the catalog as JSON.")
@common_options
def command(
    app: App,
    name: str | None,
    repo: str | None,
    facts_file: str | None,
    environment: str | None,
    as_json: bool,
) -> None:
    from gitpuppet.compile import compile_node

    tree = open_tree(app, repo)
    facts = inspect_facts(facts_file)
    compiled = compile_node(tree, node_name(name, facts, app.config_path), facts, environment)
    assert compiled.catalog is not None  # without collect, a failed compile raises
    warnings = data_warnings(tree, compiled, facts)
    if as_json:
        app.json({**catalog_json(compiled.catalog), "warnings": warnings})
        return
    print_catalog(app, compiled.catalog)
    for warning in warnings:
        app.out(f"warning: {warning}", err=True)
