"""`gitpuppet run` over git:// (git daemon) and ssh:// (OpenSSH sshd) on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.gitservers import GitDaemon, HttpsGit, Sshd, free_port
from tests.integration.test_run_agent import Setup


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


@pytest.fixture
def daemon(setup: Setup) -> Iterator[int]:
    """A git daemon serving this test's repos (the shared server class, a per-test instance)."""
    server = GitDaemon(setup.tmp)
    server.start()
    try:
        yield server.port
    finally:
        server.stop()


@pytest.fixture
def sshd(setup: Setup) -> Iterator[tuple[int, Path, Path]]:
    """An sshd for this test: (port, client key, known_hosts)."""
    if not Path("/usr/sbin/sshd").exists():
        pytest.skip("OpenSSH sshd is not installed (apt-get install openssh-server)")
    server = Sshd(setup.tmp / "sshd")
    server.start()
    try:
        yield server.port, server.client_key, server.known_hosts
    finally:
        server.stop()


def test_git_daemon_run_and_fallback_when_it_stops(setup: Setup, daemon: int) -> None:
    setup.write_config(repo=f"git://127.0.0.1:{daemon}/control.git")
    setup.push("one")
    r = setup.run("run", "--now")
    assert r.returncode == 2, r.stderr
    setup.push("two")
    assert setup.run("run", "--now").returncode == 2
    assert setup.motd() == "two\n"


def test_mirrors_move_to_the_next_url(setup: Setup, daemon: int) -> None:
    dead = free_port()
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


def test_https_run_with_ca_file_and_untrusted_fallback(setup: Setup) -> None:
    """git-http-backend behind TLS: ca_file in the config trusts the test CA; without it the
    certificate is refused, named in the output, and the last good commit is applied."""
    server = HttpsGit(setup.tmp, setup.tmp / "tls")
    server.start()
    try:
        url = f"https://127.0.0.1:{server.port}/control.git"
        setup.write_config(repo=url, ca_file=str(server.tls.ca))
        setup.push("one")
        r = setup.run("run", "--now")
        assert r.returncode == 2, r.stderr
        assert setup.motd() == "one\n"
        setup.write_config(repo=url)
        setup.push("two")
        r = setup.run("run", "--now")
        assert r.returncode == 4, r.stderr
        assert "the TLS certificate of 127.0.0.1 is not trusted" in r.stderr
        assert "ca_file" in r.stderr and setup.motd() == "one\n"
    finally:
        server.stop()


def test_bootstrap_over_https_with_ca_file(setup: Setup) -> None:
    server = HttpsGit(setup.tmp, setup.tmp / "tls")
    server.start()
    try:
        setup.push("one")
        cfg = setup.tmp / "etc" / "config.yaml"
        r = subprocess.run(
            [sys.executable, "-m", "gitpuppet.cli", "bootstrap"]
            + [f"https://127.0.0.1:{server.port}/control.git", "--ca-file", str(server.tls.ca)]
            + ["--node-name", "t.example.com", "--no-schedule", "--splay", "0s"]
            + ["--state-dir", str(setup.state), "--run-dir", str(setup.tmp / "run")]
            + ["--config", str(cfg)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 2, r.stderr
        assert f"ca_file: {server.tls.ca}" in cfg.read_text()
        assert setup.motd() == "one\n"
    finally:
        server.stop()
