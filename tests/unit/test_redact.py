"""Secrets kept out of output: URL credentials (redact_url) and sensitive resources (Redactor)."""

from __future__ import annotations

import pytest

from gitpuppet.cli.output import line_for
from gitpuppet.errors import SourcePos
from gitpuppet.model import Change, Ref, Resource, Result, Status, sensitive_label
from gitpuppet.redact import Redactor, looks_like_key, redact_url

pytestmark = pytest.mark.unit

TOKEN = "glpat-Zx81kQ0aa9LmN3pQr7sT"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://TOKEN@host/x.git", "https://***@host/x.git"),
        ("https://user:pass@host/x.git", "https://user:***@host/x.git"),
        ("https://u:secret@h/x.git", "https://u:***@h/x.git"),
        (f"https://{TOKEN}:x-oauth-basic@h/x", "https://***:***@h/x"),
        ("http://oauth2:abc@127.0.0.1:8080/c.git", "http://oauth2:***@127.0.0.1:8080/c.git"),
        ("ssh://git@h.example:2222/c.git", "ssh://git@h.example:2222/c.git"),
        ("ssh://git:pw@h/c.git", "ssh://git:***@h/c.git"),
        ("git@github.com:org/c.git", "git@github.com:org/c.git"),
        ("file:///srv/git/c.git", "file:///srv/git/c.git"),
        ("https://h/c.git?private_token=abc", "https://h/c.git?private_token=***"),
        ("https://h/c?access_token=abc&ref=main", "https://h/c?access_token=***&ref=main"),
        ("https://h/c?token=abc;x=1", "https://h/c?token=***;x=1"),
        ("https://h/c?api_key=k&sig=s", "https://h/c?api_key=***&sig=***"),
        (f"https://h/c?x={TOKEN}", "https://h/c?x=***"),
        ("https://h/cb#access_token=abc", "https://h/cb#access_token=***"),
        ("https://h/c?page=2&sort=name", "https://h/c?page=2&sort=name"),
        # Inside free text: each URL, trailing punctuation kept.
        (
            "pull failed: http://T0K@h:1/a.git?token=q: 404; https://u:p@h/b.git: refused",
            "pull failed: http://***@h:1/a.git?token=***: 404; https://u:***@h/b.git: refused",
        ),
        ("cannot fetch from 'https://tok@h/x'.", "cannot fetch from 'https://***@h/x'."),
        ("(see https://a:b@h/x)", "(see https://a:***@h/x)"),
        ("no url here: a=b token=c", "no url here: a=b token=c"),
    ],
)
def test_redact_url(text: str, expected: str) -> None:
    assert redact_url(text) == expected


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (TOKEN, True),
        ("ghp_abcdefghij", True),
        ("3f9c2e1d0a9b8c7d6e5f", True),
        ("production", False),
        ("a-very-long-branch-name", False),
        ("short1", False),
    ],
)
def test_looks_like_key(value: str, key: bool) -> None:
    assert looks_like_key(value) is key


def _exec(title: str, sensitive: bool = True, **params: object) -> Resource:
    from gitpuppet.types.build import build_params

    pos = SourcePos("classes/main.yaml", 3)
    return Resource(
        "exec", title, build_params("exec", title, params, pos, {}), pos, sensitive=sensitive
    )


def test_sensitive_label_is_stable_and_hides_the_title() -> None:
    ref = Ref("exec", "mysql -p hunter2 -e 'x'")
    label = sensitive_label(ref)
    assert label == sensitive_label(Ref("exec", "mysql -p hunter2 -e 'x'"))
    assert label.startswith("exec:[sensitive ") and "hunter2" not in label
    assert label != sensitive_label(Ref("line", ref.title))
    assert _exec(ref.title).label == label and _exec("ls", sensitive=False).label == "exec:ls"


def test_redactor_names_sensitive_refs_by_label_and_scrubs_own_values() -> None:
    secret = _exec("curl -u admin:hunter2 https://h/x")
    plain = _exec("/bin/true", sensitive=False)
    r = Redactor([secret, plain])
    text = f"skipped: dependency {secret.ref} failed; notified by {plain.ref}"
    assert r.text(text) == f"skipped: dependency {secret.label} failed; notified by exec:/bin/true"
    # A sensitive resource's own message must not quote its command, even without the type.
    own = r.message(secret, "cannot run curl -u admin:hunter2 https://h/x: not found")
    assert "hunter2" not in own and own.startswith("cannot run <redacted>")
    assert r.message(plain, "cannot run /bin/true") == "cannot run /bin/true"
    # A longer title that only starts like a sensitive one is left alone.
    one, ten = _exec("/bin/echo 1"), _exec("/bin/echo 10", sensitive=False)
    assert Redactor([one, ten]).text(f"after {ten.ref}, {one.ref}") == (
        f"after exec:/bin/echo 10, {one.label}"
    )


def test_line_for_a_sensitive_result_shows_the_label_and_no_values() -> None:
    res = _exec("echo s3cret")
    changes = [Change("executed", "notrun", "s3cret-value")]
    text = line_for(Result(res.ref, Status.CHANGED, changes, resource=res))
    assert text == f"{res.label}: executed changed" and "s3cret" not in text
    failed = line_for(Result(res.ref, Status.FAILED, message="command exited 1", resource=res))
    assert failed == f"{res.label}: failed: command exited 1"
