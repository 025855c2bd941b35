"""URL classification (pure; kept beside the git tests that exercise each transport for real)."""

from __future__ import annotations

import pytest

from gitpuppet.git.remote import host_in_known_hosts
from gitpuppet.git.urls import RemoteUrl, parse_url, redact


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ssh://git@h.example:2222/infra/c.git", ("ssh", "git", "h.example", 2222)),
        ("ssh://h.example/c.git", ("ssh", None, "h.example", None)),
        ("git@github.com:org/c.git", ("ssh", "git", "github.com", None)),
        ("h.example:c.git", ("ssh", None, "h.example", None)),
        ("https://u:p@h.example/c.git", ("https", "u", "h.example", None)),
        ("http://127.0.0.1:8080/c.git", ("http", None, "127.0.0.1", 8080)),
        ("git://127.0.0.1:9418/c.git", ("git", None, "127.0.0.1", 9418)),
        ("file:///srv/c.git", ("local", None, None, None)),
        ("/srv/c.git", ("local", None, None, None)),
        ("./c.git", ("local", None, None, None)),
    ],
)
def test_parse_url(url: str, expected: tuple[str, str | None, str | None, int | None]) -> None:
    r = parse_url(url)
    assert (r.transport, r.user, r.host, r.port) == expected
    assert r.shallow_ok == (r.transport != "local")


def test_known_hosts_names_and_hints() -> None:
    r = RemoteUrl("ssh://h:2222/x", "ssh", None, "h", 2222)
    assert (r.known_hosts_name, r.host_label, r.keyscan_hint) == (
        "[h]:2222",
        "h:2222",
        "ssh-keyscan -p 2222 h",
    )
    assert RemoteUrl("x", "ssh", None, "h", 22).known_hosts_name == "h"


def test_redact() -> None:
    assert redact("https://u:secret@h/x.git") == "https://u:***@h/x.git"
    assert redact("git@h:x.git") == "git@h:x.git"


def test_host_in_known_hosts_plain_and_hashed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A hashed line for "[127.0.0.1]:2222" as `ssh-keygen -H` writes it (salt and HMAC-SHA1).
    import base64
    import hashlib
    import hmac

    salt = b"0123456789abcdefghij"
    digest = hmac.new(salt, b"[127.0.0.1]:2222", hashlib.sha1).digest()
    hashed = f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"
    kh = tmp_path / "known_hosts"
    kh.write_text(
        f"# comment\nplain.example,10.0.0.1 ssh-ed25519 AAAA\n{hashed} ssh-ed25519 AAAA\n"
    )
    assert host_in_known_hosts(kh, "plain.example") and host_in_known_hosts(kh, "10.0.0.1")
    assert host_in_known_hosts(kh, "[127.0.0.1]:2222")
    assert not host_in_known_hosts(kh, "[127.0.0.1]:2223")
    assert not host_in_known_hosts(tmp_path / "missing", "plain.example")
