"""apt_source with real apt-get and gpg: a local file: repository signed by a key made for the
test, apt's state moved into the test's folder by APT_CONFIG (tests/integration/debrepo.py),
so the host's sources and lists are untouched and nothing reaches the network."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import gitpuppet.types.apt_source.type as apt_source
from tests.integration.debrepo import DebPackage, LocalApt, build_deb, write_index
from tests.integration.newtypes_apply import apply_resources, messages, statuses

pytestmark = pytest.mark.skipif(
    shutil.which("apt-get") is None or shutil.which("gpg") is None,
    reason="needs apt-get and gpg (a Debian machine)",
)


def _signing_key(home: Path) -> str:
    """A new signing key in the gpg home `home`; its armoured public key."""
    home.mkdir(mode=0o700)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback"]
    subprocess.run(
        [
            *gpg,
            "--passphrase",
            "",
            "--quick-gen-key",
            "repo <repo@example.invalid>",
            "ed25519",
            "sign",
            "never",
        ],
        check=True,
        capture_output=True,
    )
    return subprocess.run(
        [*gpg, "--armor", "--export"], check=True, capture_output=True, text=True
    ).stdout


def _signed_repo(base: Path, home: Path) -> Path:
    repo = base / "signed"
    repo.mkdir()
    build_deb(base, DebPackage("gitpuppet-test-source", "1.0")).rename(
        repo / "gitpuppet-test-source_1.0_all.deb"
    )
    write_index(repo)
    subprocess.run(
        [
            "gpg",
            "--homedir",
            str(home),
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--clearsign",
            "-o",
            str(repo / "InRelease"),
            str(repo / "Release"),
        ],
        check=True,
        capture_output=True,
    )
    return repo


@pytest.fixture(autouse=True)
def _end_gpg_agents(tmp_path: Path) -> Iterator[None]:
    """gpg starts an agent per home it signs with: end the ones this test started."""
    yield
    for ring in tmp_path.rglob("pubring.kbx"):
        subprocess.run(
            ["gpgconf", "--homedir", str(ring.parent), "--kill", "gpg-agent"],
            capture_output=True,
            timeout=30,
        )


@pytest.fixture
def apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalApt:
    local = LocalApt(tmp_path / "apt")
    monkeypatch.setenv("APT_CONFIG", str(local.conf))
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    keyrings = tmp_path / "keyrings"
    keyrings.mkdir()
    monkeypatch.setattr(apt_source, "SOURCES_DIR", str(local.base / "etc" / "sources.list.d"))
    monkeypatch.setattr(apt_source, "KEYRING_DIR", str(keyrings))
    return local


def _lists(local: LocalApt) -> list[str]:
    return sorted(p.name for p in (local.base / "lists").iterdir() if "signed" in p.name)


def test_source_and_key_written_update_once_then_nothing(tmp_path: Path, apt: LocalApt) -> None:
    key = _signing_key(tmp_path / "gpg")
    repo = _signed_repo(tmp_path, tmp_path / "gpg")
    decl = [{"apt_source": "gptest", "uris": f"file:{repo}", "suites": "./", "key": key}]
    noop = apply_resources(tmp_path, decl, noop=True)
    assert statuses(noop) == {"apt_source:gptest": "would_change"} and not _lists(apt)
    out = apply_resources(tmp_path, decl)
    assert statuses(out) == {"apt_source:gptest": "changed"}, messages(out)
    asc = tmp_path / "keyrings" / "gptest.asc"
    assert asc.read_text() == key
    sources = (apt.base / "etc" / "sources.list.d" / "gptest.sources").read_text()
    assert f"Signed-By: {asc}" in sources and "Trusted" not in sources
    lists = _lists(apt)
    assert any("_Packages" in name for name in lists), lists
    stamp = {n: (apt.base / "lists" / n).stat().st_mtime_ns for n in lists}
    again = apply_resources(tmp_path, decl)
    assert statuses(again) == {"apt_source:gptest": "unchanged"}, messages(again)
    assert {n: (apt.base / "lists" / n).stat().st_mtime_ns for n in _lists(apt)} == stamp
    gone = apply_resources(tmp_path, [{"apt_source": "gptest", "ensure": "absent"}])
    assert statuses(gone) == {"apt_source:gptest": "changed"}
    assert (
        not asc.exists() and not (apt.base / "etc" / "sources.list.d" / "gptest.sources").exists()
    )


def test_wrong_key_fails_and_leaves_no_source(tmp_path: Path, apt: LocalApt) -> None:
    _signing_key(tmp_path / "gpg")
    other = _signing_key(tmp_path / "other")
    repo = _signed_repo(tmp_path, tmp_path / "gpg")
    decl = [{"apt_source": "gptest", "uris": f"file:{repo}", "suites": "./", "key": other}]
    out = apply_resources(tmp_path, decl)
    assert statuses(out) == {"apt_source:gptest": "failed"}, messages(out)
    assert "apt-get update" in out.results[0].message
    assert not (apt.base / "etc" / "sources.list.d" / "gptest.sources").exists()
    again = apply_resources(tmp_path, decl)  # retried, not forgotten
    assert statuses(again) == {"apt_source:gptest": "failed"}


def test_binary_key_from_files(tmp_path: Path, apt: LocalApt) -> None:
    _signing_key(tmp_path / "gpg")
    binary = subprocess.run(
        ["gpg", "--homedir", str(tmp_path / "gpg"), "--batch", "--export"],
        check=True,
        capture_output=True,
    ).stdout
    repo = _signed_repo(tmp_path, tmp_path / "gpg")
    decl = [
        {"apt_source": "gptest", "uris": f"file:{repo}", "suites": "./", "key_source": "repo.gpg"}
    ]
    out = apply_resources(tmp_path, decl, files={"repo.gpg": binary})
    assert statuses(out) == {"apt_source:gptest": "changed"}, messages(out)
    assert (tmp_path / "keyrings" / "gptest.gpg").read_bytes() == binary
