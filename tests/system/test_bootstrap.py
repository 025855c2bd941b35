"""`gitpuppet bootstrap` in a booted systemd container: config, clone, timer, first run; then the
service (started as the timer would) brings a pushed change. The server is a git daemon on the
host's 127.0.0.1 (the container shares the host network)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .container import Container, gitpuppet_executable

pytestmark = pytest.mark.system

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A bare repo served by git daemon on 127.0.0.1, and a work clone that pushes to it."""
    bare, work = tmp_path / "control.git", tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "production", str(bare)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "production", str(work)], check=True)
    git(work, "remote", "add", "origin", str(bare))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--export-all",
            f"--base-path={tmp_path}",
            "--listen=127.0.0.1",
            f"--port={port}",
            str(tmp_path),
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield port, work
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def push(
    work: Path, content: str, node: str = "box.example.com", path: str = "/root/hello"
) -> None:
    (work / "nodes.yaml").write_text(f"{node}:\n  classes: [main]\n")
    (work / "classes").mkdir(exist_ok=True)
    (work / "classes/main.yaml").write_text(
        f'resources:\n  - file: {path}\n    content: "{content}\\n"\n'
    )
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", content)
    git(work, "push", "-q", "origin", "production")


def test_bootstrap_timer_and_service_converge(
    container: Container, server: tuple[int, Path]
) -> None:
    port, work = server
    push(work, "one")
    exe = str(gitpuppet_executable())
    done = container.exec(
        [
            exe,
            "bootstrap",
            f"git://127.0.0.1:{port}/control.git",
            "--node-name",
            "box.example.com",
            "--timer",
            "--interval",
            "30m",
            "--splay",
            "0s",
        ],
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert container.read_file("/root/hello") == "one\n"
    enabled = container.exec(["systemctl", "is-enabled", "gitpuppet.timer"]).stdout.strip()
    assert enabled == "enabled"
    assert container.exec(["systemctl", "is-active", "gitpuppet.timer"]).stdout.strip() == "active"
    push(work, "two")
    started = container.exec(["systemctl", "start", "gitpuppet.service"], timeout=120)
    assert started.returncode == 0, started.stderr
    assert container.read_file("/root/hello") == "two\n"


def test_bootstrap_with_another_config_path_runs_the_service_with_it(
    container: Container, server: tuple[int, Path]
) -> None:
    """--config PATH (with a space): the installed service reads that config, not the default."""
    port, work = server
    config = "/srv/gp conf/config.yaml"
    push(work, "one", node="box2.example.com", path="/root/hello2")
    done = container.exec(
        [
            str(gitpuppet_executable()),
            "bootstrap",
            f"git://127.0.0.1:{port}/control.git",
            "--node-name",
            "box2.example.com",
            "--timer",
            "--splay",
            "0s",
            "--state-dir",
            "/srv/gp-state",
            "--config",
            config,
        ],
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    exec_start = container.exec(
        ["systemctl", "show", "-p", "ExecStart", "--value", "gitpuppet.service"]
    ).stdout
    assert f"run --now --config {config} ;" in exec_start
    push(work, "two", node="box2.example.com", path="/root/hello2")
    started = container.exec(["systemctl", "start", "gitpuppet.service"], timeout=120)
    assert started.returncode == 0, started.stderr
    assert container.read_file("/root/hello2") == "two\n"
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True, check=True
    ).stdout.strip()
    state = json.loads(container.read_file("/srv/gp-state/state.json"))
    assert state["applied_commit"] == head and state["node"] == "box2.example.com"
