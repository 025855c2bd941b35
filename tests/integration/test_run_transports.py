"""`gitpuppet run` over git:// (git daemon) and ssh:// (OpenSSH sshd) on 127.0.0.1."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_run_agent import Setup


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int) -> None:
    for _ in range(200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


@pytest.fixture
def daemon(setup: Setup) -> Iterator[int]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--export-all",
            f"--base-path={setup.tmp}",
            "--listen=127.0.0.1",
            f"--port={port}",
            str(setup.tmp),
        ],
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def sshd(setup: Setup) -> Iterator[tuple[int, Path, Path]]:
    if not Path("/usr/sbin/sshd").exists():
        pytest.skip("OpenSSH sshd is not installed (apt-get install openssh-server)")
    d = setup.tmp / "sshd"
    d.mkdir()
    for name in ("host", "client"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True
        )
    shutil.copy(d / "client.pub", d / "authorized_keys")
    port = _free_port()
    (d / "config").write_text(
        f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {d / 'host'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nStrictModes no\nUsePAM no\n"
        f"PidFile {d / 'pid'}\nPasswordAuthentication no\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    proc = subprocess.Popen(
        ["/usr/sbin/sshd", "-D", "-e", "-f", str(d / "config")], stderr=subprocess.DEVNULL
    )
    try:
        _wait_port(port)
        kind, key = (d / "host.pub").read_text().split()[:2]
        (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {kind} {key}\n")
        yield port, d / "client", d / "known_hosts"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_git_daemon_run_and_fallback_when_it_stops(setup: Setup, daemon: int) -> None:
    setup.write_config(repo=f"git://127.0.0.1:{daemon}/control.git")
    setup.push("one")
    r = setup.run("run", "--now")
    assert r.returncode == 2, r.stderr
    setup.push("two")
    assert setup.run("run", "--now").returncode == 2
    assert setup.motd() == "two\n"


def test_mirrors_move_to_the_next_url(setup: Setup, daemon: int) -> None:
    dead = _free_port()
    setup.config.write_text(
        setup.config.read_text().replace(
            f"repo: file://{setup.bare}",
            f"repo: [git://127.0.0.1:{dead}/control.git, git://127.0.0.1:{daemon}/control.git]",
        )
    )
    setup.push("one")
    r = setup.run("run", "--now")
    assert r.returncode == 2, r.stderr
    assert setup.motd() == "one\n"


def test_ssh_run_and_unknown_host_key_refused(setup: Setup, sshd: tuple[int, Path, Path]) -> None:
    port, key, known = sshd
    url = f"ssh://root@127.0.0.1:{port}{setup.bare}"
    setup.write_config(repo=url, ssh_key=str(key), known_hosts=str(known))
    setup.push("one")
    r = setup.run("run", "--now")
    assert r.returncode == 2, r.stderr
    assert setup.motd() == "one\n"
    setup.push("two")
    known.write_text(
        f"[127.0.0.1]:{port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1Oo3Bn3zjdxDzy0DS5rkK1jnhYJsoBUVZtXHb1Pj8v\n"
    )
    r = setup.run("run", "--now")
    assert r.returncode == 4, r.stderr
    assert "pull failed" in r.stderr
    assert setup.motd() == "one\n"
