"""What the automatic halt costs an agent run (issue 10 item 3), over ssh on 127.0.0.1.

A later-wave node (web01) with sample-repo as its control repo and a halt shard holding M
markers, both on one OpenSSH sshd (`--control file` serves the control repo over file://
instead, so that the fetch hides nothing). For a run that has a
due commit newer than the applied one, it prints, as the median of R repetitions:

- `listing_s`: the halt markers read alone (one ssh connection, one ref advertisement);
- `compile_s`: compiling the candidate (what the run does meanwhile);
- `added_sync_s`: pull + compile with the listing in line, minus the same with no listing;
- `added_s`: the same as `gitpuppet run` does it: the listing in the background from the start
  of the pull (the node's last pull found the halt applies to it), so it runs during the fetch
  and the compile; `settle_s` is the wait left after the compile.

Also `openssh_true_s`: `ssh host true` with OpenSSH's client, the transport's floor here.

    python bench/halt_run_bench.py [--markers 500] [--repeat 7]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gitpuppet.agent.pulling import pull, settle  # noqa: E402
from gitpuppet.agent.reports import halt_markers  # noqa: E402
from gitpuppet.agent.run import _compile_candidate, open_node_repo  # noqa: E402
from gitpuppet.agent.staging import HaltCheck  # noqa: E402
from gitpuppet.config import AgentConfig  # noqa: E402
from gitpuppet.facts import gather_facts  # noqa: E402
from gitpuppet.rollout.plan import bucket  # noqa: E402
from gitpuppet.state import State, save_state  # noqa: E402
from tests.integration.fleetsim import make_reports_repo  # noqa: E402
from tests.integration.gitservers import Sshd, git  # noqa: E402

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
ROLLOUT = "\nrollout:\n  waves:\n    - {percent: 1, after: 0m}\n    - {percent: 100, after: 0m}\n" \
          "  halt_after_failures: 3\n"  # fmt: skip


def control_repo(tmp: Path) -> tuple[Path, str, str]:
    """sample-repo with rollout settings as a bare repo: (path, older commit, newer commit)."""
    work = tmp / "work"
    shutil.copytree(ROOT / "sample-repo", work)
    with open(work / "gitpuppet.yaml", "a") as fh:
        fh.write(ROLLOUT)
    git("init", "-q", "-b", "production", cwd=work)
    git("add", "-A", cwd=work)
    git("-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-qm", "one", cwd=work)
    old = git("rev-parse", "HEAD", cwd=work).strip()
    (work / "README.md").write_text("a newer commit\n")
    git("-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-qam", "two", cwd=work)
    new = git("rev-parse", "HEAD", cwd=work).strip()
    bare = tmp / "control.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp)
    return bare, old, new


def halt_shard(tmp: Path, markers: int) -> Path:
    repo = make_reports_repo(tmp / "served" / "halt.git")
    tip = git("commit-tree", "-m", "halt", EMPTY_TREE, cwd=repo).strip()
    lines = "".join(f"create refs/heads/halt/{'c' * 40}/n{i:05d}.example.com {tip}\n"
                    for i in range(markers))  # fmt: skip
    subprocess.run(["git", "update-ref", "--stdin"], input=lines, text=True, cwd=repo, check=True)
    return repo


def median(xs: list[float]) -> float:
    return round(statistics.median(xs), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markers", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--control", choices=("ssh", "file"), default="ssh")
    args = parser.parse_args()
    node = next(
        f"web{i:02d}.example.com" for i in range(1, 100) if bucket(f"web{i:02d}.example.com")
    )
    facts = gather_facts()
    with tempfile.TemporaryDirectory(prefix="halt-run-bench-") as name:
        tmp = Path(name)
        control, old, new = control_repo(tmp)
        shard = halt_shard(tmp, args.markers)
        sshd = Sshd(tmp / "sshd")
        sshd.start()
        try:
            url = f"ssh://root@127.0.0.1:{sshd.port}{control}" if args.control == "ssh" else None
            base = AgentConfig(
                repo=[url or f"file://{control}"],
                node_name=node,
                state_dir=tmp / "st",
                ssh_key=sshd.client_key,
                known_hosts=sshd.known_hosts,
            )
            halted = dataclasses.replace(
                base,
                reports_repo=f"ssh://root@127.0.0.1:{sshd.port}{shard}",
                reports_ssh_key=sshd.client_key,
                known_hosts=sshd.known_hosts,
            )
            out = measure(base, halted, sshd, old, new, node, facts, args.repeat)
        finally:
            sshd.stop()
    out["markers"] = args.markers
    out["control"] = args.control
    print(json.dumps(out, indent=1))


def measure(base, halted, sshd, old, new, node, facts, repeat):  # type: ignore[no-untyped-def]
    repo = open_node_repo(base)
    repo.fetch()
    ssh = ["ssh", "-i", str(sshd.client_key), "-o", f"UserKnownHostsFile={sshd.known_hosts}",
           "-o", "BatchMode=yes", "-p", str(sshd.port), "root@127.0.0.1", "true"]  # fmt: skip
    samples: dict[str, list[float]] = {k: [] for k in
        ("openssh_true_s", "listing_s", "compile_s", "plain_s", "sync_s", "spec_s", "settle_s")}  # fmt: skip

    def timed(key: str, fn):  # type: ignore[no-untyped-def]
        began = time.perf_counter()
        value = fn()
        samples[key].append(time.perf_counter() - began)
        return value

    def pull_compile(config: AgentConfig, speculate: bool) -> None:
        save_state(config.state_dir, State(applied_commit=old))
        none = (lambda commit: []) if config.reports_repo is None else None
        halts = HaltCheck(config) if speculate else None
        pulled = pull(repo, config, node, halts=halts, failures_on=none)
        assert pulled.candidate == new, pulled.messages
        _compile_candidate(config, repo, pulled, facts)
        began = time.perf_counter()
        assert settle(pulled).candidate == new
        if speculate:
            samples["settle_s"].append(time.perf_counter() - began)

    for _ in range(repeat):
        timed("openssh_true_s", lambda: subprocess.run(ssh, check=True))
        timed("listing_s", lambda: halt_markers(halted))
        pulled = pull(repo, base, node, failures_on=lambda commit: [])
        timed("compile_s", lambda p=pulled: _compile_candidate(base, repo, p, facts))
        timed("plain_s", lambda: pull_compile(base, False))
        timed("sync_s", lambda: pull_compile(halted, False))
        timed("spec_s", lambda: pull_compile(halted, True))
    result = {k: median(v) for k, v in samples.items()}
    result["added_sync_s"] = round(result["sync_s"] - result["plain_s"], 3)
    result["added_s"] = round(result["spec_s"] - result["plain_s"], 3)
    return result


if __name__ == "__main__":
    main()
