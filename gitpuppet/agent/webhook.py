"""Push webhooks (`gitpuppet webhook`): who may poke a run, and which pokes count.

A request is only a poke: it never carries what to apply. The decision (`decide`) is pure and
takes the raw body and headers; gitpuppet.agent.webhook_server does the HTTP and starts runs.

- Authentication: GitHub `X-Hub-Signature-256` (`sha256=` + HMAC-SHA256 of the raw body, hex),
  Gitea/Forgejo `X-Gitea-Signature` / `X-Forgejo-Signature` (the same HMAC, bare hex), GitLab
  `X-Gitlab-Token` (the secret itself). Every such header present must match, compared in
  constant time; a request with none is refused.
- Replays: a delivery id already seen, or a body already seen (its HMAC), is ignored.
- Only a push to the branch this node follows pokes a run; a ping is answered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

from gitpuppet.errors import GitpuppetError

MAX_BODY = 1024 * 1024  # GitHub caps payloads at 25 MB, but a push of a normal size is far less
SEEN_KEEP = 4096  # deliveries remembered for replay detection (oldest forgotten first)

# (header, provider, how the value is checked)
SIGNATURE_HEADERS = (
    ("x-hub-signature-256", "github", "sha256="),
    ("x-gitea-signature", "gitea", ""),
    ("x-forgejo-signature", "forgejo", ""),
    ("x-gitlab-token", "gitlab", None),  # None: the value is the secret itself
)
DELIVERY_HEADERS = (
    "x-github-delivery",
    "x-gitea-delivery",
    "x-forgejo-delivery",
    "x-gitlab-event-uuid",
)
EVENT_HEADERS = ("x-gitea-event", "x-forgejo-event", "x-github-event")
GITLAB_PUSH = "push hook"


class WebhookError(GitpuppetError):
    """The webhook cannot start (secret file, listen address)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to one request: HTTP status, a one-line message, and whether to poke a run."""

    status: int
    message: str
    poke: bool = False


# --- the secret ----------------------------------------------------------------------------


def read_secret(path: str | os.PathLike[str]) -> bytes:
    """The shared secret in `path` (surrounding whitespace dropped); refuses a file others can
    read or change. The secret itself never appears in an error."""
    where = Path(path)
    try:
        fd = os.open(where, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as exc:
        raise WebhookError(
            f"{where}: cannot read the webhook secret: {exc.strerror}",
            "create it with `install -m 0600 /dev/null FILE` and write the secret into it",
        ) from None
    try:
        info = os.fstat(fd)  # the file opened, not whatever the path points at a moment later
        _check_secret_file(where, info)
        data = os.read(fd, 65537)
    finally:
        os.close(fd)
    secret = data.strip()
    if not secret:
        raise WebhookError(f"{where}: the webhook secret file is empty", "write the secret into it")
    if len(data) > 65536:
        raise WebhookError(f"{where}: not a secret (over 64 KiB)", "give the file with the secret")
    return secret


def _check_secret_file(where: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise WebhookError(f"{where}: the webhook secret is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o007:
        raise WebhookError(
            f"{where}: the webhook secret is readable or writable by every user "
            f"(mode {mode:04o}); refusing to use it",
            f"chmod o= {where}, then give every place that had it a new secret",
        )
    if mode & 0o020:
        raise WebhookError(
            f"{where}: the webhook secret is writable by its group (mode {mode:04o})",
            f"chmod g-w {where}",
        )
    if info.st_uid not in (0, os.geteuid()):
        raise WebhookError(
            f"{where}: the webhook secret belongs to uid {info.st_uid}, not to root",
            f"chown root {where}",
        )


# --- signatures ------------------------------------------------------------------------------


def body_hmac(secret: bytes, body: bytes) -> str:
    """HMAC-SHA256 of the raw body, lower-case hex (what GitHub and Gitea sign)."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def github_signature(secret: bytes, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body`."""
    return "sha256=" + body_hmac(secret, body)


def header_map(pairs: Iterable[tuple[str, str]]) -> dict[str, str | None]:
    """Headers by lower-case name; a header given twice maps to None (it then never matches)."""
    out: dict[str, str | None] = {}
    for name, value in pairs:
        key = name.lower()
        out[key] = None if key in out else value.strip()
    return out


