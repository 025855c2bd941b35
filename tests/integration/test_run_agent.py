"""`gitpuppet run` against a real bare git repo over file://: converge, update, fallbacks, skips."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(cwd: Path, *args: str) -> str:
    """The git CLI, to build fixtures only (the product never shells out to git)."""
    return subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, text=True
    ).stdout.strip()


class Setup:
    """A bare repo, a work clone that pushes to it, a config and a target folder."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.bare = tmp / "control.git"
        self.work = tmp / "work"
        self.target = tmp / "target"
        self.state = tmp / "state"
        self.config = tmp / "config.yaml"
        self.target.mkdir()
        subprocess.run(
            ["git", "init", "-q", "--bare", "-b", "production", str(self.bare)], check=True
        )
        subprocess.run(["git", "init", "-q", "-b", "production", str(self.work)], check=True)
        git(self.work, "remote", "add", "origin", str(self.bare))
        (tmp / "facts.d").mkdir()
        self.write_config()

    def write_config(self, **extra: str) -> None:
        lines = {
            "repo": f"file://{self.bare}",
            "branch": "production",
            "node_name": "t.example.com",
            "state_dir": str(self.state),
            "run_dir": str(self.tmp / "run"),
            "facts_d": str(self.tmp / "facts.d"),
            "splay": "0s",
            **extra,
        }
        self.config.write_text("".join(f"{k}: {v}\n" for k, v in lines.items()))

    def push(self, content: str, classes: str | None = None) -> str:
        (self.work / "nodes.yaml").write_text("t.example.com:\n  classes: [main]\n")
        (self.work / "classes").mkdir(exist_ok=True)
        (self.work / "classes/main.yaml").write_text(
            classes or f'resources:\n  - file: {self.target}/motd\n    content: "{content}\\n"\n'
        )
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", f"motd {content}")
        git(self.work, "push", "-q", "origin", "production")
        return git(self.work, "rev-parse", "HEAD")

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gitpuppet.cli", *args, "--config", str(self.config)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    def motd(self) -> str:
        return (self.target / "motd").read_text()


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def test_converges_then_applies_a_pushed_change(setup: Setup) -> None:
    first = setup.push("one")
    r = setup.run("run", "--now")
    assert r.returncode == 2, r.stderr
    assert setup.motd() == "one\n"
    again = setup.run("run", "--now")
    assert again.returncode == 0, again.stderr
    second = setup.push("two")
    assert setup.run("run", "--now").returncode == 2
    assert setup.motd() == "two\n"
    state = (setup.state / "state.json").read_text()
    assert second in state and first not in state


def test_server_gone_applies_last_good_exit_4(setup: Setup) -> None:
    setup.push("one")
    assert setup.run("run", "--now").returncode == 2
    shutil.rmtree(setup.bare)
    (setup.target / "motd").write_text("drifted\n")
    r = setup.run("run", "--now")
    assert r.returncode == 6, r.stderr
    assert "pull failed" in r.stderr
    assert setup.motd() == "one\n"


def test_deleted_and_corrupted_clone_is_recloned(setup: Setup) -> None:
    setup.push("one")
    assert setup.run("run", "--now").returncode == 2
    shutil.rmtree(setup.state / "repo.git")
    setup.push("two")
    assert setup.run("run", "--now").returncode == 2
    assert setup.motd() == "two\n"
    for obj in (setup.state / "repo.git" / "objects").rglob("*"):
        if obj.is_file():
            obj.write_bytes(b"garbage")
    setup.push("three")
    r = setup.run("run", "--now")
    assert r.returncode == 2, r.stderr
    assert setup.motd() == "three\n"


def test_compile_error_falls_back_or_exits_1(setup: Setup) -> None:
    setup.push("x", classes="resources:\n  - file: /tmp/x\n    mdoe: '0644'\n")
    r = setup.run("run", "--now")
    assert r.returncode == 1, r.stderr
    assert "mdoe" in r.stderr
    setup.push("good")
    assert setup.run("run", "--now").returncode == 2
    setup.push("x", classes="resources:\n  - file: /tmp/x\n    mdoe: '0644'\n")
    (setup.target / "motd").write_text("drifted\n")
    r = setup.run("run", "--now")
    assert r.returncode == 6, r.stderr
    assert "does not compile" in r.stderr
    assert setup.motd() == "good\n"


def test_disabled_run_exits_3_with_reason(setup: Setup) -> None:
    setup.push("one")
    assert setup.run("disable", "kernel", "upgrade").returncode == 0
    r = setup.run("run", "--now")
    assert r.returncode == 3
    assert "kernel upgrade" in r.stderr
    assert not (setup.target / "motd").exists()
    assert setup.run("enable").returncode == 0
    assert setup.run("run", "--now").returncode == 2


