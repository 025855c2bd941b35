"""The `line` type's title forms: the title is the line, or (with `text:`) only a name, so a
sensitive line need not be its own title; and `follow:`."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitpuppet.compile import DirTree, compile_catalog
from gitpuppet.errors import GitpuppetError
from gitpuppet.types.line.spec import LineParams
from gitpuppet.types.line.type import edit_line
from tests.unit.test_cases import FACTS

NODE = "test.example.com"


def _compile(tmp_path: Path, body: str) -> list[LineParams]:
    (tmp_path / "nodes.yaml").write_text(f"{NODE}: {{classes: [a]}}\n")
    (tmp_path / "classes").mkdir()
    (tmp_path / "classes/a.yaml").write_text("resources:\n" + body)
    cat = compile_catalog(DirTree(tmp_path), NODE, FACTS)
    return [r.params for r in cat.resources if r.type == "line"]


def test_a_name_title_with_text_is_the_line(tmp_path: Path) -> None:
    (p,) = _compile(
        tmp_path,
        "  - line: set the db password\n"
        "    text: 'password=hunter2'\n"
        "    path: /etc/app.conf\n"
        "    match: '^password='\n"
        "    sensitive: true\n",
    )
    assert p.line == "set the db password"  # the title, which a report may show
    assert p.wanted == "password=hunter2"
    assert edit_line("a\npassword=old\n", p) == "a\npassword=hunter2\n"
    assert "hunter2" not in p.line


def test_the_title_is_the_line_when_text_is_absent(tmp_path: Path) -> None:
    (p,) = _compile(tmp_path, "  - line: 'PermitRootLogin no'\n    path: /etc/ssh/sshd_config\n")
    assert p.wanted == "PermitRootLogin no"
    assert p.follow is False
    assert edit_line("a\n", p) == "a\nPermitRootLogin no\n"


def test_absent_by_text_removes_the_text_not_the_title(tmp_path: Path) -> None:
    (p,) = _compile(
        tmp_path, "  - line: drop telnet\n    text: telnet\n    path: /f\n    ensure: absent\n"
    )
    assert edit_line("telnet\ndrop telnet\n", p) == "drop telnet\n"


def test_a_text_with_a_newline_is_an_error_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(GitpuppetError, match=r"classes/a.yaml:3:.*single line"):
        _compile(tmp_path, '  - line: two\n    text: "a\\nb"\n    path: /f\n')


def test_follow_must_be_a_boolean(tmp_path: Path) -> None:
    with pytest.raises(GitpuppetError, match=r"classes/a.yaml:4:.*follow"):
        _compile(tmp_path, "  - line: x\n    path: /f\n    follow: sometimes\n")
