"""validate, node, lookup and apply as a person runs them (issue 9 items 1, 2 and 6): real
processes, exit codes, no traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.unit.test_cli_compile import FACTS, gitpuppet, write_repo

SAMPLE = Path(__file__).resolve().parents[2] / "sample-repo"

FLEET = {
    "nodes/all.yaml": """\
        "/^web\\\\d+$/":
          classes: [web]
          examples: [web1]
        default:
          classes: [web]
          vars: {role: none}
        """,
    "classes/web.yaml": """\
        params: {workers: 2}
        resources:
          - file: /etc/web.conf
            content: "{{ facts.os.family }} {{ workers }}"
        """,
    "data/common.yaml": "web.worker: 4\n",
    "gitpuppet.yaml": "hierarchy: ['roles/{{ node.vars.rolee }}.yaml', common.yaml]\n",
}


@pytest.fixture
def facts_file(tmp_path: Path) -> Path:
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(FACTS))
    return path


def test_sample_repo_passes_strict() -> None:
    proc = gitpuppet("validate", "--strict", str(SAMPLE))
    assert proc.returncode == 0, proc.stderr
    assert "6 node(s) compiled: OK" in proc.stderr
    assert "warning" not in proc.stderr


def test_strict_turns_warnings_into_errors(tmp_path: Path, facts_file: Path) -> None:
    repo = write_repo(tmp_path / "repo", FLEET)
    loose = gitpuppet("validate", str(repo), "--facts", str(facts_file))
    assert loose.returncode == 0, loose.stderr
    assert "warning: nodes/all.yaml:4: default 'default': nothing compiled" in loose.stderr
    assert "warning: node web1: gitpuppet.yaml:1: hierarchy level" in loose.stderr
    assert "did you mean 'role'?" in loose.stderr
    assert "warning: data/common.yaml:1: data key 'web.worker'" in loose.stderr
    strict = gitpuppet("validate", "--strict", str(repo), "--facts", str(facts_file))
    assert strict.returncode == 1
    assert strict.stderr.count("error: ") == 3, strict.stderr
    assert "3 error(s)" in strict.stderr
    assert "Traceback" not in strict.stderr


def test_json_lists_each_declaration(tmp_path: Path, facts_file: Path) -> None:
    files = dict(FLEET, **{"classes/web.yaml": "resources:\n  - fiel: /x\n  - file: '{{ a }}'\n"})
    repo = write_repo(tmp_path / "repo", files)
    proc = gitpuppet("validate", str(repo), "--facts", str(facts_file), "--json")
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    regex, default = data["declarations"]
    assert (regex["kind"], regex["source"]) == ("regex", "nodes/all.yaml:1")
    (web1,) = regex["compiled"]
    assert (web1["node"], web1["via"], web1["resources"]) == ("web1", "example", None)
    assert [e.split(":")[:2] for e in web1["errors"]] == [
        ["classes/web.yaml", "2"],
        ["classes/web.yaml", "3"],
    ]
    assert default["compiled"] == []
    assert any("nothing compiled" in w for w in data["warnings"])


def test_facts_dir_compiles_each_node_with_its_facts(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "repo", FLEET)
    facts = tmp_path / "facts"
    facts.mkdir()
    for name, family in (("web7", "Debian"), ("mail.example.com", "RedHat")):
        (facts / f"{name}.yaml").write_text(json.dumps({**FACTS, "os": {"family": family}}))
    (facts / "README.txt").write_text("not facts")
    proc = gitpuppet("validate", str(repo), "--facts-dir", str(facts), "--json")
    data = json.loads(proc.stdout)
    assert set(data["nodes"]) == {"web7", "mail.example.com"}  # web1 is not needed
    assert data["declarations"][1]["compiled"][0]["via"] == "facts-dir"
    out = gitpuppet(
        "node",
        "mail.example.com",
        "--repo",
        str(repo),
        "--facts",
        str(facts / "mail.example.com.yaml"),
        "--json",
    )
    assert json.loads(out.stdout)["resources"][0]["attributes"]["content"] == "RedHat 2"


def test_facts_dir_names_never_leave_the_folder(tmp_path: Path) -> None:
    """A name from --node or a link in the folder must not read a file outside it."""
    repo = write_repo(tmp_path / "repo", FLEET)
    facts = tmp_path / "facts"
    facts.mkdir()
    secret = tmp_path / "secret.yaml"
    secret.write_text("os: {family: LEAKED}\n")
    os.symlink(secret, facts / "evil.yaml")
    os.symlink("../secret.yaml", facts / "web2.yaml")
    proc = gitpuppet("validate", str(repo), "--facts-dir", str(facts))
    assert proc.returncode == 1
    assert "evil.yaml links out of the folder" in proc.stderr
    assert "web2.yaml links out of the folder" in proc.stderr
    assert "LEAKED" not in proc.stderr + proc.stdout
    for name in ("../secret", "a/../../secret", ".hidden"):
        proc = gitpuppet("validate", str(repo), "--facts-dir", str(facts), "--node", name)
        assert proc.returncode == 1, (name, proc.stderr)
        assert "is not a plain file name" in proc.stderr, proc.stderr
        assert "LEAKED" not in proc.stderr and "Traceback" not in proc.stderr


def test_facts_dir_link_inside_the_folder_is_read(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "repo", FLEET)
    facts = tmp_path / "facts"
    facts.mkdir()
    (facts / "web3.yaml").write_text(json.dumps(FACTS))
    os.symlink("web3.yaml", facts / "web4.yaml")
    proc = gitpuppet("validate", str(repo), "--facts-dir", str(facts), "--json")
    assert set(json.loads(proc.stdout)["nodes"]) == {"web3", "web4"}, proc.stderr


def test_node_says_which_declaration_matched_and_warns(tmp_path: Path, facts_file: Path) -> None:
    repo = write_repo(tmp_path / "repo", FLEET)
    proc = gitpuppet("node", "wbe1", "--repo", str(repo), "--facts", str(facts_file))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == (
        "node wbe1: matched default at nodes/all.yaml:4 (no exact name or pattern matches it)"
    )
    assert (
        "warning: gitpuppet.yaml:1: hierarchy level 'roles/{{ node.vars.rolee }}.yaml'"
        in proc.stderr
    )
    assert "warning: data/common.yaml:1: data key 'web.worker'" in proc.stderr
    data = json.loads(
        gitpuppet("node", "web1", "--repo", str(repo), "--facts", str(facts_file), "--json").stdout
    )
    assert len(data["warnings"]) == 2


def test_lookup_explain_shows_every_level_when_nothing_is_found(
    tmp_path: Path, facts_file: Path
) -> None:
    files = dict(FLEET)
    files["gitpuppet.yaml"] = (
        "hierarchy: ['nodes/{{ node.name }}.yaml', 'roles/{{ node.vars.rolee }}.yaml', common.yaml]\n"
    )
    repo = write_repo(tmp_path / "repo", files)
    args = ("lookup", "nope", "--node", "web1", "--repo", str(repo), "--facts", str(facts_file))
    proc = gitpuppet(*args, "--explain")
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "lookup of 'nope' for web1 (merge: first): nothing found",
        "  nodes/{{ node.name }}.yaml -> data/nodes/web1.yaml: skipped (file absent)",
        "  roles/{{ node.vars.rolee }}.yaml: skipped (cannot render: 'dict object' has no "
        "attribute 'rolee')",
        "  data/common.yaml: not found",
    ]
    assert "lookup of 'nope' found nothing" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.integration
def test_apply_says_which_declaration_matched_first(tmp_path: Path, facts_file: Path) -> None:
    target = tmp_path / "motd"
    repo = write_repo(
        tmp_path / "repo",
        {
            "nodes.yaml": "default: {classes: [m]}\n",
            "classes/m.yaml": f"resources:\n  - file: {target}\n    content: hi\n",
        },
    )
    state = tmp_path / "state"
    proc = gitpuppet(
        "apply",
        str(repo),
        "--node",
        "web01.exmaple.com",
        "--noop",
        "--facts",
        str(facts_file),
        "--state-dir",
        str(state),
        "--run-dir",
        str(tmp_path / "run"),
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines()[0] == (
        "node web01.exmaple.com: matched default at nodes.yaml:1 "
        "(no exact name or pattern matches it)"
    )
    assert not target.exists()
