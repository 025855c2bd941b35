"""`gitpuppet bootstrap` in a booted systemd container: config, clone, timer, first run; then the
service (started as the timer would) brings a pushed change. The server is a git daemon on the
host's 127.0.0.1 (the container shares the host network)."""

from __future__ import annotations

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


def push(work: Path, content: str) -> None:
    (work / "nodes.yaml").write_text("box.example.com:\n  classes: [main]\n")
    (work / "classes").mkdir(exist_ok=True)
    (work / "classes/main.yaml").write_text(
        f'resources:\n  - file: /root/hello\n    content: "{content}\\n"\n'
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