def authenticate(headers: Mapping[str, str | None], body: bytes, secret: bytes) -> str | None:
    """None when the request is signed with `secret`; else why not (for the log, never the
    values). Every signature header present must match; at least one must be present."""
    expected = body_hmac(secret, body).encode()
    found = 0
    for name, provider, prefix in SIGNATURE_HEADERS:
        if name not in headers:
            continue
        found += 1
        value = headers[name]
        if value is None:
            return f"{name} given twice ({provider})"
        given = value.encode("latin-1", "replace")
        if prefix is None:
            ok = hmac.compare_digest(given, secret)
        else:
            ok = hmac.compare_digest(given.lower(), prefix.encode() + expected)
        if not ok:
            return f"{name} does not match ({provider})"
    return (
        None
        if found
        else "no signature header (X-Hub-Signature-256, X-Gitea-Signature, X-Gitlab-Token)"
    )


# --- replays ---------------------------------------------------------------------------------


class SeenDeliveries:
    """Delivery ids and body signatures already answered (bounded, oldest dropped first).

    In memory only: after a restart an old delivery could poke once more, which is harmless
    (a poke runs what a timer run would run anyway).
    """

    def __init__(self, keep: int = SEEN_KEEP) -> None:
        self._keep = keep
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def seen_before(self, keys: list[str]) -> bool:
        """Whether any of `keys` was seen; all of them are remembered from now on."""
        with self._lock:
            hit = any(key in self._seen for key in keys)
            for key in keys:
                self._seen[key] = None
                self._seen.move_to_end(key)
            while len(self._seen) > self._keep:
                self._seen.popitem(last=False)
            return hit


def delivery_keys(headers: Mapping[str, str | None], signature: str) -> list[str]:
    """What identifies a delivery: the providers' delivery ids and the body's signature."""
    keys = [f"body:{signature}"]
    for name in DELIVERY_HEADERS:
        value = headers.get(name)
        if value:
            keys.append(f"{name}:{value}")
    return keys


# --- events and payloads -----------------------------------------------------------------------


def event_of(headers: Mapping[str, str | None]) -> str:
    """`push`, `ping`, or the provider's own name of another event ('' when none is given)."""
    gitlab = headers.get("x-gitlab-event")
    if gitlab:
        return "push" if gitlab.lower() == GITLAB_PUSH else gitlab
    for name in EVENT_HEADERS:
        value = headers.get(name)
        if value:
            return value.lower()
    return ""


def ref_of(body: bytes, content_type: str) -> str:
    """The `ref` of a push payload (JSON, or GitHub's form encoding `payload=<json>`)."""
    text = body.decode("utf-8")
    form = content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded"
    if form and not text.lstrip().startswith("{"):  # some senders label JSON as a form
        values = parse_qs(text).get("payload")
        if not values:
            raise ValueError("a form-encoded body without a payload field")
        text = values[0]
    payload = json.loads(text)
    ref = payload.get("ref") if isinstance(payload, dict) else None
    if not isinstance(ref, str):
        raise ValueError("the payload has no 'ref'")
    return ref


def decide(
    headers: Mapping[str, str | None],
    body: bytes,
    secret: bytes,
    branch: str,
    seen: SeenDeliveries,
) -> Verdict:
    """What to answer, and whether to poke a run. The payload's commit id is never read: the
    run fetches and chooses for itself."""
    why = authenticate(headers, body, secret)
    if why is not None:
        return Verdict(401, f"unauthorized: {why}")
    if seen.seen_before(delivery_keys(headers, body_hmac(secret, body))):
        return Verdict(202, "ignored: this delivery was already received")
    event = event_of(headers)
    if event == "ping":
        return Verdict(200, "pong")
    if event != "push":
        return Verdict(202, f"ignored: event {event or '(none)'!r} is not a push")
    try:
        ref = ref_of(body, headers.get("content-type") or "")
    except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        return Verdict(400, f"bad push payload: {exc}")
    if ref != f"refs/heads/{branch}":
        return Verdict(202, f"ignored: push to {ref}, this node follows refs/heads/{branch}")
    return Verdict(202, f"push to {ref}", poke=True)
