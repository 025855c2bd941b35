"""`gitpuppet apply` end to end on real files: every exit code, the output lines and summary,
noop leaving a tree bit-for-bit alone (owners included), --tags, --diff, --json, progress."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner, Result

from gitpuppet.cli import cli
from gitpuppet.model import Ref, sensitive_label
from tests.integration.helpers import apply_args, make_repo, snapshot

NOBODY = 65534


def gp(repo: Path, state: Path, *args: str) -> Result:
    """`gitpuppet apply REPO` in this process, with the test facts and state dir."""
    return CliRunner().invoke(
        cli,
        apply_args(repo, state, *args),
        env={"GITPUPPET_CONFIG": "/nonexistent/config.yaml", "NO_COLOR": None},
    )


SUMMARY = re.compile(r"^t\.example\.com: (.*) in \d+\.\d\d s( \(noop\))?$", re.M)


def summary_of(result: Result) -> str:
    match = SUMMARY.search(result.stdout)
    assert match, result.output
    return match.group(1) + (match.group(2) or "")


def test_exit_0_when_converged_and_2_when_changed(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(repo, f'- file: {root}/motd\n  content: "hello\\n"\n  mode: "0644"\n')
    first = gp(repo, state)
    assert first.exit_code == 2, first.output
    assert first.stdout.splitlines()[0] == f"file:{root}/motd: ensure, content, mode changed"
    assert summary_of(first) == "1 changed, 0 unchanged"
    (root / "motd").write_text("edited by hand\n")
    second = gp(repo, state)
    assert second.exit_code == 2
    assert second.stdout.splitlines()[0] == f"file:{root}/motd: content changed"
    third = gp(repo, state)
    assert third.exit_code == 0, third.output
    assert third.stdout.splitlines() == [SUMMARY.search(third.stdout).group(0)]  # type: ignore[union-attr]
    assert summary_of(third) == "0 changed, 1 unchanged"


def test_exit_4_failures_only_with_command_output(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    (root / "ok").write_text("same")
    lines = "; ".join(f"echo out{i}" for i in range(15))
    make_repo(
        repo,
        f"""\
        - file: {root}/ok
          content: same
        - exec: noisy
          command: "{lines}; exit 3"
          shell: true
        - file: {root}/after
          content: x
          require: exec:noisy
        """,
    )
    proc = gp(repo, state)
    assert proc.exit_code == 4, proc.output
    out = proc.stdout.splitlines()
    assert out[0] == "exec:noisy: failed: command exited 3 (expected 0)"
    # The first lines of the command's output, then a pointer to the report for the rest.
    assert out[1:4] == ["    | out0", "    | out1", "    | out2"]
    assert "    | … 5 more lines in the report" in out
    assert f"file:{root}/after: skipped: dependency exec:noisy failed" in out
    assert summary_of(proc) == "0 changed, 1 failed, 1 skipped, 1 unchanged"
    assert not (root / "after").exists()


def test_exit_6_changes_and_failures(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(repo, f"- file: {root}/a\n  content: a\n- exec: /bin/false\n")
    proc = gp(repo, state)
    assert proc.exit_code == 6, proc.output
    assert summary_of(proc) == "1 changed, 1 failed, 0 unchanged"


def test_exit_1_on_a_compile_error_changes_nothing(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(repo, f"- file: {root}/a\n  content: a\n- file: {root}/b\n  mdoe: '0644'\n")
    proc = gp(repo, state)
    assert proc.exit_code == 1
    assert re.search(r"classes/main\.yaml:\d+: .*'mdoe'.*did you mean 'mode'", proc.stderr)
    assert "Traceback" not in proc.output
    assert not (root / "a").exists()
    assert not state.exists()  # no report, no state: nothing happened


def test_unknown_node_is_exit_1(env: tuple[Path, Path, Path]) -> None:
    _, repo, state = env
    make_repo(repo, "[]\n")
    proc = CliRunner().invoke(
        cli,
        ["apply", str(repo), "--node", "other.example.com", "--facts", str(repo.parent / "facts.json"),
         "--state-dir", str(state)],
        env={"GITPUPPET_CONFIG": "/nonexistent/config.yaml"},
    )  # fmt: skip
    assert proc.exit_code == 1 and "other.example.com" in proc.stderr


def test_no_path_and_no_checkout_is_exit_1(tmp_path: Path) -> None:
    (tmp_path / "facts.json").write_text('{"fqdn": "t.example.com"}')
    proc = CliRunner().invoke(
        cli,
        ["apply", "--facts", str(tmp_path / "facts.json"), "--state-dir", str(tmp_path / "s")],
        env={"GITPUPPET_CONFIG": "/nonexistent/config.yaml"},
    )
    assert proc.exit_code == 1
    assert "no PATH given and no agent checkout yet" in proc.stderr
    assert "gitpuppet bootstrap" in proc.stderr


def test_repo_option_is_the_same_as_path(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(repo, f"- file: {root}/a\n  content: a\n")
    proc = CliRunner().invoke(
        cli,
        ["apply", "--repo", str(repo), "--node", "t.example.com", "--facts",
         str(repo.parent / "facts.json"), "--state-dir", str(state)],
        env={"GITPUPPET_CONFIG": "/nonexistent/config.yaml"},
    )  # fmt: skip
    assert proc.exit_code == 2, proc.output
    assert (root / "a").read_text() == "a"


def _noop_tree(root: Path) -> None:
    (root / "etc").mkdir()
    (root / "etc/motd").write_text("old motd\n")
    os.chmod(root / "etc/motd", 0o600)
    os.chown(root / "etc/motd", NOBODY, NOBODY)
    (root / "etc/sshd_config").write_text("Port 22\nPermitRootLogin yes\n")
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n")
    (root / "etc/gone").write_text("to be removed\n")
    os.symlink("/somewhere/else", root / "etc/link")
    (root / "var").mkdir(mode=0o700)


def test_noop_leaves_the_tree_bit_for_bit_untouched(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    _noop_tree(root)
    make_repo(
        repo,
        f"""\
        - file: {root}/etc/motd
          content: "new motd\\n"
          mode: "0644"
          owner: root
          group: root
          notify: exec:reload
        - file: {root}/etc/new
          content: new
        - file: {root}/etc/gone
          ensure: absent
        - file: {root}/etc/link
          ensure: link
          target: {root}/etc/motd
        - file: {root}/var
          ensure: directory
          mode: "0755"
        - file: {root}/var/sub
          ensure: directory
        - line: "PermitRootLogin no"
          path: {root}/etc/sshd_config
          match: "^PermitRootLogin"
        - host: db.internal
          ip: 10.0.0.5
          target: {root}/etc/hosts
        - exec: touch {root}/ran
          creates: {root}/ran
        - exec: reload
          command: touch {root}/reloaded
          refreshonly: true
        """,
    )
    before = snapshot(root)
    proc = gp(repo, state, "--noop", "--diff")
    assert proc.exit_code == 2, proc.output
    assert snapshot(root) == before
    out = proc.stdout
    assert (
        f"file:{root}/etc/motd: would change content, mode, owner, group (mode 0600 -> 0644, "
        "owner nobody -> root, group nogroup -> root; would refresh exec:reload)" in out
    )
    assert "+new motd" in out and "-old motd" in out  # the diff of what would be written
    assert f"file:{root}/etc/gone: would change ensure" in out
    assert "exec:touch" in out and "would change executed" in out
    assert summary_of(proc) == "9 would change, 1 unchanged (noop)"
    # Nothing about the run is remembered as applied, and no refresh became pending.
    saved = json.loads((state / "state.json").read_text())
    assert saved["pending_refreshes"] == [] and saved["last_good_commit"] is None


def test_noop_with_nothing_to_do_is_exit_0(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    (root / "a").write_text("a")
    make_repo(repo, f"- file: {root}/a\n  content: a\n")
    proc = gp(repo, state, "--noop")
    assert proc.exit_code == 0
    assert summary_of(proc) == "0 would change, 1 unchanged (noop)"


def test_pending_refresh_survives_a_failed_run_and_is_delivered_once(
    env: tuple[Path, Path, Path],
) -> None:
    root, repo, state = env
    make_repo(
        repo,
        f"""\
        - file: {root}/conf
          content: v1
          notify: exec:reload
        - exec: test -e {root}/ready
          unless: test -e {root}/ready
        - exec: reload
          command: "echo reload >> {root}/reloads"
          shell: true
          refreshonly: true
          require: "exec:test -e {root}/ready"
        """,
    )
    first = gp(repo, state)
    assert first.exit_code == 6, first.output
    assert "exec:reload: skipped: dependency exec:test" in first.stdout
    assert json.loads((state / "state.json").read_text())["pending_refreshes"] == ["exec:reload"]
    assert not (root / "reloads").exists()
    (root / "ready").write_text("")
    second = gp(repo, state)  # conf is unchanged now, the refresh is still delivered
    assert second.exit_code == 2, second.output
    assert "exec:reload: ran on refresh (left over from an earlier run)" in second.stdout
    assert summary_of(second) == "1 changed, 1 refreshed, 2 unchanged"
    assert (root / "reloads").read_text() == "reload\n"
    third = gp(repo, state)
    assert third.exit_code == 0 and (root / "reloads").read_text() == "reload\n"
    assert json.loads((state / "state.json").read_text())["pending_refreshes"] == []


def test_tags_by_class_type_and_tag(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(
        repo,
        f"- file: {root}/main\n  content: m\n",
        {
            "nodes.yaml": "t.example.com:\n  classes: [main, web]\n",
            "classes/web.yaml": f"resources:\n  - file: {root}/web\n    content: w\n"
            f"  - host: web.internal\n    ip: 10.0.0.1\n    target: {root}/hosts\n"
            f"    tags: [dns]\n",
        },
    )
    proc = gp(repo, state, "--tags", "dns")
    assert proc.exit_code == 2 and sorted(p.name for p in root.iterdir()) == ["hosts"]
    assert summary_of(proc) == "1 changed, 0 unchanged"  # the others are not considered at all
    proc = gp(repo, state, "--tags", "web,nothing")
    assert sorted(p.name for p in root.iterdir()) == ["hosts", "web"]
    assert summary_of(proc) == "1 changed, 1 unchanged"
    gp(repo, state, "--tags", "file")
    assert sorted(p.name for p in root.iterdir()) == ["hosts", "main", "web"]


def test_sensitive_content_is_never_printed(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    (root / "secret").write_text("old-secret\n")
    make_repo(
        repo,
        f"""\
        - file: {root}/secret
          content: "hunter2\\n"
          sensitive: true
        - exec: leak
          command: "echo hunter2; exit 1"
          shell: true
          sensitive: true
        """,
    )
    proc = gp(repo, state, "--diff", "-v")
    assert proc.exit_code == 6
    assert "hunter2" not in proc.output and "old-secret" not in proc.output
    # The title may be the secret too: a sensitive resource is named by its label.
    label = sensitive_label(Ref("file", f"{root}/secret"))
    assert f"{label}: content changed" in proc.stdout and str(root) not in proc.output


def test_json_prints_the_report(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(repo, f"- file: {root}/a\n  content: a\n")
    proc = gp(repo, state, "--json")
    assert proc.exit_code == 2
    report = json.loads(proc.stdout)
    assert report["node"] == "t.example.com" and report["exit_code"] == 2
    assert [r["status"] for r in report["resources"]] == ["changed"]


def test_quiet_prints_failures_only(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(repo, f"- file: {root}/a\n  content: a\n- exec: /bin/false\n")
    proc = gp(repo, state, "-q")
    assert proc.exit_code == 6
    assert proc.stdout.splitlines()[0] == "exec:/bin/false: failed: command exited 1 (expected 0)"
    assert f"file:{root}/a" not in proc.stdout


def test_plain_lines_without_a_terminal(env: tuple[Path, Path, Path]) -> None:
    """What journald gets under systemd: no colour codes, no progress, no timestamps."""
    root, repo, state = env
    make_repo(repo, f"- file: {root}/a\n  content: a\n- exec: /bin/false\n")
    proc = subprocess.run(
        [sys.executable, "-m", "gitpuppet.cli", "apply", str(repo), "--node", "t.example.com",
         "--facts", str(repo.parent / "facts.json"), "--state-dir", str(state)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "GITPUPPET_CONFIG": "/nonexistent"},
    )  # fmt: skip
    assert proc.returncode == 6
    assert "\x1b[" not in proc.stdout + proc.stderr and "\r" not in proc.stderr
    assert proc.stdout.splitlines()[0] == f"file:{root}/a: ensure, content changed"
    # Only the matched declaration (issue 9 item 6: apply says it first, on stderr).
    assert proc.stderr == "node t.example.com: matched exact 't.example.com' at nodes.yaml:1\n"


def test_progress_line_on_a_terminal_for_a_long_run(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(
        repo,
        f"- exec: sleep 3\n- file: {root}/a\n  content: a\n  require: exec:sleep 3\n",
    )
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitpuppet.cli", "apply", str(repo), "--node", "t.example.com",
         "--facts", str(repo.parent / "facts.json"), "--state-dir", str(state)],
        stdout=subprocess.PIPE, stderr=slave, text=True,
        env={**os.environ, "GITPUPPET_CONFIG": "/nonexistent"},
    )  # fmt: skip
    os.close(slave)
    stdout, _ = proc.communicate(timeout=60)
    err = b""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and select.select([master], [], [], 0.2)[0]:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    assert proc.returncode == 2
    # A slow resource shows how long it has been running; the next one replaces the line.
    assert b"\r\x1b[K[1/2] exec:sleep 3 (2 s)" in err, err
    assert re.search(rb"\r\x1b\[K\[2/2\] \S*/root/a\r", err), err
    assert err.endswith(b"\r\x1b[K")  # cleared before the summary
    assert "\x1b[" not in stdout  # stdout is a pipe: no colour there


def test_refresh_due_when_the_run_is_killed_happens_next_run(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(
        repo,
        f"""\
        - file: {root}/conf
          content: v1
          notify: exec:reload
        - exec: sleep 60
          unless: test -e {root}/go
          require: file:{root}/conf
        - exec: reload
          command: "echo reload >> {root}/reloads"
          shell: true
          refreshonly: true
          require: exec:sleep 60
        """,
    )
    argv = [sys.executable, "-m", "gitpuppet.cli", "apply", str(repo), "--node", "t.example.com",
            "--facts", str(repo.parent / "facts.json"), "--state-dir", str(state)]  # fmt: skip
    env_ = {**os.environ, "GITPUPPET_CONFIG": "/nonexistent"}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_)
    children: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while not children and time.monotonic() < deadline:
            time.sleep(0.05)
            try:
                children = [
                    int(c)
                    for task in Path(f"/proc/{proc.pid}/task").iterdir()
                    for c in (task / "children").read_text().split()
                ]
            except OSError:  # a thread ended while we looked
                continue
            # The unless guard runs first; wait for the sleep itself.
            children = [c for c in children if "sleep 60" in _cmdline(c)]
        assert children, "the run never reached `sleep 60`"
        assert (root / "conf").read_text() == "v1"
    finally:
        proc.kill()  # SIGKILL: no cleanup of any kind in the run
        proc.communicate(timeout=30)
        for child in children:
            try:
                os.kill(child, 9)
            except ProcessLookupError:
                pass
    saved = json.loads((state / "state.json").read_text())
    assert saved["pending_refreshes"] == ["exec:reload"]
    assert not (state / "reports").exists() or not list((state / "reports").iterdir())
    (root / "go").write_text("")
    second = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env_)
    assert second.returncode == 2, second.stdout + second.stderr
    assert "exec:reload: ran on refresh (left over from an earlier run)" in second.stdout
    assert (root / "reloads").read_text() == "reload\n"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
