"""verify_commit with real ssh-signed commits (git -c gpg.format=ssh commit -S) and ssh-keygen."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from gitpuppet.git.repo import NodeRepo
from gitpuppet.git.verify import verify_commit
from tests.integration.gitservers import SigningKey, Upstream


@pytest.fixture
def node(tmp_path: Path, upstream: Upstream) -> NodeRepo:
    return NodeRepo(tmp_path / "repo.git", [upstream.file_url], "main")


def test_signed_by_allowed_key(
    tmp_path: Path, upstream: Upstream, node: NodeRepo, signing_key: SigningKey
) -> None:
    commit = upstream.commit_and_push({"f": "x"}, "signed", sign=signing_key)
    node.fetch()
    allowed = signing_key.allowed_signers(tmp_path / "allowed_signers")
    check = verify_commit(node.repo, commit, allowed)
    assert check.ok and check.signer == "alice@example.com", check.reason


def test_unsigned_refused(
    tmp_path: Path, upstream: Upstream, node: NodeRepo, signing_key: SigningKey
) -> None:
    commit = upstream.commit_and_push({"f": "x"}, "unsigned")
    node.fetch()
    check = verify_commit(node.repo, commit, signing_key.allowed_signers(tmp_path / "a"))
    assert (check.ok, check.signer, check.reason) == (
        False,
        None,
        f"commit {commit[:7]} is not signed",
    )


def test_signed_by_another_key_refused(
    tmp_path: Path,
    upstream: Upstream,
    node: NodeRepo,
    signing_key: SigningKey,
    other_signing_key: SigningKey,
) -> None:
    commit = upstream.commit_and_push({"f": "x"}, "mallory", sign=other_signing_key)
    node.fetch()
    allowed = signing_key.allowed_signers(tmp_path / "allowed_signers")
    check = verify_commit(node.repo, commit, allowed)
    assert not check.ok and check.signer is None
    assert f"is signed by a key that is not in {allowed}" in check.reason


def test_tampered_payload_refused(
    tmp_path: Path, upstream: Upstream, node: NodeRepo, signing_key: SigningKey
) -> None:
    """A commit carrying a valid signature taken from another commit does not verify."""
    signed = upstream.commit_and_push({"f": "x"}, "signed", sign=signing_key)
    node.fetch()
    repo = node.repo
    original = repo.get(signed)
    assert isinstance(original, pygit2.Commit)
    signature, payload = original.gpg_signature
    forged_payload = payload.replace(b"signed", b"forged")
    forged = repo.create_commit_with_signature(forged_payload.decode(), signature.decode())
    check = verify_commit(repo, str(forged), signing_key.allowed_signers(tmp_path / "a"))
    assert not check.ok and check.signer == "alice@example.com"
    assert "does not match the commit" in check.reason


def test_pgp_signature_is_not_supported(tmp_path: Path, node: NodeRepo, upstream: Upstream) -> None:
    upstream.commit_and_push({"f": "x"})
    node.fetch()
    repo = node.repo
    head = repo.get(node.head() or "")
    assert isinstance(head, pygit2.Commit)
    _, payload = head.gpg_signature
    assert payload is None
    body = repo.create_commit(None, head.author, head.committer, "pgp", head.tree_id, [])
    raw = repo.get(body)
    assert isinstance(raw, pygit2.Commit)
    text = raw.read_raw().decode()
    pgp = "-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n"
    forged = repo.create_commit_with_signature(text, pgp)
    check = verify_commit(repo, str(forged), tmp_path / "allowed")
    assert not check.ok
    assert "gpg signatures are not supported; sign with ssh keys" in check.reason


def test_missing_allowed_signers_and_unknown_commit(
    tmp_path: Path, upstream: Upstream, node: NodeRepo, signing_key: SigningKey
) -> None:
    commit = upstream.commit_and_push({"f": "x"}, sign=signing_key)
    node.fetch()
    missing = tmp_path / "nope"
    check = verify_commit(node.repo, commit, missing)
    assert not check.ok and f"allowed_signers file {missing} does not exist" in check.reason
    assert not verify_commit(node.repo, "0" * 40, missing).ok


def test_key_valid_before_the_commit_time_is_refused(
    tmp_path: Path, upstream: Upstream, node: NodeRepo, signing_key: SigningKey
) -> None:
    """valid-before in allowed_signers is checked at the commit's committer time, as git does."""
    commit = upstream.commit_and_push({"f": "x"}, sign=signing_key, when=1_700_000_000)
    node.fetch()
    kind, blob = signing_key.pub.split()[:2]
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(
        f'alice@example.com namespaces="git",valid-before="20230101" {kind} {blob}\n'
    )
    assert not verify_commit(node.repo, commit, allowed).ok
    allowed.write_text(f'alice@example.com namespaces="git",valid-after="20230101" {kind} {blob}\n')
    assert verify_commit(node.repo, commit, allowed).ok
