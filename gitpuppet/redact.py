"""Keeping secrets out of everything gitpuppet prints or writes.

Two kinds of secret reach output by accident:

- credentials in URLs (`https://TOKEN@host/…`, `https://user:pass@host/…`, `?private_token=…`),
  quoted by fetch errors, messages and reports: `redact_url` finds every URL in a text and blanks
  them;
- resources declared `sensitive: true`, whose title may be the secret itself (an exec's title is
  its command, a line's title is the line): `Redactor` names them by a label instead
  (`exec:[sensitive 3f2a1c]`, see `model.sensitive_label`) in every message, and blanks the
  resource's own values in its own messages.

A run's results are redacted once, where the applier settles each one (`Redactor.result`):
everything that prints or records results (run output, reports, failures.json) takes them as
they are. Other texts are redacted where they leave the program (messages, the summary, status,
errors, `gitpuppet node`'s attributes through `shown_attrs`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from gitpuppet.model import REDACTED, Change, Ref, Resource, Result, sensitive_label

MASK = "***"

# scheme://… up to whitespace, a quote or an angle bracket.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
_TRAILING = ".,;:)]}"
# Query or fragment parameters whose value is a credential, by name.
_SECRET_NAME = re.compile(
    r"token|key|secret|passw|pwd|auth|sig|credential|session|bearer|jwt|code|otp", re.IGNORECASE
)
_KEY_CHARS = re.compile(r"[A-Za-z0-9_\-.~+/=]+")
_KEY_PREFIXES = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xox")
_MIN_SCRUB = 4  # shorter values of a sensitive resource are not blanked in its messages


def looks_like_key(value: str) -> bool:
    """A token, an API key or a password by its shape: long, letters and digits mixed."""
    if value.startswith(_KEY_PREFIXES) and len(value) > 8:
        return True
    if len(value) < 16 or not _KEY_CHARS.fullmatch(value):
        return False
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def redact_url(text: str) -> str:
    """`text` with the credentials of every URL in it replaced by `***`: the user and password
    (a lone https user is a token; an ssh user such as `git` is kept), and the values of query
    and fragment parameters that are named or shaped like a key."""
    if "://" not in text:
        return text
    return _URL.sub(_redact_match, text)


def _redact_match(match: re.Match[str]) -> str:
    url = match.group(0)
    trail = len(url) - len(url.rstrip(_TRAILING))
    if trail:
        return _redact_one(url[:-trail]) + url[-trail:]
    return _redact_one(url)


def _redact_one(url: str) -> str:
    scheme, _, rest = url.partition("://")
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    if "@" in authority:
        userinfo, host = authority.rsplit("@", 1)
        authority = f"{_redact_userinfo(scheme.lower(), userinfo)}@{host}"
    return f"{scheme}://{authority}{_redact_params(tail)}"


def _redact_userinfo(scheme: str, userinfo: str) -> str:
    user, has_password, _ = userinfo.partition(":")
    # https://TOKEN@host: the only credential is the user; ssh://git@host: a plain login name.
    keep_user = (has_password or not scheme.startswith("http")) and not looks_like_key(user)
    shown = user if keep_user else MASK
    return f"{shown}:{MASK}" if has_password else shown


def _redact_params(tail: str) -> str:
    """Blank secret values in the query (`?a=b&c=d`) and fragment of a URL's tail."""
    out = []
    for part in re.split(r"([?#&;])", tail):
        name, eq, value = part.partition("=")
        if eq and value and (_SECRET_NAME.search(name) or looks_like_key(value)):
            part = f"{name}={MASK}"
        out.append(part)
    return "".join(out)


def redact_value(value: Any) -> Any:
    """A value for display: URL credentials blanked in strings, lists and mappings."""
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    return value


def shown_change(c: Change) -> Change:
    """A change as output may show it: hidden when redacted, URL credentials blanked."""
    if c.redacted:
        return c.hidden()
    diff = redact_url(c.diff) if c.diff else c.diff
    return Change(c.attr, redact_value(c.old), redact_value(c.new), diff)


def shown_attrs(res: Resource, attrs: dict[str, Any]) -> dict[str, Any]:
    """A resource's attributes for display: every value of a sensitive resource and the spec's
    secret attributes (a password hash) hidden, URL credentials blanked."""
    secret = res.params.secret_attrs
    return {
        key: REDACTED if res.sensitive or key in secret else redact_value(value)
        for key, value in attrs.items()
    }


def shown_define(res: Resource) -> str | None:
    """The define use a resource came from, as output names it (a sensitive one by a label)."""
    if res.define is None or not res.sensitive:
        return res.define
    kind, _, title = res.define.partition(":")
    return sensitive_label(Ref(kind, title))


def secret_values(res: Resource) -> list[str]:
    """What a sensitive resource's own messages must not quote: its title and its string
    values (the command, the line), longest first."""
    found = {res.title}
    params = getattr(res.params, "__dataclass_fields__", {})
    for name in params:
        value = getattr(res.params, name, None)
        items = value if isinstance(value, list | tuple) else [value]
        found.update(v for v in items if isinstance(v, str))
    return sorted((v for v in found if len(v) >= _MIN_SCRUB), key=len, reverse=True)


class Redactor:
    """Rewrites texts of one catalog: a sensitive resource's reference becomes its label."""

    def __init__(self, resources: Iterable[Resource]) -> None:
        self.labels = {str(r.ref): sensitive_label(r.ref) for r in resources if r.sensitive}
        keys = sorted(self.labels, key=len, reverse=True)
        # A reference ends a word: `exec:echo 1` must not match inside `exec:echo 10`.
        alternatives = "|".join(map(re.escape, keys))
        self._refs = re.compile(f"(?:{alternatives})(?=$|[\\s,;)])") if keys else None

    def text(self, text: str) -> str:
        """`text` with sensitive references replaced by their labels and URL credentials blanked."""
        if not text:
            return text
        if self._refs is not None:
            text = self._refs.sub(lambda m: self.labels[m.group(0)], text)
        return redact_url(text)

    def message(self, res: Resource | None, text: str) -> str:
        """A message about `res`: also, when `res` is sensitive, none of its values quoted."""
        if not text:
            return text
        text = self.text(text)
        if res is not None and res.sensitive:
            for secret in secret_values(res):
                text = text.replace(secret, REDACTED)
        return text

    def result(self, res: Resource, result: Result) -> None:
        """Redact `result` in place, once, when the applier settles it: its message, its
        changes (all hidden for a sensitive resource) and a command's output (dropped for a
        sensitive resource: it may echo the secret)."""
        result.message = self.message(res, result.message)
        if res.sensitive:
            result.changes = [c.hidden() for c in result.changes]
            result.output = None
            return
        result.changes = [shown_change(c) for c in result.changes]
        if result.output:
            result.output = redact_url(result.output)
