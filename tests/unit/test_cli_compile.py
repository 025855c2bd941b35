"""`gitpuppet node`, `lookup` and `validate` as a person runs them: real processes, exit codes,
file:line errors and no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FACTS = {
    "fqdn": "test.example.com",
    "hostname": "test",
    "domain": "example.com",
    "os": {"name": "Debian", "family": "Debian", "release": {"full": "12.5", "major": "12"}},
}


def gitpuppet(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a separate process, as a person would."""
    return subprocess.run(
        [sys.executable, "-m", "gitpuppet.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"GITPUPPET_CONFIG": "/nonexistent/config.yaml", "PATH": "/usr/bin:/bin"},
        timeout=60,
    )


def write_repo(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


@pytest.fixture
def facts_file(tmp_path: Path) -> Path:
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(FACTS))
    return path


GOOD = {
    "nodes/all.yaml": """\
        web01.example.com:
          classes:
            web: {port: 8080}
        "/^db(\\\\d+)/":
          classes: [base]
        default:
          classes: [base]
        """,
    "classes/base.yaml": """\
        resources:
          - file: /etc/motd
            content: "hello {{ node.name }}\\n"
        """,
    "classes/web.yaml": """\
        params: {port: 80}
        include: [base]
        resources:
          - file: /etc/web.conf
            content: "port={{ port }}\\n"
            require: file:/etc/motd
        """,
    "data/common.yaml": "answer: 42\nlist: [a, b]\n",
}


def test_node_prints_match_classes_and_resources(tmp_path: Path, facts_file: Path) -> None:
    repo = write_repo(tmp_path / "repo", GOOD)
    proc = gitpuppet("node", "web01.example.com", "--repo", str(repo), "--facts", str(facts_file))
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]  # the match is the first line (issue 9 item 6)
    assert first == "node web01.example.com: matched exact 'web01.example.com' at nodes/all.yaml:1"
    assert "classes   web, base" in proc.stdout or "classes   base, web" in proc.stdout
    assert proc.stdout.index("file:/etc/motd") < proc.stdout.index("file:/etc/web.conf")
    assert "after file:/etc/motd" in proc.stdout


def test_node_json_has_resources_edges_and_match(tmp_path: Path, facts_file: Path) -> None:
    repo = write_repo(tmp_path / "repo", GOOD)
    proc = gitpuppet(
        "node", "db07.example.com", "--repo", str(repo), "--facts", str(facts_file), "--json"
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["matched"]["kind"] == "regex"
    assert [r["ref"] for r in data["resources"]] == ["file:/etc/motd"]
    assert data["resources"][0]["attributes"]["content"] == "hello db07.example.com\n"
    assert data["resources"][0]["source"] == "classes/base.yaml:2"


def test_lookup_and_explain(tmp_path: Path, facts_file: Path) -> None:
    repo = write_repo(tmp_path / "repo", GOOD)
    proc = gitpuppet(
        "lookup", "answer", "--node", "x", "--repo", str(repo), "--facts", str(facts_file), "--json"
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == 42
    proc = gitpuppet(
        "lookup",
        "list",
        "--node",
        "x",
        "--repo",
        str(repo),
        "--facts",
        str(facts_file),
        "--explain",
    )
    assert proc.returncode == 0, proc.stderr
    assert "data/common.yaml: found" in proc.stdout
    assert "- a" in proc.stdout


def test_lookup_missing_key_is_an_error(tmp_path: Path, facts_file: Path) -> None:
    repo = write_repo(tmp_path / "repo", GOOD)
    proc = gitpuppet(
        "lookup", "nope", "--node", "x", "--repo", str(repo), "--facts", str(facts_file)
    )
    assert proc.returncode == 1
    assert "lookup of 'nope' found nothing" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_validate_good_repo(tmp_path: Path, facts_file: Path) -> None:
    repo = write_repo(tmp_path / "repo", GOOD)
    proc = gitpuppet("validate", str(repo), "--facts", str(facts_file))
    assert proc.returncode == 0, proc.stderr
    assert "1 node(s) compiled: OK" in proc.stderr


BAD = [
    (
        "classes/web.yaml",
        "params: {port: 80}\nresources:\n  - file: /etc/web.conf\n    mdoe: '0644'\n",
        ["classes/web.yaml:4:", "unknown attribute 'mdoe'", "did you mean 'mode'"],
    ),
    (
        "classes/web.yaml",
        "params: {port: 80}\nresources:\n  - fiel: /etc/web.conf\n",
        ["classes/web.yaml:3:", "unknown resource type", "did you mean 'file'"],
    ),
    (
        "classes/web.yaml",
        "params: {port: 80}\nresources:\n  - file: /etc/x\n    content: [unclosed\n",
        ["classes/web.yaml:", "YAML syntax error"],
    ),
    (
        "classes/web.yaml",
        "params: {port: 80}\nresources:\n  - file: /etc/x\n    content: '{{ nope }}'\n",
        ["classes/web.yaml:4:", "undefined name 'nope'"],
    ),
    ("classes/web.yaml", "params: {port: ~}\nresources: []\n", ["needs parameter 'port'"]),
]


@pytest.mark.parametrize(
    "path,text,expected", BAD, ids=["typo", "type", "yaml", "undefined", "required"]
)
def test_validate_and_node_report_bad_input(
    tmp_path: Path, facts_file: Path, path: str, text: str, expected: list[str]
) -> None:
    files = dict(GOOD)
    files["nodes/all.yaml"] = "web01.example.com:\n  classes: [web]\n"
    files[path] = text
    repo = write_repo(tmp_path / "repo", files)
    for args in (["validate", str(repo)], ["node", "web01.example.com", "--repo", str(repo)]):
        proc = gitpuppet(*args, "--facts", str(facts_file))
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        for piece in expected:
            assert piece in proc.stderr, (args, piece, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_traceback_only_with_vv(tmp_path: Path, facts_file: Path) -> None:
    repo = write_repo(tmp_path / "repo", {"nodes.yaml": "a: {classes: [missing]}\n"})
    proc = gitpuppet("node", "a", "--repo", str(repo), "--facts", str(facts_file), "-vv")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr
    assert "unknown class 'missing'" in proc.stderr


def test_no_matching_node(tmp_path: Path, facts_file: Path) -> None:
    repo = write_repo(tmp_path / "repo", {"nodes/a.yaml": "a.example.com: {classes: []}\n"})
    proc = gitpuppet("node", "b.example.com", "--repo", str(repo), "--facts", str(facts_file))
    assert proc.returncode == 1
    assert "no declaration matches node 'b.example.com'" in proc.stderr
    assert "nodes/a.yaml" in proc.stderr


def test_validate_warns_on_several_patterns(tmp_path: Path, facts_file: Path) -> None:
    repo = write_repo(
        tmp_path / "repo",
        {
            "nodes/a.yaml": "web1.example.com: {classes: []}\n'/^web/': {classes: []}\n'web*': {classes: []}\n",
        },
    )
    proc = gitpuppet("validate", str(repo), "--facts", str(facts_file))
    assert proc.returncode == 0, proc.stderr
    assert "several patterns match it" in proc.stderr
