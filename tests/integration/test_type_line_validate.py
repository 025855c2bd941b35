"""`line` with `validate:` (issue 9 item 9): the command sees the new text at `%` (the temp
file, not the real path), a rejection keeps the old content whole and leaves no temp file or
backup, and a rejected sensitive line leaks nothing through the validator's output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitpuppet.backup import BackupStore
from gitpuppet.contract import ApplyContext
from gitpuppet.errors import ApplyError
from tests.integration import test_type_support as support
from tests.integration.test_run_agent import Setup
from tests.integration.test_secrets import leaks, outputs
from tests.integration.test_type_support import converge, make

pytestmark = pytest.mark.integration
ctx = support.ctx


def test_validate_accepts_and_sees_the_new_text_at_the_temp_path(
    tmp_path: Path, ctx: ApplyContext
) -> None:
    path = tmp_path / "sshd_config"
    path.write_text("Port 22\n")
    seen, where = tmp_path / "seen", tmp_path / "where"
    validator = f'sh -c \'cp "$1" {seen}; echo "$1" > {where}\' sh %'
    converge(make("line", "PermitRootLogin no", path=str(path), validate=validator), ctx)
    assert path.read_text() == "Port 22\nPermitRootLogin no\n"
    assert seen.read_text() == "Port 22\nPermitRootLogin no\n"
    assert where.read_text().strip() != str(path)  # a temp file beside it, not the file itself
    assert os.path.dirname(where.read_text().strip()) == str(tmp_path)


def test_validate_rejects_and_changes_nothing(tmp_path: Path, ctx: ApplyContext) -> None:
    path = tmp_path / "sudoers"
    path.write_text("root ALL=(ALL) ALL\n")
    validator = 'sh -c \'grep -q ^root "$1" && ! grep -q broken "$1"; rc=$?; echo checked >&2; exit $rc\' sh %'
    res = make("line", "broken line", path=str(path), validate=validator)
    with pytest.raises(ApplyError, match="validate command rejected the new content") as info:
        converge(res, ctx)
    assert "checked" in (info.value.output or "")
    assert path.read_text() == "root ALL=(ALL) ALL\n"
    assert sorted(os.listdir(tmp_path)) == ["sudoers"]  # no temp file left beside it
    assert BackupStore(ctx.state_dir).versions(str(path)) == []  # nothing was replaced
    converge(make("line", "alice ALL=(ALL) ALL", path=str(path), validate=validator), ctx)
    assert path.read_text() == "root ALL=(ALL) ALL\nalice ALL=(ALL) ALL\n"
    assert len(BackupStore(ctx.state_dir).versions(str(path))) == 1


def test_a_rejected_sensitive_line_leaks_nothing(tmp_path: Path) -> None:
    """The attack: a validator that prints the file it is given (as `visudo -c` quotes a bad
    line) must not carry a sensitive line into the output, the report or the state dir."""
    setup = Setup(tmp_path)
    conf = setup.target / "app.env"
    conf.write_text("A=1\n")
    setup.push(
        "x",
        classes=(
            "resources:\n"
            "  - line: set the token\n"
            "    text: TOKEN=LINEVALSECRET\n"
            f"    path: {conf}\n"
            "    sensitive: true\n"
            '    validate: "sh -c \'cat \\"$1\\"; cat \\"$1\\" >&2; exit 1\' sh %"\n'
        ),
    )
    proc = setup.run("run", "--now", "--diff", "-v")
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert conf.read_text() == "A=1\n"
    checks = [setup.run("report", "--json"), setup.run("report"), setup.run("status", "--json")]
    found = [
        f for f in leaks(setup, outputs(proc, *checks), ("LINEVALSECRET",)) if "repo.git" not in f
    ]
    assert found == []
    assert "validate command rejected" in checks[0].stdout  # the validator did run, and refuse
