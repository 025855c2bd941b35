"""Shared helpers for apply tests: write a control repo, run the CLI, snapshot a tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

FACTS = {"fqdn": "t.example.com", "hostname": "t", "os": {"name": "Debian", "family": "Debian"}}


def make_repo(root: Path, resources: str, extra: dict[str, str] | None = None) -> Path:
    """A control repo whose node `t.example.com` has one class with these resources."""
    files = {
        "nodes.yaml": "t.example.com:\n  classes: [main]\n",
        "classes/main.yaml": "resources:\n" + textwrap.indent(textwrap.dedent(resources), "  "),
    }
    files.update(extra or {})
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root.parent / "facts.json").write_text(json.dumps(FACTS))
    return root


def apply_args(repo: Path, state: Path, *args: str) -> list[str]:
    """`apply` of the test node with the facts make_repo wrote, as CLI arguments."""
    return [
        "apply",
        str(repo),
        "--node",
        "t.example.com",
        "--facts",
        str(repo.parent / "facts.json"),
        "--state-dir",
        str(state),
        *args,
    ]


def apply(repo: Path, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`gitpuppet apply` as a separate process."""
    return subprocess.run(
        [sys.executable, "-m", "gitpuppet.cli", *apply_args(repo, state, *args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "GITPUPPET_CONFIG": "/nonexistent/config.yaml"},
    )


def snapshot(root: Path) -> dict[str, tuple[int, int, int, bytes | str | None]]:
    """path -> (mode, uid, gid, content or link target) for everything under root."""
    out: dict[str, tuple[int, int, int, bytes | str | None]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            if os.path.islink(full):
                data: bytes | str | None = os.readlink(full)
            elif os.path.isfile(full):
                data = Path(full).read_bytes()
            else:
                data = None
            out[os.path.relpath(full, root)] = (st.st_mode, st.st_uid, st.st_gid, data)
    return out
