"""`gitpuppet apply` honours `disable` and the run lock exactly as `run` does (issue 8 item 10).

Before, `apply` converged a disabled machine and ran beside a `run` holding the lock. Each test
takes its own lock file (its run dir), never the machine's /run/gitpuppet.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gitpuppet.agent.disable import disable
from tests.integration.helpers import apply_args, make_repo
from tests.integration.test_run_agent import Setup


def gitpuppet(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "GITPUPPET_RUN_DIR"}
    return subprocess.run(
        [sys.executable, "-m", "gitpuppet.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **env},
    )


@contextmanager
def held(lock: Path) -> Iterator[None]:
    """Hold `lock` as a run in progress (pid 4242) would."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write("4242\n")
        fh.flush()
        yield


def test_apply_path_on_a_disabled_state_dir_exits_3(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", f"- file: {tmp_path}/motd\n  content: hi\n")
    state = tmp_path / "state"
    disable(state, "kernel upgrade")
    env = {"GITPUPPET_CONFIG": "/nonexistent", "GITPUPPET_RUN_DIR": str(tmp_path / "run")}
    r = gitpuppet(apply_args(repo, state), env)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "kernel upgrade" in r.stderr and "gitpuppet enable" in r.stderr
    assert not (tmp_path / "motd").exists()


def test_apply_path_while_a_run_holds_the_lock_exits_3(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", f"- file: {tmp_path}/motd\n  content: hi\n")
    env = {"GITPUPPET_CONFIG": "/nonexistent", "GITPUPPET_RUN_DIR": str(tmp_path / "run")}
    with held(tmp_path / "run" / "run.lock"):
        r = gitpuppet(apply_args(repo, tmp_path / "state"), env)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "another run is in progress (pid 4242)" in r.stderr
    assert not (tmp_path / "motd").exists()
    r = gitpuppet(apply_args(repo, tmp_path / "state", "--run-dir", str(tmp_path / "r2")), env)
    assert r.returncode == 2, r.stdout + r.stderr  # the lock is free: it converges


def test_apply_on_the_agent_checkout_honours_disable_and_the_lock(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    setup.push("one")
    env = {"GITPUPPET_CONFIG": str(setup.config)}
    assert gitpuppet(["run", "--now"], env).returncode == 2
    (setup.target / "motd").write_text("drifted\n")
    assert gitpuppet(["disable", "maintenance", "window"], env).returncode == 0
    r = gitpuppet(["apply"], env)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "maintenance window" in r.stderr
    repo = make_repo(tmp_path / "dir", f"- file: {setup.target}/motd\n  content: x\n")
    other = apply_args(repo, tmp_path / "elsewhere")  # a directory and another state dir
    r = gitpuppet(other, env)
    assert r.returncode == 3 and "maintenance window" in r.stderr, r.stdout + r.stderr
    assert setup.motd() == "drifted\n"
    assert gitpuppet(["enable"], env).returncode == 0
    with held(tmp_path / "run" / "run.lock"):  # the config's run_dir
        r = gitpuppet(["apply"], env)
        assert r.returncode == 3 and "another run is in progress" in r.stderr, r.stderr
        assert gitpuppet(other, env).returncode == 3
    assert setup.motd() == "drifted\n"
    r = gitpuppet(["apply"], env)
    assert r.returncode == 2, r.stdout + r.stderr
    assert setup.motd() == "one\n"
