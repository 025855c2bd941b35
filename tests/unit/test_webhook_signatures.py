"""Webhook decisions: signatures of each provider, replays, events, branches, the secret file."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest

from gitpuppet.agent.lock import LockHeld
from gitpuppet.agent.webhook import (
    SeenDeliveries,
    WebhookError,
    authenticate,
    decide,
    event_of,
    github_signature,
    header_map,
    read_secret,
    ref_of,
)
from gitpuppet.agent.webhook_server import RunTrigger, parse_listen

SECRET = b"s3cret-for-tests"
PUSH = json.dumps({"ref": "refs/heads/production", "after": "0" * 40}).encode()


def hexmac(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def signed(provider: str, body: bytes = PUSH, secret: bytes = SECRET) -> dict[str, str | None]:
    """The headers each provider sends with a push of `body`."""
    if provider == "github":
        pairs = [
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", github_signature(secret, body)),
        ]
    elif provider == "gitea":
        pairs = [("X-Gitea-Event", "push"), ("X-Gitea-Signature", hexmac(secret, body))]
    elif provider == "forgejo":
        pairs = [("X-Forgejo-Event", "push"), ("X-Forgejo-Signature", hexmac(secret, body))]
    else:
        pairs = [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", secret.decode())]
    return header_map([*pairs, ("Content-Type", "application/json")])


def test_github_published_test_vector() -> None:
    # https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
    secret, body = b"It's a Secret to Everybody", b"Hello, World!"
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert github_signature(secret, body) == expected
    assert authenticate(header_map([("X-Hub-Signature-256", expected)]), body, secret) is None
    assert authenticate(header_map([("X-Hub-Signature-256", expected)]), body + b" ", secret)


@pytest.mark.parametrize("provider", ["github", "gitea", "forgejo", "gitlab"])
def test_each_provider_valid_signature_pokes(provider: str) -> None:
    verdict = decide(signed(provider), PUSH, SECRET, "production", SeenDeliveries())
    assert (verdict.status, verdict.poke) == (202, True), verdict


@pytest.mark.parametrize("provider", ["github", "gitea", "forgejo", "gitlab"])
def test_each_provider_wrong_secret_is_401(provider: str) -> None:
    headers = signed(provider, secret=b"not-the-secret")
    verdict = decide(headers, PUSH, SECRET, "production", SeenDeliveries())
    assert (verdict.status, verdict.poke) == (401, False)
    assert "not-the-secret" not in verdict.message and SECRET.decode() not in verdict.message


@pytest.mark.parametrize("provider", ["github", "gitea", "forgejo"])
def test_signature_of_another_body_is_401(provider: str) -> None:
    headers = signed(provider, body=PUSH.replace(b"production", b"staging"))
    assert decide(headers, PUSH, SECRET, "production", SeenDeliveries()).status == 401


@pytest.mark.parametrize(
    "pairs",
    [
        [("X-GitHub-Event", "push")],  # no signature at all
        [("X-Hub-Signature-256", "")],
        [("X-Hub-Signature-256", hexmac(SECRET, PUSH))],  # without the sha256= prefix
        [("X-Hub-Signature", "sha1=" + hmac.new(SECRET, PUSH, "sha1").hexdigest())],  # sha1 only
        [("X-Gitlab-Token", SECRET.decode() + "x")],
        [("X-Gitlab-Token", SECRET.decode()[:-1])],
        # a good signature does not excuse a bad one next to it
        [("X-Hub-Signature-256", github_signature(SECRET, PUSH)), ("X-Gitea-Signature", "00")],
        # the same header twice: which one counts is ambiguous, so neither does
        [
            ("X-Hub-Signature-256", github_signature(SECRET, PUSH)),
            ("X-Hub-Signature-256", github_signature(SECRET, PUSH)),
        ],
    ],
)
def test_unsigned_or_badly_signed_is_401(pairs: list[tuple[str, str]]) -> None:
    headers = header_map([*pairs, ("X-GitHub-Event", "push")])
    verdict = decide(headers, PUSH, SECRET, "production", SeenDeliveries())
    assert (verdict.status, verdict.poke) == (401, False)


def test_signature_hex_case_does_not_matter() -> None:
    value = github_signature(SECRET, PUSH).upper().replace("SHA256=", "sha256=")
    assert authenticate(header_map([("X-Hub-Signature-256", value)]), PUSH, SECRET) is None


def test_gitea_sending_every_header_is_accepted() -> None:
    mac = hexmac(SECRET, PUSH)
    headers = header_map(
        [
            ("X-GitHub-Event", "push"),
            ("X-Gitea-Event", "push"),
            ("X-Gitea-Signature", mac),
            ("X-Hub-Signature-256", "sha256=" + mac),
            ("X-Gitea-Delivery", "d1"),
            ("X-GitHub-Delivery", "d1"),
        ]
    )
    assert decide(headers, PUSH, SECRET, "production", SeenDeliveries()).poke


def test_replayed_delivery_id_is_ignored() -> None:
    seen = SeenDeliveries()
    first = {**signed("github"), "x-github-delivery": "72d3162e"}
    assert decide(first, PUSH, SECRET, "production", seen).poke
    other_body = PUSH.replace(b"0000", b"1111")
    again = {**signed("github", other_body), "x-github-delivery": "72d3162e"}
    verdict = decide(again, other_body, SECRET, "production", seen)
    assert (verdict.status, verdict.poke) == (202, False) and "already" in verdict.message


@pytest.mark.parametrize("provider", ["github", "gitea", "gitlab"])
def test_replayed_body_with_a_new_delivery_id_is_ignored(provider: str) -> None:
    seen = SeenDeliveries()
    name = {"github": "x-github-delivery", "gitea": "x-gitea-delivery"}.get(
        provider, "x-gitlab-event-uuid"
    )
    assert decide({**signed(provider), name: "one"}, PUSH, SECRET, "production", seen).poke
    verdict = decide({**signed(provider), name: "two"}, PUSH, SECRET, "production", seen)
    assert not verdict.poke and "already" in verdict.message


def test_forged_requests_are_not_remembered() -> None:
    """A forged request with a delivery id must not block the real delivery with that id."""
    seen = SeenDeliveries()
    forged = {**signed("github", secret=b"wrong"), "x-github-delivery": "d1"}
    assert decide(forged, PUSH, SECRET, "production", seen).status == 401
    assert decide(
        {**signed("github"), "x-github-delivery": "d1"}, PUSH, SECRET, "production", seen
    ).poke


def test_seen_deliveries_are_bounded() -> None:
    seen = SeenDeliveries(keep=3)
    for key in "abcd":
        assert not seen.seen_before([key])
    assert seen.seen_before(["d"]) and not seen.seen_before(["a"])


@pytest.mark.parametrize(
    ("ref", "pokes"),
    [
        ("refs/heads/production", True),
        ("refs/heads/staging", False),
        ("refs/heads/production-2", False),
        ("refs/tags/production", False),
    ],
)
def test_only_the_followed_branch_pokes(ref: str, pokes: bool) -> None:
    body = json.dumps({"ref": ref}).encode()
    verdict = decide(signed("github", body), body, SECRET, "production", SeenDeliveries())
    assert verdict.status == 202 and verdict.poke is pokes
    if not pokes:
        assert ref in verdict.message and "ignored" in verdict.message


def test_ping_is_answered_and_other_events_ignored() -> None:
    body = b'{"zen": "Keep it logically awesome."}'
    ping = {**signed("github", body), "x-github-event": "ping"}
    assert decide(ping, body, SECRET, "production", SeenDeliveries()).status == 200
    issue = {**signed("github", body), "x-github-event": "issues"}
    verdict = decide(issue, body, SECRET, "production", SeenDeliveries())
    assert (verdict.status, verdict.poke) == (202, False) and "issues" in verdict.message
    tag = {**signed("gitlab"), "x-gitlab-event": "Tag Push Hook"}
    assert not decide(tag, PUSH, SECRET, "production", SeenDeliveries()).poke


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"ref": 7}', b"\xff\xfe"])
def test_signed_but_bad_payload_is_400(body: bytes) -> None:
    verdict = decide(signed("github", body), body, SECRET, "production", SeenDeliveries())
    assert (verdict.status, verdict.poke) == (400, False)


def test_form_encoded_github_payload() -> None:
    from urllib.parse import urlencode

    body = urlencode({"payload": PUSH.decode()}).encode()
    assert ref_of(body, "application/x-www-form-urlencoded") == "refs/heads/production"
    headers = {**signed("github", body), "content-type": "application/x-www-form-urlencoded"}
    assert decide(headers, body, SECRET, "production", SeenDeliveries()).poke
    assert ref_of(PUSH, "application/x-www-form-urlencoded") == "refs/heads/production"
    with pytest.raises(ValueError, match="payload field"):
        ref_of(b"other=1", "application/x-www-form-urlencoded")


def test_event_names() -> None:
    assert event_of(header_map([("X-Gitlab-Event", "Push Hook")])) == "push"
    assert event_of(header_map([("X-Gitea-Event", "push"), ("X-GitHub-Event", "x")])) == "push"
    assert event_of(header_map([("X-GitHub-Event", "Ping")])) == "ping"
    assert event_of({}) == ""


# --- the secret file ---------------------------------------------------------------------------


def test_secret_file_is_read_and_stripped(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b"  abc123\n")
    path.chmod(0o600)
    assert read_secret(path) == b"abc123"
    path.chmod(0o640)  # a group of readers (e.g. the webhook's) is fine
    assert read_secret(path) == b"abc123"


@pytest.mark.parametrize(
    ("mode", "says"), [(0o644, "every user"), (0o602, "every user"), (0o660, "group")]
)
def test_secret_file_others_can_use_is_refused(tmp_path: Path, mode: int, says: str) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b"topsecret\n")
    path.chmod(mode)
    with pytest.raises(WebhookError) as err:
        read_secret(path)
    assert str(path) in str(err.value) and says in str(err.value)
    assert "topsecret" not in str(err.value) and "chmod" in str(err.value)


def test_secret_file_missing_empty_or_a_folder(tmp_path: Path) -> None:
    with pytest.raises(WebhookError, match="cannot read"):
        read_secret(tmp_path / "absent")
    empty = tmp_path / "empty"
    empty.write_bytes(b"\n")
    empty.chmod(0o600)
    with pytest.raises(WebhookError, match="empty"):
        read_secret(empty)
    folder = tmp_path / "dir"
    folder.mkdir(mode=0o700)
    with pytest.raises(WebhookError):
        read_secret(folder)


def test_secret_file_of_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give the file to another user")
    path = tmp_path / "secret"
    path.write_bytes(b"x")
    path.chmod(0o600)
    os.chown(path, 65534, -1)
    with pytest.raises(WebhookError, match="uid 65534"):
        read_secret(path)


# --- listen addresses and the run trigger ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1:8472", "127.0.0.1", 8472),
        ("0.0.0.0:80", "0.0.0.0", 80),
        ("[::1]:8472", "::1", 8472),
        ("8472", "127.0.0.1", 8472),
        ("localhost:0", "localhost", 0),
    ],
)
def test_listen_addresses(text: str, host: str, port: int) -> None:
    listen = parse_listen(text)
    assert (listen.host, listen.port) == (host, port)


@pytest.mark.parametrize("text", ["", "host:", ":80", "::1:80", "a:b", "1.2.3.4:70000"])
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(WebhookError, match="HOST:PORT"):
        parse_listen(text)


def test_trigger_coalesces_pokes_during_a_run_and_never_overlaps() -> None:
    """The run is a plain function here (timing only); tests/integration/test_webhook.py does
    the same with real runs."""
    spans: list[tuple[float, float]] = []
    inside = threading.Event()
    release = threading.Event()

    def run() -> int:
        start = time.monotonic()
        inside.set()
        release.wait(5)
        spans.append((start, time.monotonic()))
        return 0

    trigger = RunTrigger(run, lambda _m: None)
    worker = threading.Thread(target=trigger.loop)
    worker.start()
    try:
        assert trigger.poke() == "run started"
        assert inside.wait(5)
        answers = [trigger.poke() for _ in range(5)]  # five pushes during the run
        assert answers[0].startswith("run queued") and all("already" in a for a in answers[1:])
        release.set()
        deadline = time.monotonic() + 5
        while len(spans) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
    finally:
        trigger.stop()
        worker.join(5)
    assert len(spans) == 2 and spans[0][1] <= spans[1][0]


def test_trigger_waits_for_a_held_lock_then_runs() -> None:
    calls: list[str] = []

    def run() -> int:
        calls.append("try")
        if len(calls) < 3:
            raise LockHeld("another run is in progress (pid 1)")
        return 0

    messages: list[str] = []
    trigger = RunTrigger(run, messages.append, lock_retry=0.05)
    worker = threading.Thread(target=trigger.loop)
    worker.start()
    try:
        trigger.poke()
        deadline = time.monotonic() + 5
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
    finally:
        trigger.stop()
        worker.join(5)
    assert calls == ["try"] * 3
    assert sum("trying again" in m for m in messages) == 2


# --- the systemd unit ----------------------------------------------------------------------


def test_systemd_unit_is_valid_and_shipped(tmp_path: Path) -> None:
    """The unit runs this command with a secret file, parses in systemd, and is package data."""
    repo = Path(__file__).resolve().parents[2]
    unit = (repo / "systemd/gitpuppet-webhook.service").read_text()
    (exec_start,) = [x for x in unit.splitlines() if x.startswith("ExecStart=")]
    assert " webhook --listen " in exec_start and "--secret-file /etc/gitpuppet/" in exec_start
    assert "@" not in unit.split("[Unit]", 1)[1]  # installable by hand: no placeholders
    project = tomllib.loads((repo / "pyproject.toml").read_text())
    shipped = project["tool"]["setuptools"]["data-files"]["share/gitpuppet/systemd"]
    assert "systemd/gitpuppet-webhook.service" in shipped
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd) to parse the unit")
    local = exec_start.split()[0].removeprefix("ExecStart=")
    copy = tmp_path / "gitpuppet-webhook.service"
    copy.write_text(unit.replace(local, sys.executable))  # an executable that exists here
    done = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "gitpuppet-webhook" not in done.stderr, done.stderr
