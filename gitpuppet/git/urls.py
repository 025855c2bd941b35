"""What a repository URL says: transport, user, host and port (for messages and host keys)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from gitpuppet.redact import redact_url

# user@host:path, git's scp-like syntax: no scheme, a colon before the first slash.
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/]+)@)?(?P<host>\[[^\]]+\]|[^:/]+):(?P<path>(?!//).*)$")


@dataclass(frozen=True, slots=True)
class RemoteUrl:
    """A parsed URL: `transport` is one of ssh, https, http, git, local."""

    url: str
    transport: str
    user: str | None = None
    host: str | None = None
    port: int | None = None

    @property
    def shallow_ok(self) -> bool:
        """libgit2's local transport refuses shallow fetches; every network transport takes them."""
        return self.transport != "local"

    @property
    def host_label(self) -> str:
        """host:port as a person writes it (the port only when not the default)."""
        if self.host is None:
            return self.url
        return f"{self.host}:{self.port}" if self.port else self.host

    @property
    def known_hosts_name(self) -> str:
        """The host as OpenSSH writes it in known_hosts: `[host]:port` for a non-default port."""
        host = self.host or ""
        return f"[{host}]:{self.port}" if self.port and self.port != 22 else host

    @property
    def keyscan_hint(self) -> str:
        """The ssh-keyscan command that prints the line to add for this host."""
        port = f"-p {self.port} " if self.port and self.port != 22 else ""
        return f"ssh-keyscan {port}{self.host}"


def parse_url(url: str) -> RemoteUrl:
    """Classify a repository URL; plain paths and file:// are `local`."""
    if "://" in url:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "file":
            return RemoteUrl(url, "local")
        transport = {"ssh": "ssh", "git+ssh": "ssh", "ssh+git": "ssh"}.get(scheme, scheme)
        try:
            port = parts.port
        except ValueError:
            port = None
        return RemoteUrl(url, transport, parts.username, parts.hostname, port)
    match = _SCP_LIKE.match(url)
    if match and not url.startswith(("/", "./", "../")):
        return RemoteUrl(url, "ssh", match["user"], match["host"].strip("[]"), None)
    return RemoteUrl(url, "local")


def redact(url: str) -> str:
    """The URL without its credentials (password, token, key-like query values), for messages
    and reports (see gitpuppet.redact.redact_url)."""
    return redact_url(url)
