"""Secrets never leak (issue 8 item 7): URL credentials and sensitive resources, grepped for in
everything a real `gitpuppet run` leaves behind: the state dir, the metrics file, stdout, stderr
(the journal), `status`, `report`, `pull --json`, and in `gitpuppet node`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.gitservers import HttpGit, free_port
from tests.integration.test_run_agent import Setup

pytestmark = pytest.mark.integration

USER_TOKEN = "ghp_UserTokenAbc123"
PASSWORD = "PassWord987xyz"
QUERY_TOKEN = "QueryTok456def"
KEY_VALUE = "k3yV4lu3Zz81Qw0mNb"
SECRETS = (USER_TOKEN, PASSWORD, QUERY_TOKEN, KEY_VALUE)


def leaks(setup: Setup, texts: list[str], secrets: tuple[str, ...]) -> list[str]:
    """Every place (file under the state dir, the metrics file, a captured text) holding a secret."""
    found = []
    files = [p for p in setup.state.rglob("*") if p.is_file()]
    files += [setup.tmp / "metrics.prom"]
    for path in files:
        data = path.read_bytes() if path.is_file() else b""
        found += [f"{path}: {s}" for s in secrets if s.encode() in data]
    for i, text in enumerate(texts):
        found += [f"output {i}: {s}" for s in secrets if s in text]
    return found


def outputs(*procs: subprocess.CompletedProcess[str]) -> list[str]:
    return [p.stdout + p.stderr for p in procs]


@pytest.fixture
def http(tmp_path: Path) -> HttpGit:
    if not Path("/usr/lib/git-core/git-http-backend").exists():
        pytest.skip("git-http-backend is missing (it ships with the git package)")
    server = HttpGit(tmp_path)  # serves tmp_path/control.git as /control.git
    server.start()
    yield server  # type: ignore[misc]
    server.stop()


def test_url_credentials_never_reach_state_metrics_or_output(tmp_path: Path, http: HttpGit) -> None:
    setup = Setup(tmp_path)
    setup.push("one")
    metrics = str(tmp_path / "metrics.prom")
    # A token as the URL's user fetches fine (the test server asks for no credentials).
    setup.write_config(
        repo=f"http://{USER_TOKEN}@127.0.0.1:{http.port}/control.git", metrics_file=metrics
    )
    first = setup.run("run", "--now")
    assert first.returncode == 2, first.stderr
    dead = free_port()
    setup.write_config(
        repo=(
            f"[http://{USER_TOKEN}@127.0.0.1:{http.port}/gone.git?private_token={QUERY_TOKEN},"
            f" 'https://deploy:{PASSWORD}@127.0.0.1:{dead}/c.git?ref=main&x={KEY_VALUE}']"
        ),
        metrics_file=metrics,
    )
    failed = setup.run("run", "--now")
    assert failed.returncode == 4, failed.stderr  # fell back to the applied commit
    assert "pull failed: http://***@127.0.0.1" in failed.stderr
    assert "private_token=***" in failed.stderr and "https://deploy:***@127.0.0.1" in failed.stderr
    checks = [
        setup.run("status"),
        setup.run("status", "--json"),
        setup.run("report", "--last", "2"),
        setup.run("report", "--json"),
        setup.run("pull", "--json"),
        setup.run("pull"),
    ]
    assert "private_token=***" in checks[0].stdout  # status shows the note, redacted
    assert leaks(setup, outputs(first, failed, *checks), SECRETS) == []


def test_a_fetch_error_with_nothing_to_fall_back_to_is_redacted(
    tmp_path: Path, http: HttpGit
) -> None:
    setup = Setup(tmp_path)
    setup.write_config(
        repo=f"'http://{USER_TOKEN}@127.0.0.1:{http.port}/none.git?access_token={QUERY_TOKEN}'",
        metrics_file=str(tmp_path / "metrics.prom"),
    )
    proc = setup.run("run", "--now")
    assert proc.returncode == 1 and "error: pull failed: http://***@127.0.0.1" in proc.stderr
    assert leaks(setup, outputs(proc, setup.run("status", "--json")), SECRETS) == []


SENSITIVE_CLASS = """\
resources:
  - exec: "sh -c 'echo CMDSECRET >&2; exit 3'"
    sensitive: true
  - file: {target}/after
    content: "x\\n"
    require: "exec:sh -c 'echo CMDSECRET >&2; exit 3'"
  - file: {target}/TITLESECRET
    content: "CONTENTSECRET\\n"
    sensitive: true
    notify: exec:/bin/true
  - exec: /bin/true
    refreshonly: true
  - line: "TOKEN=LINESECRET"
    path: {target}/env
    sensitive: true
