"""docs/REFERENCE.md is generated from the schema and the config parsers: it is current, every
attribute and key has a meaning, and an attribute added to a schema shows up by itself."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitpuppet import config, reference
from gitpuppet.config_values import _positive_int
from gitpuppet.resources import coerce
from gitpuppet.resources.schema import Params, attr
from gitpuppet.types import schemas
from gitpuppet.types.build import METAPARAMS

SCHEMAS = schemas()

pytestmark = pytest.mark.unit

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "REFERENCE.md"


def test_committed_reference_is_current() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == reference.render(), (
        f"docs/REFERENCE.md is out of date: run `{reference.REGENERATE}` and commit it"
    )


def test_every_attribute_metaparameter_and_config_key_is_documented() -> None:
    assert reference.undocumented() == []


def test_every_schema_attribute_and_config_key_is_in_the_document() -> None:
    text = reference.render()
    for name, cls in SCHEMAS.items():
        assert f"\n### {name}\n" in text
        section = text.split(f"\n### {name}\n", 1)[1].split("\n### ", 1)[0]
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.metadata.get("kind") != "internal":
                assert f"| `{f.name}` |" in section, (name, f.name)
    for meta in METAPARAMS:
        assert f"| `{meta}` |" in text
    for key, _, _ in reference.config_keys():
        assert f"| `{key}` |" in text
    assert "| `backups_keep.versions` | integer ≥ 1 | `10` |" in text
    assert "| `interval` | duration | `30m` |" in text


@dataclass(slots=True)
class _NewParams(Params):
    type_name = "widget"
    namevar = "name"
    name: str = attr(coerce.STR, doc="the widget")
    size: int = attr(coerce.INT, 3, doc="how big | wide")
    colour: str = attr(coerce.STR, "red", ("red", "blue"))


def test_an_added_attribute_is_picked_up_and_an_undocumented_one_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What another change adding an attribute or a type gets without touching the generator."""
    monkeypatch.setitem(SCHEMAS, "widget", _NewParams)
    rows = {row.name: row for row in reference.type_rows(_NewParams)}
    assert rows["name"].default == "the title"
    assert (rows["size"].type, rows["size"].default) == ("integer", "`3`")
    assert rows["colour"].type == "one of red, blue"
    text = reference.render()
    assert "| `size` | integer | `3` | how big \\| wide |" in text  # a | cannot break the table
    assert reference.undocumented() == [
        "widget.colour: add doc=... to its attr() in gitpuppet/types/widget/spec.py"
    ]


def test_an_added_config_key_is_picked_up_and_needs_a_doc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        config.SECTIONS, "reports", {**config.SECTIONS["reports"], "x": _positive_int}
    )
    assert "| `reports.x` | integer ≥ 1 | — | (undocumented) |" in reference.render()
    assert reference.undocumented() == [
        "config key reports.x: add it to KEY_DOCS in gitpuppet/config.py"
    ]
    monkeypatch.setitem(config.KEY_DOCS, "reports.x", "a number")
    assert reference.undocumented() == []


def test_check_mode_says_when_the_file_is_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "REFERENCE.md"
    assert reference.main([str(out), "--check"]) == 1
    assert "out of date; run `python -m gitpuppet.reference`" in capsys.readouterr().err
    assert reference.main([str(out)]) == 0
    assert reference.main([str(out), "--check"]) == 0
    assert out.read_text(encoding="utf-8") == reference.render()
    assert os.stat(out).st_mode & 0o777 == 0o644


def test_a_link_planted_at_the_output_is_replaced_not_written_through(tmp_path: Path) -> None:
    """Run as root in a checkout someone else can write: the generator must not be a way to
    overwrite the file a planted link names."""
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    out = tmp_path / "docs" / "REFERENCE.md"
    out.parent.mkdir()
    out.symlink_to(victim)
    assert reference.main([str(out)]) == 0
    assert victim.read_text() == "precious\n"
    assert not out.is_symlink()
    assert out.read_text(encoding="utf-8") == reference.render()
