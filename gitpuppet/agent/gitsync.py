"""The node's own clone under state_dir: fetch from the mirrors, read one commit's tree, mark refs.

This is the agent's small pygit2 layer, used while `gitpuppet.git.repo` (the full git layer) is
not installed; `open_node_repo` prefers that one when it exists. A clone that cannot be opened,
fetched into or read is recloned into a fresh folder, and replaces the old one only once the
fresh fetch worked, so a network outage never costs the node its last good commit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import pygit2

from gitpuppet.errors import GitpuppetError


class FetchError(GitpuppetError):
    """Every URL failed; `errors` holds one reason per URL."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("pull failed: " + "; ".join(errors))
        self.errors = errors


@dataclass
class FetchResult:
    """The branch head after a fetch, the URL it came from and the URLs that failed first."""

    head: str
    url: str
    errors: list[str] = field(default_factory=list)


@dataclass
class Verification:
    """Whether a commit is signed by an allowed key; `reason` says why not."""

    ok: bool
    signer: str | None = None
    reason: str = ""


class NodeRepoLike(Protocol):
    """What the agent needs from the node's clone (the git layer's NodeRepo has the same)."""

    def fetch(self, start: int = 0) -> Any: ...

    def tree(self, commit_id: str) -> Any: ...

    def mark(self, name: str, commit: str) -> None: ...

    def marked(self, name: str) -> str | None: ...


class GitTree:
    """A SourceTree read straight from one commit's objects, so a run never sees a half tree."""

    def __init__(self, repo: pygit2.Repository, commit_id: str) -> None:
        commit = repo.get(commit_id)
        if not isinstance(commit, pygit2.Commit):
            raise GitpuppetError(f"commit {commit_id[:12]} is not in the node's clone")
        self.root: pygit2.Tree = commit.tree
        self.label: str = f"commit {commit_id[:12]}"

    def _entry(self, path: str) -> pygit2.Object | None:
        if not path:
            return self.root
        try:
            return self.root[path]
        except KeyError:
            return None

    def read_bytes(self, path: str) -> bytes:
        obj = self._entry(path)
        if not isinstance(obj, pygit2.Blob):
            raise FileNotFoundError(path)
        try:
            return obj.data
        except (pygit2.GitError, KeyError) as exc:
            raise GitpuppetError(
                f"{self.label}: {path} cannot be read from the clone: {exc}"
            ) from None

    def is_file(self, path: str) -> bool:
        return isinstance(self._entry(path), pygit2.Blob)

    def is_dir(self, path: str) -> bool:
        return isinstance(self._entry(path), pygit2.Tree)

    def list_dir(self, path: str) -> list[str]:
        obj = self._entry(path)
        return sorted(e.name or "" for e in obj) if isinstance(obj, pygit2.Tree) else []

    def walk_files(self, path: str) -> list[str]:
        obj = self._entry(path)
        out: list[str] = []

        def walk(tree: pygit2.Tree, prefix: str) -> None:
            for entry in tree:
                rel = f"{prefix}{entry.name}"
                if isinstance(entry, pygit2.Tree):
                    walk(entry, rel + "/")
                elif isinstance(entry, pygit2.Blob):
                    out.append(rel)

        if isinstance(obj, pygit2.Tree):
            walk(obj, f"{path}/" if path else "")
        return sorted(out)


class _Callbacks(pygit2.RemoteCallbacks):
    """ssh key auth; the host key must be in known_hosts (libgit2 checks it, we obey)."""

    def __init__(self, ssh_key: Path | None) -> None:
        super().__init__()
        self.ssh_key = ssh_key

    def credentials(self, url: str, username_from_url: str | None, allowed_types: int) -> Any:
        if self.ssh_key is None:
            raise GitpuppetError(f"{url}: the server asks for a key and no ssh_key is configured")
        pub = Path(f"{self.ssh_key}.pub")
        return pygit2.Keypair(
            username_from_url or "git", str(pub) if pub.exists() else "", str(self.ssh_key), ""
        )

    def certificate_check(self, certificate: Any, valid: bool, host: bytes | str) -> bool:
        # Never accept an unknown host key silently (SPEC §7.2).
        return bool(valid)


