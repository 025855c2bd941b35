"""NodeRepo.fetch over ssh against a real OpenSSH sshd: key auth and host key checking."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from gitpuppet.git.repo import FetchError, NodeRepo
from tests.integration.gitservers import Sshd, Upstream, make_key

OTHER_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1Oo3Bn3zjdxDzy0DS5rkK1jnhYJsoBUVZtXHb1Pj8v"


def _node(tmp_path: Path, url: str, key: Path, known: Path) -> NodeRepo:
    return NodeRepo(tmp_path / "state" / "repo.git", [url], "main", key, known)


def test_known_host_key_accepted(tmp_path: Path, upstream: Upstream, sshd: Sshd) -> None:
    first = upstream.commit_and_push({"f": "x"})
    node = _node(tmp_path, sshd.url(upstream), sshd.client_key, sshd.known_hosts)
    result = node.fetch()
    assert result.head == first and result.errors == []
    second = upstream.commit_and_push({"f": "y"})
    assert node.fetch().head == second
    times = []
    for _ in range(3):
        began = time.perf_counter()
        node.fetch()
        times.append(time.perf_counter() - began)
    print(f"\nfetch with nothing new over ssh: best {min(times) * 1000:.0f} ms")


def test_scp_like_url(tmp_path: Path, upstream: Upstream, sshd: Sshd) -> None:
    """user@host:path has no port, so it reaches sshd through an ssh:// fallback mirror only."""
    first = upstream.commit_and_push({"f": "x"})
    node = NodeRepo(
        tmp_path / "repo.git",
        [f"root@127.0.0.1:{upstream.bare}", sshd.url(upstream)],
        "main",
        sshd.client_key,
        sshd.known_hosts,
    )
    result = node.fetch()
    # Port 22 has no server here: the scp-like URL fails, with its own line, and the next is used.
    assert result.head == first
    assert result.errors and result.errors[0].startswith(f"root@127.0.0.1:{upstream.bare}: ")


def test_unknown_host_key_refused(tmp_path: Path, upstream: Upstream, sshd: Sshd) -> None:
    upstream.commit_and_push({"f": "x"})
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:1 {OTHER_HOST_KEY}\n")  # some other host only
    node = _node(tmp_path, sshd.url(upstream), sshd.client_key, known)
    with pytest.raises(FetchError) as err:
        node.fetch()
    text = str(err.value)
    assert f"host key of 127.0.0.1:{sshd.port} is not in {known}" in text
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> {known}" in text
    assert not (tmp_path / "state" / "repo.git").exists()


def test_changed_host_key_refused(tmp_path: Path, upstream: Upstream, sshd: Sshd) -> None:
    first = upstream.commit_and_push({"f": "x"})
    known = tmp_path / "known_hosts"
    shutil.copy(sshd.known_hosts, known)
    node = _node(tmp_path, sshd.url(upstream), sshd.client_key, known)
    assert node.fetch().head == first
    upstream.commit_and_push({"f": "y"})
    # The file now records another key for the same [host]:port: a changed key.
    known.write_text(f"[127.0.0.1]:{sshd.port} {OTHER_HOST_KEY}\n")
    with pytest.raises(FetchError) as err:
        node.fetch()
    assert f"host key of 127.0.0.1:{sshd.port} does not match the key for it in {known}" in str(
        err.value
    )
    assert node.head() == first  # refused before anything was written


def test_empty_known_hosts_refuses(tmp_path: Path, upstream: Upstream, sshd: Sshd) -> None:
    upstream.commit_and_push({"f": "x"})
    known = tmp_path / "known_hosts"
    known.write_text("")
    with pytest.raises(FetchError, match="is not in"):
        _node(tmp_path, sshd.url(upstream), sshd.client_key, known).fetch()


def test_missing_known_hosts_file_is_named(tmp_path: Path, upstream: Upstream, sshd: Sshd) -> None:
    upstream.commit_and_push({"f": "x"})
    missing = tmp_path / "nope" / "known_hosts"
    with pytest.raises(Exception, match=f"known_hosts file {missing} does not exist"):
        _node(tmp_path, sshd.url(upstream), sshd.client_key, missing).fetch()


def test_key_not_authorized_is_refused_without_looping(
    tmp_path: Path, upstream: Upstream, sshd: Sshd
) -> None:
    upstream.commit_and_push({"f": "x"})
    stranger = make_key(tmp_path / "keys", "stranger").key
    began = time.monotonic()
    with pytest.raises(FetchError) as err:
        _node(tmp_path, sshd.url(upstream), stranger, sshd.known_hosts).fetch()
    assert time.monotonic() - began < 10
    assert f"refused ssh key {stranger} for user 'root'" in str(err.value)


def test_no_key_configured(tmp_path: Path, upstream: Upstream, sshd: Sshd) -> None:
    upstream.commit_and_push({"f": "x"})
    node = NodeRepo(tmp_path / "repo.git", [sshd.url(upstream)], "main", None, sshd.known_hosts)
    with pytest.raises(FetchError, match="asks for an ssh key and none is configured"):
        node.fetch()
