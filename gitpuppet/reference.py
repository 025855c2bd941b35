"""The attribute and config-key reference (docs/REFERENCE.md), generated so it cannot drift.

Every resource type's attributes come from its schema dataclass (gitpuppet/types/<name>/spec.py:
kind, default, choices and `doc` of each `attr()`), the metaparameters from METAPARAM_DOCS, and
the agent config keys from the parsers and KEY_DOCS of gitpuppet/config.py. A new attribute or
key appears here by itself; one without a doc is listed by `undocumented()`, which a unit test
runs. `python -m gitpuppet.reference` rewrites the file, `--check` only compares.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitpuppet import config, config_values
from gitpuppet.atomic import write_atomic
from gitpuppet.duration import format_duration
from gitpuppet.resources import coerce
from gitpuppet.resources.schema import Params
from gitpuppet.types import schemas
from gitpuppet.types.build import METAPARAM_DOCS, METAPARAMS

DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "docs" / "REFERENCE.md"
REGENERATE = "python -m gitpuppet.reference"
UNDOCUMENTED = "(undocumented)"

KIND_WORDS = {
    coerce.STR: "string",
    coerce.INT: "integer",
    coerce.BOOL: "boolean",
    coerce.STRLIST: "list of strings",
    coerce.INTLIST: "list of integers",
    coerce.MAP: "mapping",
    coerce.STR_OR_INT: "string or integer",
    coerce.MODE: 'mode (octal string, "0644")',
    coerce.ANY: "any",
}
# What each config value parser accepts, in words.
PARSER_WORDS: dict[Callable[..., Any], str] = {
    config_values._repo: "URL or list of URLs",
    config_values._url: "URL",
    config_values._branch: "branch name",
    config_values._node_name: "string",
    config_values._interval: "duration",
    config_values._splay: "duration (0 allowed)",
    config_values._existing_file: "path of an existing file",
    config_values._path: "path",
    config_values._metrics_file: "absolute path ending in .prom",
    config_values._positive_int: "integer ≥ 1",
    config_values._boolean: "boolean",
}
DURATION_KEYS = ("interval", "splay")


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a reference table."""

    name: str
    type: str
    default: str
    meaning: str


# --- resource types -------------------------------------------------------------------------


def type_rows(cls: type[Params]) -> list[Row]:
    """The attributes a resource type accepts, in schema order."""
    rows = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        kind = f.metadata.get("kind")
        if kind is None or kind == "internal":
            continue
        choices = f.metadata.get("choices") or ()
        words = "one of " + ", ".join(choices) if choices else KIND_WORDS.get(kind, kind)
        default = "the title" if f.name == cls.namevar else _value(_field_default(f))
        rows.append(Row(f.name, words, default, f.metadata.get("doc") or UNDOCUMENTED))
    return rows


def _field_default(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default


def _value(value: Any) -> str:
    """A default as it would be written in YAML."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, (list, dict)):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def metaparam_rows() -> list[Row]:
    """The attributes every type accepts."""
    return [Row(name, "", "", METAPARAM_DOCS.get(name, UNDOCUMENTED)) for name in METAPARAMS]


# --- agent config ---------------------------------------------------------------------------


def config_keys() -> list[tuple[str, str, Callable[..., Any]]]:
    """(key, AgentConfig field, parser) of every config key; a section's keys as `section.key`."""
    keys = []
    for key, parser in config.TOP_KEYS.items():
        section = config.SECTIONS.get(key)
        if section is None:
            keys.append((key, key, parser))
        else:
            keys += [(f"{key}.{sub}", f"{key}_{sub}", p) for sub, p in section.items()]
    return keys


def config_rows() -> list[Row]:
    """Every key of the agent config, with its type, default and meaning."""
    defaults = config.AgentConfig()
    rows = []
    for name, attr, parser in config_keys():
        row = _config_row(name, attr, parser, defaults)
        section, _, sub = name.partition(".")
        if sub and config.REQUIRED_IN_SECTION.get(section) == sub:
            row = dataclasses.replace(row, default=f"required in `{section}:`")
        rows.append(row)
    return rows


def _config_row(name: str, attr: str, parser: Callable[..., Any], defaults: Any) -> Row:
    words = PARSER_WORDS.get(parser, getattr(parser, "__name__", "").strip("_") or "value")
    if name in config.DEFAULT_DOCS:
        default = config.DEFAULT_DOCS[name]
    else:
        value = getattr(defaults, attr, None)
        if name in DURATION_KEYS and value is not None:
            value = format_duration(value)
        default = _value(str(value) if isinstance(value, Path) else value)
    return Row(name, words, default, config.KEY_DOCS.get(name, UNDOCUMENTED))


# --- the document ---------------------------------------------------------------------------


def undocumented() -> list[str]:
    """Attributes, metaparameters and config keys that have no one-line meaning yet, each
    with where to add it."""
    missing = [
        f"{name}.{row.name}: add doc=... to its attr() in gitpuppet/types/{name}/spec.py"
        for name, cls in schemas().items()
        for row in type_rows(cls)
        if row.meaning == UNDOCUMENTED
    ]
    missing += [
        f"metaparameter {row.name}: add it to METAPARAM_DOCS in gitpuppet/types/build.py"
        for row in metaparam_rows()
        if row.meaning == UNDOCUMENTED
    ]
    missing += [
        f"config key {row.name}: add it to KEY_DOCS in gitpuppet/config.py"
        for row in config_rows()
        if row.meaning == UNDOCUMENTED
    ]
    missing += [
        f"config key {name}: add its parser to PARSER_WORDS in gitpuppet/reference.py"
        for name, _, parser in config_keys()
        if parser not in PARSER_WORDS
    ]
    return missing


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def table(rows: Sequence[Row], columns: Sequence[str] = ("attribute", "type", "default")) -> str:
    """A Markdown table of `rows` (name, type, default, meaning)."""
    head = [*columns, "meaning"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [f"`{row.name}`", row.type, row.default, row.meaning][: len(columns)]
        cells.append(row.meaning)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def render() -> str:
    """The whole reference document."""
    parts = [
        "# gitpuppet reference",
        "",
        f"Generated from the schema by `{REGENERATE}`; do not edit by hand (a unit test",
        "fails when this file differs from what the schema says).",
        "",
        "## Resource types",
        "",
        "A resource is `- TYPE: TITLE` followed by its attributes. `~` for an attribute means its",
        "default. Every type also takes the metaparameters:",
        "",
        table(metaparam_rows(), ("metaparameter",)),
    ]
    for name, cls in schemas().items():
        parts += ["", f"### {name}", "", f"The title is `{cls.namevar}`.", ""]
        parts.append(table(type_rows(cls)))
    parts += [
        "",
        f"## Agent config ({config.DEFAULT_PATH})",
        "",
        "Relative paths are taken from the folder of the config file. An unknown key is an error.",
        "",
        table(config_rows(), ("key", "type", "default")),
        "",
    ]
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the reference (or with --check, say whether the committed one is current)."""
    parser = argparse.ArgumentParser(prog=REGENERATE, description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        try:
            current = args.output.read_text(encoding="utf-8")
        except OSError as exc:
            current = f"<{exc.strerror}>"
        if current != text:
            print(f"{args.output}: out of date; run `{REGENERATE}`", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    # A link planted at the output is replaced by the rename, never written through.
    write_atomic(args.output, text.encode("utf-8"), mode=0o644)
    return 0


if __name__ == "__main__":
    sys.exit(main())
