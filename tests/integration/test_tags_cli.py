"""`apply --tags` and `run --tags` end to end (issue 9 item 8): class prefixes select, a tag no
resource has is a warning, and `run` passes its tags to the apply."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gitpuppet.cli import cli
from tests.integration.helpers import apply_args, make_repo
from tests.integration.test_run_agent import Setup

pytestmark = pytest.mark.integration


def _classes(root: Path) -> dict[str, str]:
    return {
        "nodes.yaml": "t.example.com:\n  classes: [main, base, base.ntp]\n",
        "classes/base/init.yaml": f"resources:\n  - file: {root}/base\n    content: b\n",
        "classes/base/ntp.yaml": f"resources:\n  - file: {root}/ntp\n    content: n\n",
    }


def test_apply_tags_base_selects_base_ntp_and_warns_of_unknown(
    env: tuple[Path, Path, Path],
) -> None:
    root, repo, state = env
    make_repo(repo, f"- file: {root}/main\n  content: m\n", _classes(root))
    proc = CliRunner().invoke(
        cli,
        apply_args(repo, state, "--tags", "base,nosuchtag"),
        env={"GITPUPPET_CONFIG": "/nonexistent/config.yaml", "NO_COLOR": None},
    )
    assert proc.exit_code == 2, proc.output
    assert sorted(p.name for p in root.iterdir()) == ["base", "ntp"]
    assert "warning: tag 'nosuchtag' is on no resource of this catalog" in proc.stderr
    assert "base'" not in proc.stderr  # a tag that selects something is no warning


def test_run_tags_applies_only_the_tagged(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.push(
        "x",
        classes=f"resources:\n  - file: {setup.target}/motd\n    content: m\n"
        f"  - file: {setup.target}/dns\n    content: d\n    tags: [dns]\n",
    )
    proc = setup.run("run", "--now", "--tags", "dns,dsn")
    assert proc.returncode == 2, proc.stderr
    assert sorted(p.name for p in setup.target.iterdir()) == ["dns"]
    assert "warning: tag 'dsn' is on no resource of this catalog (did you mean 'dns'?)" in (
        proc.stderr
    )
    assert setup.run("run", "--now").returncode == 2  # without tags: everything
    assert sorted(p.name for p in setup.target.iterdir()) == ["dns", "motd"]