def test_held_lock_exits_3(setup: Setup) -> None:
    setup.push("one")
    lock = setup.tmp / "run" / "run.lock"
    lock.parent.mkdir()
    with open(lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write("4242\n")
        fh.flush()
        r = setup.run("run", "--now")
    assert r.returncode == 3
    assert "another run is in progress (pid 4242)" in r.stderr


def test_bad_config_key_exits_1_naming_it(setup: Setup) -> None:
    setup.write_config(intreval="5m")
    r = setup.run("run", "--now")
    assert r.returncode == 1
    assert "intreval" in r.stderr and "interval" in r.stderr


def test_pull_prints_the_commit(setup: Setup) -> None:
    commit = setup.push("one")
    r = setup.run("pull")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(commit)
    assert not (setup.target / "motd").exists()


def test_status_shows_last_run_and_disabled(setup: Setup) -> None:
    import json

    commit = setup.push("one")
    assert setup.run("run", "--now").returncode == 2
    setup.run("disable", "maintenance")
    r = setup.run("status", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["applied_commit"] == commit
    assert data["counts"]["changed"] == 1
    assert abs(data["last_success_time"] - data["last_run_time"]) < 5  # run start, apply start
    assert data["disabled"] and "maintenance" in data["disabled_reason"]
    # A next run is shown only when a timer, cron job or agent loop will start it (issue 9).
    scheduled = Path("/run/systemd/system").exists() or Path("/etc/cron.d/gitpuppet").exists()
    if not scheduled:
        assert data["next_run"] is None and data["next_run_source"] is None


def test_agent_loop_runs_twice_and_stops_on_sigterm(setup: Setup) -> None:
    import signal
    import time

    setup.push("one")
    setup.write_config(interval="1s")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitpuppet.cli", "agent", "--config", str(setup.config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if len(list((setup.state / "reports").glob("*.json"))) >= 2:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert err.count("run finished with exit code") >= 2
    assert "SIGTERM" in err
    assert setup.motd() == "one\n"


def test_bootstrap_writes_config_clones_and_runs(setup: Setup) -> None:
    import stat

    setup.push("one")
    cfg = setup.tmp / "etc" / "config.yaml"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "gitpuppet.cli",
            "bootstrap",
            f"file://{setup.bare}",
            "--node-name",
            "t.example.com",
            "--no-schedule",
            "--splay",
            "0s",
            "--state-dir",
            str(setup.state),
            "--run-dir",  # its own lock, not the machine's: other tests run at the same time
            str(setup.tmp / "run"),
            "--config",
            str(cfg),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GITPUPPET_CONFIG": str(cfg)},
    )
    assert r.returncode == 2, r.stderr
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    assert f"run_dir: {setup.tmp / 'run'}" in cfg.read_text()
    assert (setup.tmp / "run" / "run.lock").exists()  # the lock it took is its own
    assert setup.motd() == "one\n"
    assert (setup.state / "repo.git" / "HEAD").exists()


def test_units_and_cron_are_rendered() -> None:
    from gitpuppet.agent.bootstrap import cron_text, render_units

    units = render_units("/opt/gp/bin/gitpuppet", 1800, 600)
    assert "ExecStart=/opt/gp/bin/gitpuppet run" in units["gitpuppet.service"]
    assert "OnUnitInactiveSec=1800s" in units["gitpuppet.timer"]
    assert "RandomizedDelaySec=600s" in units["gitpuppet.timer"]
    assert not any("@" + "GITPUPPET@" in t for t in units.values())
    assert "*/30 * * * * root /x run" in cron_text("/x", 1800, Path("/etc/g.yaml"))


def test_units_carry_a_non_default_config() -> None:
    """bootstrap --config PATH: the timer's service and the agent read that config."""
    from gitpuppet.agent.bootstrap import cron_text, render_units, systemd_word

    units = render_units("/opt/gp/bin/gitpuppet", 1800, 600, Path("/srv/gp/config.yaml"))
    assert (
        "\nExecStart=/opt/gp/bin/gitpuppet run --now --config /srv/gp/config.yaml\n"
        in (units["gitpuppet.service"])
    )
    assert (
        "\nExecStart=/opt/gp/bin/gitpuppet agent --config /srv/gp/config.yaml\n"
        in (units["gitpuppet-agent.service"])
    )
    default = render_units("/opt/gp/bin/gitpuppet", 1800, 600, Path("/etc/gitpuppet/config.yaml"))
    assert "\nExecStart=/opt/gp/bin/gitpuppet run --now\n" in default["gitpuppet.service"]
    odd = render_units("/opt/gp/bin/gitpuppet", 1800, 600, Path('/srv/my gp/50%$x"y.yaml'))
    assert 'run --now --config "/srv/my gp/50%%$$x\\"y.yaml"\n' in odd["gitpuppet.service"]
    assert systemd_word("/a/b") == "/a/b"
    cron = cron_text("/x", 1800, Path("/srv/my gp/50%.yaml"))
    assert "root /x run --quiet --config '/srv/my gp/50\\%.yaml'\n" in cron


def _keypair(tmp: Path, name: str) -> Path:
    key = tmp / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key


def _signed_push(setup: Setup, content: str, key: Path) -> str:
    (setup.work / "nodes.yaml").write_text("t.example.com:\n  classes: [main]\n")
    (setup.work / "classes").mkdir(exist_ok=True)
    (setup.work / "classes/main.yaml").write_text(
        f'resources:\n  - file: {setup.target}/motd\n    content: "{content}\\n"\n'
    )
    git(setup.work, "add", "-A")
    git(
        setup.work,
        "-c",
        "gpg.format=ssh",
        "-c",
        f"user.signingkey={key}",
        "commit",
        "-q",
        "-S",
        "-m",
        content,
    )
    git(setup.work, "push", "-q", "origin", "production")
    return git(setup.work, "rev-parse", "HEAD")


def test_verify_refuses_unsigned_and_foreign_signatures(setup: Setup) -> None:
    good = _keypair(setup.tmp, "good")
    other = _keypair(setup.tmp, "other")
    signers = setup.tmp / "allowed_signers"
    signers.write_text(f"t@example.com {Path(f'{good}.pub').read_text()}")
    setup.config.write_text(setup.config.read_text() + f"verify:\n  allowed_signers: {signers}\n")
    signed = _signed_push(setup, "signed", good)
    r = setup.run("run", "--now")
    assert r.returncode == 2, r.stderr
    assert setup.motd() == "signed\n"
    unsigned = setup.push("unsigned")
    r = setup.run("run", "--now")
    assert r.returncode == 4, r.stderr
    assert f"commit {unsigned[:7]} is not signed; not applied" in r.stderr
    assert setup.motd() == "signed\n"
    foreign = _signed_push(setup, "foreign", other)
    r = setup.run("run", "--now")
    assert r.returncode == 4, r.stderr
    assert f"commit {foreign[:7]}" in r.stderr and "; not applied" in r.stderr
    assert setup.motd() == "signed\n"
    assert signed in (setup.state / "state.json").read_text()


def test_apply_without_path_uses_the_applied_commit(setup: Setup) -> None:
    r = setup.run("apply", "--noop", "--state-dir", str(setup.tmp / "s2"))
    assert r.returncode == 1
    assert "gitpuppet run" in r.stderr
    setup.push("one")
    assert setup.run("run", "--now").returncode == 2
    (setup.target / "motd").write_text("drifted\n")
    r = setup.run("apply", "--noop", "--state-dir", str(setup.tmp / "s2"))
    assert r.returncode == 2, r.stderr
    assert "motd" in r.stdout


def test_last_good_commit_stays_applicable_after_compaction(setup: Setup) -> None:
    """The clone drops history it does not keep, never the last good commit it falls back to."""
    import pygit2

    early = []
    for i in range(4):
        (setup.work / "blob.txt").write_text(os.urandom(30000).hex())
        early.append(setup.push(f"early {i}"))
    assert setup.run("run", "--now").returncode == 2
    good = setup.push("good")
    assert setup.run("run", "--now").returncode == 2
    bad = "resources:\n  - file: /tmp/x\n    mdoe: '0644'\n"
    for i in range(3):
        (setup.work / "blob.txt").write_text(os.urandom(30000).hex())
        setup.push(f"bad {i}", classes=bad)
        (setup.target / "motd").write_text("drifted\n")
        r = setup.run("run", "--now")
        assert r.returncode == 6, r.stderr
        assert "does not compile" in r.stderr and setup.motd() == "good\n"
    repo = pygit2.Repository(str(setup.state / "repo.git"))
    assert good in repo and not any(c in repo for c in early)
    fixed = setup.push("fixed")
    assert setup.run("run", "--now").returncode == 2
    assert setup.motd() == "fixed\n" and fixed in (setup.state / "state.json").read_text()
