"""Simulated nodes for the reports-repository tests and bench: one control repo, one (or several)
reports repos, and per node its own name, state dir, run dir and config file.

A node run is the real `gitpuppet run --now` in a subprocess (so many nodes run at once, as a
fleet does); the reports repo is read back with the git CLI (tests only).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.gitservers import git

ROOT = Path(__file__).resolve().parents[2]


def make_reports_repo(path: Path) -> Path:
    """An empty bare repository that accepts pushes over ssh and http (http.receivepack)."""
    git("init", "-q", "--bare", str(path))
    git("config", "http.receivepack", "true", cwd=path)
    git("config", "receive.autogc", "false", cwd=path)  # a gc racing the next push: not ours
    return path


def make_control_repo(base: Path, target: Path) -> tuple[Path, Path]:
    """A control repo: nodes named fail-* get a resource that fails (its folder is missing)."""
    bare = base / "control.git"
    work = base / "control-work"
    git("init", "-q", "--bare", "-b", "production", str(bare))
    git("init", "-q", "-b", "production", str(work))
    git("remote", "add", "origin", str(bare), cwd=work)
    target.mkdir(parents=True, exist_ok=True)
    (work / "classes").mkdir()
    (work / "nodes.yaml").write_text("'fail-*':\n  classes: [bad]\ndefault:\n  classes: [good]\n")
    (work / "classes/good.yaml").write_text(
        f'resources:\n  - file: {target}/{{{{ node.name }}}}\n    content: "ok\\n"\n'
    )
    (work / "classes/bad.yaml").write_text(
        f'resources:\n  - file: {target}/missing/dir/{{{{ node.name }}}}\n    content: "x\\n"\n'
    )
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "first", cwd=work)
    git("push", "-q", "origin", "production", cwd=work)
    return bare, work


@dataclass
class Node:
    """One simulated node: its name and config file."""

    name: str
    config: Path
    state: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`gitpuppet run --now` for this node."""
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "gitpuppet.cli",
                "run",
                "--now",
                *args,
                "--config",
                str(self.config),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )


def make_node(base: Path, name: str, control: Path, reports: dict[str, Any], **extra: Any) -> Node:
    """A node folder with its config (reports: {...} as given)."""
    home = base / name
    home.mkdir(parents=True)
    (home / "facts.d").mkdir()
    lines = {
        "repo": f"file://{control}",
        "branch": "production",
        "node_name": name,
        "state_dir": str(home / "state"),
        "run_dir": str(home / "run"),
        "facts_d": str(home / "facts.d"),
        "splay": "0s",
        "interval": "10m",
        **extra,
    }
    text = "".join(f"{k}: {json.dumps(str(v))}\n" for k, v in lines.items())
    text += "reports:\n" + "".join(f"  {k}: {json.dumps(str(v))}\n" for k, v in reports.items())
    (home / "config.yaml").write_text(text)
    return Node(name, home / "config.yaml", home / "state")


def run_all(nodes: list[Node], workers: int = 8) -> list[subprocess.CompletedProcess[str]]:
    """Run every node at once (`workers` at a time)."""
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda n: n.run(), nodes))


def branch_file(repo: Path, node: str, name: str) -> Any:
    """A JSON file of a node's branch tip in a bare reports repo (None: no branch)."""
    try:
        text = git("show", f"refs/heads/nodes/{node}:{name}", cwd=repo)
    except RuntimeError:
        return None
    return json.loads(text)


def refs(repo: Path, prefix: str) -> list[str]:
    """Ref names under `prefix` in a bare repo."""
    out = git("for-each-ref", "--format=%(refname)", prefix, cwd=repo)
    return [line for line in out.splitlines() if line]
