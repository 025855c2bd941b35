"""Disk benchmark: the node's copy of a control repo with a long history, against one commit's tree.

Builds a repo of `--commits` commits (each rewriting `--touch` of `--files` data files), lets
`gitpuppet run --now` clone it as a node does (over file:// and over git:// from a git daemon on
127.0.0.1), then `--cycles` times pushes `--push` more commits and runs again. Prints the size of
the node's repo folder after each step, next to one commit's tree (the sum of its blob sizes, and
`git archive --format=tar.gz`). Target: the node's copy never above 1.5 times the blob bytes of
one commit's tree. The full history, what a plain clone would hold, is the upstream repo's size.

The node keeps the commits it has not applied yet (for a rollout to choose among), so the more
is pushed between two runs, the more it holds until the next compaction: `--push 20` (two
thirds of the files rewritten between runs) shows that end.

    python bench/disk_bench.py [--commits 500] [--files 300] [--cycles 10] [--push 5]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import ENV, GITPUPPET, verdict  # noqa: E402

from tests.integration.gitservers import GitDaemon, dir_size  # noqa: E402

BRANCH = "production"
NODE = "bench.example.com"
TARGET = 1.5  # the node's copy, at most, in blob bytes of one commit's tree


class History:
    """A bare repo grown with `git fast-import` (hundreds of commits in one process)."""

    def __init__(self, bare: Path, files: int, touch: int, target: Path) -> None:
        self.bare, self.files, self.touch, self.target = bare, files, touch, target
        self.rng = random.Random(42)
        self.count = 0
        self.head: str | None = None
        subprocess.run(["git", "init", "-q", "--bare", "-b", BRANCH, str(bare)], check=True)

    def _content(self, j: int) -> bytes:
        words = " ".join(f"{self.rng.getrandbits(40):010x}" for _ in range(60))
        return f"# data file {j}, rewritten in commit {self.count}\nkey{j}: {words}\n".encode()

    def _control_files(self) -> dict[str, bytes]:
        return {
            "nodes.yaml": f"{NODE}:\n  classes: [main]\n".encode(),
            "classes/main.yaml": (
                f'resources:\n  - file: {self.target}/motd\n    content: "commit {self.count}\\n"\n'
            ).encode(),
        }

    def add(self, commits: int) -> None:
        """Append `commits` commits to the branch."""
        stream = bytearray()
        for n in range(commits):
            self.count += 1
            if self.head is None and n == 0:
                changed = {f"data/f{j:04}.yaml": self._content(j) for j in range(self.files)}
            else:
                picks = self.rng.sample(range(self.files), self.touch)
                changed = {f"data/f{j:04}.yaml": self._content(j) for j in picks}
            changed.update(self._control_files())
            message = f"commit {self.count}".encode()
            stamp = 1_700_000_000 + self.count * 60
            stream += f"commit refs/heads/{BRANCH}\n".encode()
            stream += f"committer b <b@example.com> {stamp} +0000\n".encode()
            stream += b"data %d\n%s\n" % (len(message), message)
            if n == 0 and self.head is not None:
                stream += f"from {self.head}\n".encode()
            for path, data in changed.items():
                stream += f"M 100644 inline {path}\n".encode() + b"data %d\n%s\n" % (
                    len(data),
                    data,
                )
        subprocess.run(
            ["git", f"--git-dir={self.bare}", "fast-import", "--quiet"],
            input=bytes(stream),
            check=True,
        )
        self.head = self._git("rev-parse", BRANCH)

    def _git(self, *args: str) -> str:
        return subprocess.run(
            ["git", f"--git-dir={self.bare}", *args], check=True, capture_output=True, text=True
        ).stdout.strip()

    def tree_sizes(self) -> tuple[int, int]:
        """(sum of the head tree's blob sizes, bytes of `git archive --format=tar.gz`)."""
        blobs = sum(
            int(line.split()[3]) for line in self._git("ls-tree", "-r", "-l", BRANCH).splitlines()
        )
        archive = subprocess.run(
            ["git", f"--git-dir={self.bare}", "archive", "--format=tar.gz", BRANCH],
            check=True,
            capture_output=True,
        ).stdout
        return blobs, len(archive)


def run_node(tmp: Path, label: str, url: str) -> Path:
    """Write a node config for `url` and return it."""
    config = tmp / f"config-{label}.yaml"
    config.write_text(
        f"repo: {url}\nbranch: {BRANCH}\nnode_name: {NODE}\nsplay: 0s\n"
        f"state_dir: {tmp / f'state-{label}'}\nrun_dir: {tmp / 'run'}\n"
        f"facts_d: {tmp / 'facts.d'}\n"
    )
    return config


def gitpuppet_run(config: Path) -> None:
    done = subprocess.run(
        [*GITPUPPET, "run", "--now", "--quiet", "--config", str(config)],
        capture_output=True,
        text=True,
        env=ENV,
    )
    if done.returncode not in (0, 2):
        raise SystemExit(f"gitpuppet run exited {done.returncode}: {done.stderr}")


def kb(n: int) -> str:
    return f"{n / 1024:7.1f} KB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=500)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--touch", type=int, default=10)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--push", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gitpuppet-disk-bench-") as name:
        tmp = Path(name)
        (tmp / "facts.d").mkdir()
        (tmp / "target").mkdir()
        base = tmp / "repos"
        base.mkdir()
        history = History(base / "control.git", args.files, args.touch, tmp / "target")
        history.add(args.commits)
        daemon = GitDaemon(base)
        daemon.start()
        try:
            nodes = {
                "file://": run_node(tmp, "file", f"file://{history.bare}"),
                "git://": run_node(tmp, "git", f"git://127.0.0.1:{daemon.port}/control.git"),
            }
            blobs, archive = history.tree_sizes()
            print(
                f"disk benchmark: {args.commits} commits, {args.files} data files "
                f"({args.touch} rewritten per commit); upstream repo {kb(dir_size(history.bare))}"
            )
            print(f"one commit's tree: blobs {kb(blobs)}, git archive .tar.gz {kb(archive)}")
            sizes: dict[str, list[int]] = {label: [] for label in nodes}
            for cycle in range(args.cycles + 1):
                if cycle:
                    history.add(args.push)
                for label, config in nodes.items():
                    gitpuppet_run(config)
                    sizes[label].append(dir_size(_repo_dir(config)))
            blobs, archive = history.tree_sizes()
            for label, steps in sizes.items():
                worst = max(steps)
                print(
                    f"{label:8} node copy after clone {kb(steps[0])}, after "
                    f"{args.cycles} x {args.push} pushed commits {kb(steps[-1])} "
                    f"(largest {kb(worst)}, {worst / blobs:.2f} x the tree's blobs, "
                    f"{worst / archive:.2f} x its .tar.gz)  {verdict(worst / blobs, TARGET)}"
                )
        finally:
            daemon.stop()


def _repo_dir(config: Path) -> Path:
    for line in config.read_text().splitlines():
        if line.startswith("state_dir: "):
            return Path(line.removeprefix("state_dir: ")) / "repo.git"
    raise SystemExit(f"{config}: no state_dir")


if __name__ == "__main__":
    os.environ.setdefault("GIT_CONFIG_NOSYSTEM", "1")
    main()
