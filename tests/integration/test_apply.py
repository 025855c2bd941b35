"""`gitpuppet apply` on real files under a temporary directory: converge, noop, refresh,
failures and skips, exit codes, reports, backups."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.helpers import apply, make_repo, snapshot


def test_converge_then_rerun_is_clean(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(
        repo,
        f"""\
        - file: {root}/etc
          ensure: directory
          mode: "0750"
        - file: {root}/etc/app.conf
          template: app.conf.j2
          mode: "0640"
        - file: {root}/etc/link
          ensure: link
          target: {root}/etc/app.conf
        - line: "PermitRootLogin no"
          path: {root}/etc/sshd_config
          match: "^#?PermitRootLogin"
        - host: db.internal
          ip: 10.1.2.3
          aliases: [db]
          target: {root}/etc/hosts
        - exec: touch {root}/created
          creates: {root}/created
        """,
        {
            "templates/app.conf.j2": "node={{ node.name }} family={{ facts.os.family }}\n",
        },
    )
    (root / "etc").mkdir()
    (root / "etc/sshd_config").write_text("Port 22\n#PermitRootLogin yes\nX11Forwarding no\n")
    (root / "etc/hosts").write_text("# keep me\n127.0.0.1\tlocalhost\n")
    first = apply(repo, state)
    assert first.returncode == 2, first.stdout + first.stderr
    assert f"file:{root}/etc/app.conf: ensure, content, mode changed" in first.stdout
    assert stat.S_IMODE(os.stat(root / "etc").st_mode) == 0o750
    assert (root / "etc/app.conf").read_text() == "node=t.example.com family=Debian\n"
    assert stat.S_IMODE(os.stat(root / "etc/app.conf").st_mode) == 0o640
    assert os.readlink(root / "etc/link") == f"{root}/etc/app.conf"
    assert (
        root / "etc/sshd_config"
    ).read_text() == "Port 22\nPermitRootLogin no\nX11Forwarding no\n"
    assert (
        root / "etc/hosts"
    ).read_text() == "# keep me\n127.0.0.1\tlocalhost\n10.1.2.3\tdb.internal\tdb\n"
    assert (root / "created").exists()
    second = apply(repo, state)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "6 unchanged" in second.stdout


def test_noop_leaves_the_tree_untouched(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    (root / "keep").write_text("old\n")
    os.chmod(root / "keep", 0o600)
    make_repo(
        repo,
        f"""\
        - file: {root}/keep
          content: "new\\n"
          mode: "0644"
        - file: {root}/newdir
          ensure: directory
        - file: {root}/gone
          ensure: absent
        - exec: touch {root}/ran
        """,
    )
    (root / "gone").write_text("x")
    before = snapshot(root)
    proc = apply(repo, state, "--noop", "--diff")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert snapshot(root) == before
    assert "-old" in proc.stdout and "+new" in proc.stdout
    assert "would change" in proc.stdout and "(noop)" in proc.stdout


def test_failure_skips_dependents_and_others_run(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(
        repo,
        f"""\
        - exec: /bin/false
        - file: {root}/after-false
          content: x
          require: exec:/bin/false
        - file: {root}/after-after
          content: y
          require: file:{root}/after-false
        - file: {root}/independent
          content: z
        """,
    )
    proc = apply(repo, state)
    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert "exec:/bin/false: failed: command exited 1" in proc.stdout
    assert f"file:{root}/after-false: skipped: dependency exec:/bin/false failed" in proc.stdout
    assert (
        f"file:{root}/after-after: skipped: dependency file:{root}/after-false was skipped"
        in proc.stdout
    )
    assert (root / "independent").read_text() == "z"
    assert not (root / "after-false").exists()


def test_refresh_once_and_pending_refresh_survives_a_failed_run(
    env: tuple[Path, Path, Path],
) -> None:
    root, repo, state = env
    make_repo(
        repo,
        f"""\
        - file: {root}/conf
          content: "v1"
          notify: exec:reload
        - file: {root}/conf2
          content: "v1"
          notify: exec:reload
        - exec: reload
          command: "test -f {root}/ok && echo run >> {root}/runs"
          shell: true
          refreshonly: true
        """,
    )
    first = apply(repo, state)
    assert first.returncode == 6, first.stdout + first.stderr  # changed files, failed refresh
    assert "exec:reload: failed: refresh failed" in first.stdout
    assert json.loads((state / "state.json").read_text())["pending_refreshes"] == ["exec:reload"]
    (root / "ok").write_text("")
    second = apply(repo, state)
    assert second.returncode == 2, second.stdout + second.stderr
    assert "left over from an earlier run" in second.stdout
    assert (root / "runs").read_text() == "run\n"
    third = apply(repo, state)
    assert third.returncode == 0
    assert (root / "runs").read_text() == "run\n"


def test_refresh_delivered_once_for_several_sources(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(
        repo,
        f"""\
        - file: {root}/a
          content: a
          notify: exec:count
        - file: {root}/b
          content: b
          notify: exec:count
        - exec: count
          command: "echo x >> {root}/count"
          shell: true
          refreshonly: true
        """,
    )
    proc = apply(repo, state)
    assert proc.returncode == 2
    assert (root / "count").read_text() == "x\n"


def test_real_owner_and_missing_owner(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    user = f"gptest{os.getpid() % 100000}"
    subprocess.run(["useradd", "--system", "--no-create-home", user], check=True)
    try:
        make_repo(
            repo,
            f"""\
            - file: {root}/owned
              content: x
              owner: {user}
              group: {user}
            - file: {root}/bad-owner
              content: y
              owner: nosuchuser-gitpuppet
            """,
        )
        proc = apply(repo, state)
        assert proc.returncode == 6, proc.stdout + proc.stderr
        import pwd

        assert os.stat(root / "owned").st_uid == pwd.getpwnam(user).pw_uid
        assert "owner 'nosuchuser-gitpuppet' does not exist" in proc.stdout
    finally:
        subprocess.run(["userdel", user], check=False)


@pytest.mark.parametrize(
    "resources,message",
    [
        (
            "- file: /tmp/gp-never\n  content: x\n  mode: 644\n",
            "classes/main.yaml:6: file attribute 'mode' must be a quoted",
        ),
        ("- file: /tmp/gp-never\n  source: missing.txt\n", "source file 'missing.txt' not found"),
        ("- file: /tmp/gp-never\n  source: ../../etc/passwd\n", "leaves files/"),
        ("- file: /tmp/gp-never\n  template: ../x.j2\n", "leaves templates/"),
        (
            "- file: /tmp/gp-never\n  content: x\n  require: file:/nope\n",
            "file:/nope is not declared",
        ),
    ],
    ids=["mode-not-quoted", "missing-source", "source-escape", "template-escape", "bad-reference"],
)
def test_compile_errors_change_nothing(
    env: tuple[Path, Path, Path], resources: str, message: str
) -> None:
    root, repo, state = env
    make_repo(repo, f"- file: {root}/first\n  content: x\n" + resources)
    proc = apply(repo, state)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (root / "first").exists()
    assert not Path("/tmp/gp-never").exists()


def test_validate_rejects_and_keeps_old_content(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    (root / "conf").write_text("good\n")
    make_repo(
        repo,
        f"""\
        - file: {root}/conf
          content: "bad\\n"
          validate: "grep -q good %"
        """,
    )
    proc = apply(repo, state)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "validate command rejected" in proc.stdout
    assert (root / "conf").read_text() == "good\n"
    assert not [p for p in root.iterdir() if p.name.startswith(".conf.gitpuppet")]


def test_exec_timeout_is_killed_and_reported(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(
        repo,
        """\
        - exec: "echo started; sleep 30"
          shell: true
          timeout: 1
        """,
    )
    proc = apply(repo, state)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "timed out after 1 s and was killed" in proc.stdout
    report = json.loads(sorted((state / "reports").glob("*.json"))[-1].read_text())
    assert report["resources"][0]["status"] == "failed"
    assert "started" in report["resources"][0]["output"]


def test_recurse_and_purge(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    target = root / "site"
    target.mkdir()
    (target / "stale.html").write_text("old")
    (target / "index.html").write_text("old index")
    make_repo(
        repo,
        f"""\
        - file: {target}
          ensure: directory
          source: site
          recurse: true
          purge: true
        """,
        {"files/site/index.html": "<h1>hi</h1>\n", "files/site/css/main.css": "body{}\n"},
    )
    proc = apply(repo, state)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == [
        "css",
        "css/main.css",
        "index.html",
    ]
    assert (target / "index.html").read_text() == "<h1>hi</h1>\n"
    assert apply(repo, state).returncode == 0


def test_backup_and_restore(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    (root / "motd").write_text("hand-written\n")
    make_repo(repo, f"- file: {root}/motd\n  content: managed\n")
    assert apply(repo, state).returncode == 2
    run = [sys.executable, "-m", "gitpuppet.cli", "backup"]
    listing = subprocess.run(
        [*run, "list", str(root / "motd"), "--state-dir", str(state), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    versions = json.loads(listing.stdout)
    assert len(versions) == 1 and versions[0]["size"] == len("hand-written\n")
    subprocess.run(
        [*run, "restore", str(root / "motd"), "--state-dir", str(state)],
        check=True,
        capture_output=True,
    )
    assert (root / "motd").read_text() == "hand-written\n"


def test_report_and_summary(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(
        repo,
        f"""\
        - file: {root}/secret
          content: hunter2
          sensitive: true
        - file: {root}/plain
          content: hello
          tags: [web]
        """,
    )
    proc = apply(repo, state, "--diff")
    assert proc.returncode == 2
    assert "hunter2" not in proc.stdout
    summary = state / "last_run_summary.json"
    assert stat.S_IMODE(os.stat(summary).st_mode) == 0o644
    data = json.loads(summary.read_text())
    assert (
        data["counts"]["changed"] == 2
        and data["exit_code"] == 2
        and data["node"] == "t.example.com"
    )
    report = json.loads(sorted((state / "reports").glob("*.json"))[-1].read_text())
    assert {
        "node",
        "environment",
        "commit",
        "start",
        "duration",
        "exit_code",
        "noop",
        "resources",
    } <= set(report)
    secret = report["resources"][0]
    # The title of a sensitive resource may be the secret: the report names it by its label.
    assert (
        secret["ref"].startswith("file:[sensitive ") and secret["source"] == "classes/main.yaml:2"
    )
    assert f"{root}/secret" not in json.dumps(report)
    assert all(c["redacted"] for c in secret["changes"] if c["attribute"] == "content")
    assert "hunter2" not in json.dumps(report)
