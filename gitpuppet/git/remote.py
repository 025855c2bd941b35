"""Talking to a remote: credentials, host keys, timeouts, and errors a person can act on.

libgit2 (through libssh2) checks an ssh host key against `<homedir>/.ssh/known_hosts` and hands
the verdict to `certificate_check`; Python never sees the key itself. So the configured
known_hosts is copied into a private home folder and `pygit2.settings.homedir` points there. That
setting is process-wide: the agent has one known_hosts, so that is fine.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import pwd
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pygit2
from pygit2.enums import CredentialType

from gitpuppet.errors import GitpuppetError
from gitpuppet.git.urls import RemoteUrl
from gitpuppet.redact import redact_url

CONNECT_TIMEOUT_MS = 15_000  # a blackholed mirror must not hold the run for minutes
IO_TIMEOUT_MS = 120_000
_TRUSTED_CA_FILES: set[str] = set()
_MAX_AUTH_TRIES = 3  # libgit2 asks again after every refusal; without a cap it loops forever


class RemoteError(GitpuppetError):
    """One URL could not be fetched from; the message says why and what to do."""


def set_timeouts() -> None:
    """Bound connect and read times of every transport (process-wide libgit2 settings)."""
    pygit2.settings.server_connect_timeout = CONNECT_TIMEOUT_MS
    pygit2.settings.server_timeout = IO_TIMEOUT_MS


def trust_ca_file(ca_file: Path) -> None:
    """Trust the CA certificates in `ca_file` (PEM) for https, besides the system store.

    libgit2 adds them to its process-wide OpenSSL store (once is enough for the process).
    """
    key = str(ca_file)
    if key in _TRUSTED_CA_FILES:
        return
    try:
        pygit2.settings.set_ssl_cert_locations(key, None)
    except pygit2.GitError as exc:
        raise RemoteError(
            f"the CA file {ca_file} cannot be used: {exc}",
            "ca_file must hold PEM certificates (-----BEGIN CERTIFICATE-----)",
        ) from None
    _TRUSTED_CA_FILES.add(key)


def install_known_hosts(known_hosts: Path | None, home: Path) -> Path:
    """Copy the host keys libgit2 should trust into `home`/.ssh and point libgit2 at `home`.

    With no known_hosts configured, the running user's ~/.ssh/known_hosts is used (as ssh would).
    Returns the file a message should name.
    """
    source = known_hosts if known_hosts is not None else _user_known_hosts()
    ssh_dir = home / ".ssh"
    ssh_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = ssh_dir / "known_hosts"
    tmp = ssh_dir / ".known_hosts.tmp"
    try:
        shutil.copyfile(source, tmp)
    except FileNotFoundError:
        if known_hosts is not None:
            raise GitpuppetError(
                f"known_hosts file {known_hosts} does not exist",
                f"create it with ssh-keyscan HOST > {known_hosts}, or fix known_hosts in the config",
            ) from None
        tmp.write_bytes(b"")
    os.replace(tmp, target)
    pygit2.settings.homedir = str(home)
    return source


def _user_known_hosts() -> Path:
    try:
        home = pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        home = os.path.expanduser("~")
    return Path(home) / ".ssh" / "known_hosts"


def host_in_known_hosts(known_hosts: Path, name: str) -> bool:
    """True when `name` (`host` or `[host]:port`) has a line in the file, hashed or not."""
    try:
        lines = known_hosts.read_text(errors="replace").splitlines()
    except OSError:
        return False
    for line in lines:
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if fields[0].startswith("@"):  # @cert-authority / @revoked markers
            fields = fields[1:]
        if fields and any(_host_matches(pattern, name) for pattern in fields[0].split(",")):
            return True
    return False


def _host_matches(pattern: str, name: str) -> bool:
    if pattern.startswith("|1|"):  # HashKnownHosts: |1|base64(salt)|base64(hmac-sha1(name))
        try:
            salt, digest = (base64.b64decode(p) for p in pattern[3:].split("|", 1))
        except (ValueError, TypeError):
            return False
        return hmac.compare_digest(hmac.new(salt, name.encode(), hashlib.sha1).digest(), digest)
    return pattern == name


class Callbacks(pygit2.RemoteCallbacks):
    """Credentials from the configured key (or the URL's user:password); host keys must be known."""

    def __init__(self, remote: RemoteUrl, ssh_key: Path | None, known_hosts_file: Path) -> None:
        super().__init__()
        self.where = remote
        self.ssh_key = ssh_key
        self.known_hosts_file = known_hosts_file
        self.tries = 0

    def credentials(
        self, url: str, username_from_url: str | None, allowed_types: CredentialType
    ) -> Any:
        """Answer libgit2's request for credentials, at most a few times per fetch."""
        self.tries += 1
        user = username_from_url or self.where.user or "git"
        if self.tries > _MAX_AUTH_TRIES:
            raise self._refused(user)
        if allowed_types & CredentialType.USERNAME:
            return pygit2.Username(user)
        if allowed_types & CredentialType.SSH_KEY:
            if self.ssh_key is None:
                raise RemoteError(
                    f"{self.where.host_label} asks for an ssh key and none is configured",
                    "set ssh_key in the agent config (bootstrap --ssh-key)",
                )
            if not self.ssh_key.is_file():
                raise RemoteError(f"ssh key {self.ssh_key} does not exist", "fix ssh_key")
            if self.tries > 1:
                raise self._refused(user)
            pub = Path(f"{self.ssh_key}.pub")
            return pygit2.Keypair(user, pub if pub.is_file() else None, self.ssh_key, "")
        if allowed_types & CredentialType.USERPASS_PLAINTEXT:
            if self.tries > 1:
                raise RemoteError(f"{self.where.host_label} refused the user and password")
            parts = urlsplit(self.where.url)
            if parts.username and parts.password:
                return pygit2.UserPass(unquote(parts.username), unquote(parts.password))
            raise RemoteError(
                f"{self.where.host_label} asks for a user and password",
                "put them in the URL (https://user:token@host/...) or use an ssh URL",
            )
        raise RemoteError(f"{self.where.host_label} asks for credentials gitpuppet cannot give")

    def _refused(self, user: str) -> RemoteError:
        return RemoteError(
            f"{self.where.host_label} refused ssh key {self.ssh_key} for user '{user}'",
            f"add {self.ssh_key}.pub to that user's authorized keys (a deploy key)",
        )

    def certificate_check(self, certificate: Any, valid: bool, host: bytes | str) -> bool:
        """Trust exactly what libgit2 verified: known_hosts for ssh, the CA store for https."""
        if valid:
            return True
        if self.where.transport == "ssh":
            raise self.host_key_error()
        name = host.decode(errors="replace") if isinstance(host, bytes) else host
        raise RemoteError(
            f"the TLS certificate of {name} is not trusted (not signed by a trusted CA, "
            "expired, or issued for another name)",
            "install its CA into the system store (update-ca-certificates), "
            "or name the CA's PEM file as ca_file in the agent config",
        )

    def host_key_error(self) -> RemoteError:
        """Unknown vs changed host key, with the command that fixes it."""
        r = self.where
        kh = self.known_hosts_file
        if host_in_known_hosts(kh, r.known_hosts_name):
            return RemoteError(
                f"host key of {r.host_label} does not match the key for it in {kh} "
                "(the server's key changed, or something is in between)",
                f"if the change is expected, replace its line with the output of "
                f"`{r.keyscan_hint}`",
            )
        return RemoteError(
            f"host key of {r.host_label} is not in {kh}",
            f"add it with `{r.keyscan_hint} >> {kh}` (and check the fingerprint)",
        )


def describe_error(remote: RemoteUrl, exc: BaseException, callbacks: Callbacks) -> str:
    """One line for a failed fetch from `remote` (libgit2 may quote the URL: credentials blanked)."""
    if isinstance(exc, GitpuppetError):
        return redact_url(str(exc))
    text = str(exc).strip() or type(exc).__name__
    if "hostkey" in text.lower() or "host key" in text.lower():
        return str(callbacks.host_key_error())
    return redact_url(text)