"""


def test_sensitive_titles_never_reach_output_reports_or_state(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    (setup.target / "env").write_text("A=1\n")
    setup.push("x", classes=SENSITIVE_CLASS.format(target=setup.target))
    setup.write_config(metrics_file=str(tmp_path / "metrics.prom"))
    proc = setup.run("run", "--now", "--diff", "-v")
    assert proc.returncode == 6, proc.stderr
    out = proc.stdout
    # The failed exec, the skip and the refresh name sensitive resources by their labels only.
    assert re.search(r"^exec:\[sensitive \w{6}\]: failed: command exited 3", out, re.M), out
    assert re.search(r": skipped: dependency exec:\[sensitive \w{6}\] failed$", out, re.M), out
    assert re.search(r"^exec:/bin/true: .*notified by file:\[sensitive \w{6}\]", out, re.M), out
    assert re.search(r"^line:\[sensitive \w{6}\]: ", out, re.M), out
    checks = [setup.run("status", "--json"), setup.run("report", "--json"), setup.run("report")]
    secrets = ("CMDSECRET", "TITLESECRET", "CONTENTSECRET", "LINESECRET")
    # The clone under the state dir holds the control repo itself (compressed objects).
    found = [f for f in leaks(setup, outputs(proc, *checks), secrets) if "repo.git" not in f]
    assert found == []


def _node(repo: Path, facts: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitpuppet.cli", "node", "t.example.com", "--repo", str(repo),
         "--facts", str(facts), *args],
        capture_output=True, text=True, timeout=60,
        env={"GITPUPPET_CONFIG": "/nonexistent/config.yaml", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


HASH = "$6$saltsalt$HASHSECRETqYh7lKv8lQm1"


def test_node_hides_password_hashes_sensitive_titles_values_and_url_tokens(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "classes").mkdir(parents=True)
    (repo / "nodes.yaml").write_text("t.example.com:\n  classes: [main]\n")
    (repo / "classes/main.yaml").write_text(
        "resources:\n"
        f"  - user: alice\n    password: '{HASH}'\n"
        "  - file: /etc/TITLESECRET\n    content: CONTENTSECRET\n    mode: '0600'\n"
        "    sensitive: true\n    notify: exec:reload\n"
        "  - exec: reload\n    command: /usr/bin/reload --key CMDSECRET\n    refreshonly: true\n"
        "    sensitive: true\n    require: user:alice\n"
        f"  - git: /srv/app\n    source: 'https://{USER_TOKEN}@git.example.com/app.git'\n"
    )
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({"fqdn": "t.example.com", "os": {"family": "Debian"}}))
    text, as_json = _node(repo, facts), _node(repo, facts, "--json")
    assert text.returncode == 0 and as_json.returncode == 0, text.stderr + as_json.stderr
    for out in (text.stdout, as_json.stdout):
        for secret in ("HASHSECRET", "TITLESECRET", "CONTENTSECRET", "CMDSECRET", USER_TOKEN):
            assert secret not in out
    assert "password: <redacted>" in text.stdout and "https://***@git.example.com" in text.stdout
    data = json.loads(as_json.stdout)
    by_type = {r["type"]: r for r in data["resources"]}
    assert by_type["file"]["ref"].startswith("file:[sensitive ")
    assert by_type["file"]["attributes"]["mode"] == "<redacted>"
    assert by_type["exec"]["title"].startswith("[sensitive ")
    edge = next(e for e in data["edges"] if e["kind"] == "refresh")
    assert edge == {**edge, "first": by_type["file"]["ref"], "then": by_type["exec"]["ref"]}
    assert f"notified by {by_type['file']['ref']}" in text.stdout


def test_a_cycle_names_sensitive_resources_by_label(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "classes").mkdir(parents=True)
    (repo / "nodes.yaml").write_text("t.example.com:\n  classes: [main]\n")
    (repo / "classes/main.yaml").write_text(
        "resources:\n"
        "  - exec: /bin/echo CMDSECRET\n    sensitive: true\n    require: exec:/bin/true\n"
        "  - exec: /bin/true\n    require: exec:/bin/echo CMDSECRET\n"
        "  - exec: /bin/echo CMDSECRET\n    sensitive: true\n"
    )
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({"fqdn": "t.example.com"}))
    dup = _node(repo, facts)
    assert (
        dup.returncode == 1 and "exec:[sensitive " in dup.stderr and "declared twice" in dup.stderr
    )
    lines = (repo / "classes/main.yaml").read_text().splitlines()
    (repo / "classes/main.yaml").write_text("\n".join(lines[:-2]) + "\n")
    cycle = _node(repo, facts)
    assert cycle.returncode == 1 and "dependency cycle: exec:[sensitive " in cycle.stderr
    assert "CMDSECRET" not in dup.stderr + cycle.stderr
