"""Commit signatures: only commits signed by a key in allowed_signers are applied.

ssh signatures (git's `gpg.format=ssh`) are checked the way git checks them: `ssh-keygen -Y
find-principals` names the signer, `ssh-keygen -Y verify` checks the signature over the commit
payload in the `git` namespace, at the commit's committer time (as git does) and also at the
time this node first saw the commit: the signer chose the committer time, so a key past its
`valid-before` could otherwise sign a back-dated commit that verifies.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pygit2

from gitpuppet.command import CommandResult, run_command
from gitpuppet.errors import GitpuppetError

KEYGEN_TIMEOUT = 30
_SSH = b"-----BEGIN SSH SIGNATURE-----"
_PGP = b"-----BEGIN PGP SIGNATURE-----"


@dataclass(frozen=True, slots=True)
class Verification:
    """Whether a commit is signed by an allowed key; `reason` says why (or why not)."""

    ok: bool
    signer: str | None
    reason: str


def verify_commit(
    repo: pygit2.Repository,
    commit_id: str,
    allowed_signers: Path,
    seen_at: float | None = None,
) -> Verification:
    """Check the commit's ssh signature against `allowed_signers` at its committer time and at
    `seen_at` (when this node first saw it); never raises for a bad one."""
    try:
        commit = repo.get(commit_id)
    except (ValueError, pygit2.GitError):
        commit = None
    if not isinstance(commit, pygit2.Commit):
        return Verification(False, None, f"commit {commit_id[:12]} is not in the repository")
    short = commit.short_id
    signature, payload = commit.gpg_signature
    if not signature or payload is None:
        return Verification(False, None, f"commit {short} is not signed")
    if signature.lstrip().startswith(_PGP):
        return Verification(
            False, None, f"commit {short}: gpg signatures are not supported; sign with ssh keys"
        )
    if not signature.lstrip().startswith(_SSH):
        return Verification(False, None, f"commit {short}: unknown signature format")
    if not allowed_signers.is_file():
        return Verification(
            False, None, f"allowed_signers file {allowed_signers} does not exist (fix verify:)"
        )
    times = {"its commit time": float(commit.commit_time)}
    if seen_at is not None:
        times["the time this node first saw it"] = seen_at
    with tempfile.TemporaryDirectory(prefix="gitpuppet-verify-") as tmp:
        sig = Path(tmp) / "commit.sig"
        sig.write_bytes(signature)
        check = Verification(False, None, f"commit {short} was not checked")
        for label, when in times.items():
            check = _verify_at(short, sig, payload, allowed_signers, when, label)
            if not check.ok:
                return check
        return check


def _verify_at(
    short: str, sig: Path, payload: bytes, allowed: Path, when: float, label: str
) -> Verification:
    """The signature in `sig` over `payload`, checked as valid at epoch time `when`."""
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(when))
    at = f"-Overify-time={stamp}Z"
    try:
        found = _ssh_keygen(["-Y", "find-principals", at, "-f", str(allowed), "-s", str(sig)])
    except GitpuppetError as exc:
        return Verification(False, None, f"commit {short}: cannot check its signature: {exc}")
    principals = [p for p in found.stdout.splitlines() if p.strip()]
    if found.returncode != 0 or not principals:
        return Verification(
            False,
            None,
            f"commit {short} is signed by a key that is not in {allowed}"
            f" (or not valid at {label}, {stamp[:8]})",
        )
    failure = ""
    for principal in principals:
        checked = _ssh_keygen(
            ["-Y", "verify", at, "-f", str(allowed), "-I", principal, "-n", "git"]
            + ["-s", str(sig)],
            payload,
        )
        if checked.returncode == 0:
            return Verification(True, principal, f"commit {short} signed by {principal}")
        lines = checked.output.strip().splitlines()
        failure = lines[-1] if lines else "no reason given"
    return Verification(
        False,
        principals[0],
        f"commit {short}: the signature of {principals[0]} does not match the commit ({failure})",
    )


def _ssh_keygen(args: list[str], stdin: bytes | None = None) -> CommandResult:
    """Run ssh-keygen with argv `args` (no shell), a timeout, output captured."""
    return run_command(
        ["ssh-keygen", *args], timeout=KEYGEN_TIMEOUT, input=stdin, split_stderr=True
    )
