"""Fetch over https with real TLS: git-http-backend behind a TLS server on 127.0.0.1 whose
certificate comes from a throwaway CA. Untrusted is refused with a clear message; `ca_file`
trusts it. libgit2's CA store is process-wide and only grows, so every test has its own CA."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gitpuppet.git.repo import FetchError, NodeRepo
from tests.integration.gitservers import HttpsGit, Upstream, make_tls


@pytest.fixture
def https_git(tmp_path: Path, git_base: Path) -> Iterator[HttpsGit]:
    """A TLS git server with a CA of its own (never trusted by another test)."""
    server = HttpsGit(git_base, tmp_path / "tls")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_untrusted_certificate_is_refused(
    tmp_path: Path, upstream: Upstream, https_git: HttpsGit
) -> None:
    upstream.commit_and_push({"f": "x"})
    node = NodeRepo(tmp_path / "repo.git", [https_git.url(upstream)], "main")
    with pytest.raises(FetchError) as err:
        node.fetch()
    message = str(err.value)
    assert f"{https_git.url(upstream)}: the TLS certificate of 127.0.0.1 is not trusted" in message
    assert "ca_file" in message and "update-ca-certificates" in message
    assert not node.path.exists()


def test_certificate_of_another_ca_is_refused(
    tmp_path: Path, upstream: Upstream, https_git: HttpsGit
) -> None:
    """Trusting some CA is not trusting every CA: a file with another CA still refuses."""
    upstream.commit_and_push({"f": "x"})
    other = make_tls(tmp_path / "other")
    node = NodeRepo(tmp_path / "repo.git", [https_git.url(upstream)], "main", ca_file=other.ca)
    with pytest.raises(FetchError, match="TLS certificate of 127.0.0.1 is not trusted"):
        node.fetch()


def test_ca_file_trusts_the_server(tmp_path: Path, upstream: Upstream, https_git: HttpsGit) -> None:
    first = upstream.commit_and_push({"a.yaml": "x: 1\n"})
    url = https_git.url(upstream)
    node = NodeRepo(tmp_path / "repo.git", [url], "main", ca_file=https_git.tls.ca)
    assert node.fetch().head == first
    second = upstream.commit_and_push({"a.yaml": "x: 2\n"})
    assert node.fetch().head == second
    assert node.tree(second).read_bytes("a.yaml") == b"x: 2\n"


def test_a_ca_file_that_is_not_pem_is_a_fetch_error(
    tmp_path: Path, upstream: Upstream, https_git: HttpsGit
) -> None:
    upstream.commit_and_push({"f": "x"})
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate\n")
    node = NodeRepo(tmp_path / "repo.git", [https_git.url(upstream)], "main", ca_file=garbage)
    with pytest.raises(FetchError) as err:
        node.fetch()
    assert f"the CA file {garbage} cannot be used" in str(err.value)