class LocalNodeRepo:
    """A bare clone of one branch, fetched from the first URL (of a rotated list) that answers."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        urls: list[str],
        branch: str,
        ssh_key: Path | None = None,
        known_hosts: Path | None = None,
    ) -> None:
        self.path = Path(path)
        self.urls = urls
        self.branch = branch
        self.ssh_key = ssh_key
        self.known_hosts = known_hosts
        self._repo: pygit2.Repository | None = None

    @property
    def tracking_ref(self) -> str:
        return f"refs/remotes/origin/{self.branch}"

    def _open(self, path: Path) -> pygit2.Repository:
        if (path / "HEAD").exists():
            return pygit2.Repository(str(path))
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return pygit2.init_repository(str(path), bare=True)

    @property
    def repo(self) -> pygit2.Repository:
        if self._repo is None:
            self._repo = self._open(self.path)
        return self._repo

    def _ssh_home(self) -> None:
        if self.known_hosts is None or not any(
            u.startswith("ssh://") or "@" in u for u in self.urls
        ):
            return
        # libgit2 reads <homedir>/.ssh/known_hosts; point it at a copy of the configured file.
        home = self.path.parent / "ssh-home"
        (home / ".ssh").mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copyfile(self.known_hosts, home / ".ssh" / "known_hosts")
        pygit2.settings.homedir = str(home)

    def _fetch_into(self, repo: pygit2.Repository, start: int) -> FetchResult:
        errors: list[str] = []
        order = self.urls[start:] + self.urls[:start]
        refspec = f"+refs/heads/{self.branch}:{self.tracking_ref}"
        for url in order:
            try:
                remote = repo.remotes.create_anonymous(url)
                remote.fetch([refspec], callbacks=_Callbacks(self.ssh_key))
                ref = repo.references.get(self.tracking_ref)
                if ref is None:
                    errors.append(f"{_safe(url)}: no branch '{self.branch}'")
                    continue
                head = str(ref.target)
                _check_readable(repo, head)
                return FetchResult(head, url, errors)
            except (pygit2.GitError, GitpuppetError, OSError, ValueError, KeyError) as exc:
                errors.append(f"{_safe(url)}: {str(exc).strip() or type(exc).__name__}")
        raise FetchError(errors)

    def fetch(self, start: int = 0) -> FetchResult:
        """Fetch the branch; a broken clone is recloned. Raises FetchError when every URL fails."""
        self._ssh_home()
        try:
            return self._fetch_into(self.repo, start)
        except (FetchError, pygit2.GitError, OSError, ValueError) as first:
            fresh = Path(tempfile.mkdtemp(prefix=".reclone-", dir=self.path.parent))
            try:
                result = self._fetch_into(pygit2.init_repository(str(fresh), bare=True), start)
            except FetchError:
                shutil.rmtree(fresh, ignore_errors=True)
                if isinstance(first, FetchError):
                    raise
                raise FetchError([f"the clone at {self.path} is unreadable: {first}"]) from None
            # The fresh clone worked, so the old one was broken: keep its marks, then swap.
            marks = {name: self._safe_marked(name) for name in ("applied", "last-good")}
            old = self.path.with_name(self.path.name + ".broken")
            shutil.rmtree(old, ignore_errors=True)
            if self.path.exists():
                self.path.rename(old)
            fresh.rename(self.path)
            shutil.rmtree(old, ignore_errors=True)
            self._repo = None
            for name, commit in marks.items():
                if commit and self.repo.get(commit) is not None:
                    self.mark(name, commit)
            result.errors.append(f"the clone at {self.path} was broken and has been recloned")
            return result

    def _safe_marked(self, name: str) -> str | None:
        try:
            return self.marked(name)
        except (pygit2.GitError, OSError, ValueError):
            return None

    def tree(self, commit_id: str) -> GitTree:
        """The SourceTree of one commit."""
        try:
            return GitTree(self.repo, commit_id)
        except (pygit2.GitError, ValueError, OSError) as exc:
            raise GitpuppetError(f"commit {commit_id[:12]} cannot be read: {exc}") from None

    def mark(self, name: str, commit: str) -> None:
        """Point refs/gitpuppet/<name> at `commit` (keeps it readable after force pushes)."""
        self.repo.references.create(f"refs/gitpuppet/{name}", commit, force=True)

    def marked(self, name: str) -> str | None:
        """The commit refs/gitpuppet/<name> points at, if any."""
        ref = self.repo.references.get(f"refs/gitpuppet/{name}")
        return str(ref.target) if ref is not None else None

    def commit_summary(self, commit_id: str) -> str:
        """First line of the commit message (for `pull`)."""
        commit = self.repo.get(commit_id)
        return commit.message.splitlines()[0] if isinstance(commit, pygit2.Commit) else ""


def _check_readable(repo: pygit2.Repository, commit_id: str) -> None:
    """Read every object of the commit's tree: a corrupt clone fails here, not mid-compile."""
    commit = repo.get(commit_id)
    if not isinstance(commit, pygit2.Commit):
        raise ValueError(f"commit {commit_id[:12]} is missing from the clone")
    stack = [commit.tree]
    while stack:
        for entry in stack.pop():
            obj = repo.get(entry.id)
            if obj is None:
                raise ValueError(f"object {entry.id} ({entry.name}) is missing or damaged")
            if isinstance(obj, pygit2.Tree):
                stack.append(obj)
            elif isinstance(obj, pygit2.Blob):
                obj.data  # noqa: B018 - decompresses, so a damaged object raises now


def _safe(url: str) -> str:
    """A URL without a password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def verify_signature(
    repo: pygit2.Repository, commit_id: str, allowed_signers: Path
) -> Verification:
    """Check an ssh signature (gpg.format=ssh) against allowed_signers with ssh-keygen -Y."""
    commit = repo.get(commit_id)
    if not isinstance(commit, pygit2.Commit):
        return Verification(False, None, "the commit is not in the clone")
    signature, payload = commit.gpg_signature
    if not signature or payload is None:
        return Verification(False, None, "the commit is not signed")
    if b"BEGIN SSH SIGNATURE" not in signature:
        return Verification(False, None, "the signature is not an ssh signature")
    with tempfile.TemporaryDirectory(prefix="gitpuppet-verify-") as tmp:
        sig = Path(tmp) / "sig"
        sig.write_bytes(signature)
        found = subprocess.run(
            ["ssh-keygen", "-Y", "find-principals", "-f", str(allowed_signers), "-s", str(sig)],
            capture_output=True,
            timeout=30,
        )
        principal = found.stdout.decode(errors="replace").strip().splitlines()
        if found.returncode != 0 or not principal:
            return Verification(False, None, "signed by a key that is not in allowed_signers")
        name = principal[0]
        checked = subprocess.run(
            ["ssh-keygen", "-Y", "verify", "-f", str(allowed_signers), "-I", name, "-n", "git"]
            + ["-s", str(sig)],
            input=payload,
            capture_output=True,
            timeout=30,
        )
    if checked.returncode != 0:
        return Verification(False, name, "the signature does not match the commit")
    return Verification(True, name, "")
