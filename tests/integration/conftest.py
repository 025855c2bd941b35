"""Fixtures for git servers (git daemon, sshd, git-http-backend) and commit signing keys.

Servers are session-scoped and serve every repository under one base folder; each test makes its
own upstream repository there with the `upstream` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.gitservers import (
    GitDaemon,
    HttpGit,
    SigningKey,
    Sshd,
    Upstream,
    make_key,
    make_upstream,
)


@pytest.fixture(scope="session")
def git_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every test git server serves repositories from."""
    return tmp_path_factory.mktemp("gitservers") / "repos"


@pytest.fixture
def upstream(git_base: Path) -> Upstream:
    """A fresh empty bare repo (branch main) under the servers' base folder, with a work clone."""
    return make_upstream(git_base)


@pytest.fixture(scope="session")
def git_daemon(git_base: Path) -> Iterator[GitDaemon]:
    """`git daemon` on a free port of 127.0.0.1; ended by PID at the end of the session."""
    git_base.mkdir(parents=True, exist_ok=True)
    server = GitDaemon(git_base)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """OpenSSH sshd on a free port of 127.0.0.1, root login with `sshd.client_key` only."""
    if not Path("/usr/sbin/sshd").exists():
        pytest.skip(
            "OpenSSH sshd is not installed (apt-get install openssh-server; tests/run does)"
        )
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def http_git(git_base: Path) -> Iterator[HttpGit]:
    """git-http-backend behind an HTTP server thread on a free port of 127.0.0.1."""
    if not Path("/usr/lib/git-core/git-http-backend").exists():
        pytest.skip("git-http-backend is missing (it ships with the git package)")
    git_base.mkdir(parents=True, exist_ok=True)
    server = HttpGit(git_base)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    """An ssh key that signs commits (the trusted one in tests)."""
    return make_key(tmp_path_factory.mktemp("signing"), "alice", "alice@example.com")


@pytest.fixture(scope="session")
def other_signing_key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    """A second ssh key, not trusted by the allowed_signers the tests write."""
    return make_key(tmp_path_factory.mktemp("signing-other"), "mallory", "mallory@example.com")


@pytest.fixture
def env(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(root for managed files, repo dir, state dir) of the apply tests."""
    root = tmp_path / "root"
    root.mkdir()
    return root, tmp_path / "repo", tmp_path / "state"
