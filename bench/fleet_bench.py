"""Reports-repository benchmark (issue 11 item 4, issue 10 item 3): N simulated nodes push their
run reports (the agent's own `publish`) to one reports repo over ssh and over http on 127.0.0.1,
through a TCP proxy that counts the bytes on the wire.

Measured per transport: bytes per node-run push (first push and steady state), server CPU per
push (the servers' child processes: sshd and git-receive-pack, git-http-backend), the cost of
`failures_on` (bytes, seconds) and the fleet-side fetch of every `nodes/*` branch. Then the
advertisement growth: the same single push and `failures_on` with the repo holding R refs
(R = N, and 10,000 as synthetic branches), unsharded and with the halt markers in their own
shard.

    python bench/fleet_bench.py [--nodes 500] [--transports ssh,http] [--big 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pygit2  # noqa: E402

from gitpuppet.agent.record import RunEnd  # noqa: E402
from gitpuppet.agent.reports import failures_on, publish  # noqa: E402
from gitpuppet.config import AgentConfig  # noqa: E402
from gitpuppet.facts import gather_facts  # noqa: E402
from gitpuppet.state import State  # noqa: E402
from tests.integration.fleetsim import make_reports_repo  # noqa: E402
from tests.integration.gitservers import CountingProxy, HttpGit, Sshd, git  # noqa: E402

COMMIT = "c" * 40


def children_cpu() -> float:
    """CPU seconds of waited-for child processes (the servers' work)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class Rig:
    """One reports repo behind one transport, reached through the counting proxy."""

    def __init__(self, tmp: Path, transport: str, name: str = "reports.git") -> None:
        self.tmp, self.transport = tmp, transport
        self.repo = make_reports_repo(tmp / "served" / name)
        if transport == "ssh":
            self.server: Any = Sshd(tmp / "sshd")
        else:
            self.server = HttpGit(tmp / "served")
        self.server.start()
        self.proxy = CountingProxy(self.server.port)

    def url(self, name: str = "reports.git") -> str:
        if self.transport == "ssh":
            return f"ssh://root@127.0.0.1:{self.proxy.port}{self.tmp / 'served' / name}"
        return f"http://127.0.0.1:{self.proxy.port}/{name}"

    def config(self, node: str, url: str | None = None, shards: int = 1) -> AgentConfig:
        ssh = self.transport == "ssh"
        return AgentConfig(
            state_dir=self.tmp / "nodes" / node,
            reports_repo=url or self.url(),
            reports_ssh_key=self.server.client_key if ssh else None,
            known_hosts=self._known_hosts() if ssh else None,
            reports_shards=shards,
            interval=1800.0,
        )

    def _known_hosts(self) -> Path:
        path = self.tmp / "known_hosts"
        if not path.exists():  # the proxy's port, the server's key
            line = self.server.known_hosts_line().split(" ", 1)[1]
            path.write_text(f"[127.0.0.1]:{self.proxy.port} {line}\n")
        return path


def _end(node: str, facts: dict[str, Any], failed: bool) -> RunEnd:
    # A failing node: COMMIT did not compile and the run fell back to the one before.
    applied = "d" * 40 if failed else COMMIT
    return RunEnd(time.time(), 4 if failed else 0, node, commit=applied, tried=COMMIT,
                  facts=facts, head=COMMIT, fell_back=failed)  # fmt: skip


def push_round(rig: Rig, nodes: list[str], facts: dict[str, Any], failing: set[str]) -> dict:
    """Every node publishes once (8 at a time); bytes and server CPU per push."""
    rig.proxy.reset()
    cpu, began = children_cpu(), time.monotonic()

    def one(node: str) -> list[str]:
        return publish(rig.config(node), _end(node, facts, node in failing), State(), node)

    with ThreadPoolExecutor(8) as pool:
        warnings = [w for ws in pool.map(one, nodes) for w in ws]
    seconds = time.monotonic() - began
    if rig.transport == "ssh":  # sshd's children are counted once sshd itself is waited for
        rig.server.stop()
        rig.server.start()
    return {
        "pushes": len(nodes),
        "warnings": len(warnings),
        "bytes_per_push": round(rig.proxy.total / len(nodes)),
        "server_cpu_ms_per_push": round((children_cpu() - cpu) * 1000 / len(nodes), 1),
        "seconds": round(seconds, 2),
    }


def measure_failures_on(rig: Rig, url: str) -> dict:
    rig.proxy.reset()
    began = time.monotonic()
    found = failures_on(rig.config("reader", url), COMMIT)
    return {"markers": len(found), "bytes": rig.proxy.total,
            "seconds": round(time.monotonic() - began, 3)}  # fmt: skip


def measure_fleet_fetch(rig: Rig, url: str) -> dict:
    """What `gitpuppet fleet` downloads: every nodes/* branch into an empty repository."""
    target = pygit2.init_repository(str(rig.tmp / f"fleet-{time.monotonic_ns()}"), bare=True)
    cfg = rig.config("fleet-reader", url)
    from gitpuppet.agent.reports_git import _callbacks

    rig.proxy.reset()
    began = time.monotonic()
    remote = target.remotes.create_anonymous(url)
    remote.fetch(["+refs/heads/nodes/*:refs/remotes/r/nodes/*"], callbacks=_callbacks(cfg, url))
    return {"bytes": rig.proxy.total, "seconds": round(time.monotonic() - began, 2)}


def add_synthetic_refs(repo: Path, count: int, prefix: str = "refs/heads/nodes/synthetic-") -> None:
    """`count` more branches (all on one commit): the advertisement of a big fleet."""
    tip = git("rev-parse", "refs/heads/nodes/node-0", cwd=repo)
    lines = "".join(f"create {prefix}{i:05d}.example.com {tip}\n" for i in range(count))
    import subprocess

    subprocess.run(["git", "update-ref", "--stdin"], input=lines, text=True, cwd=repo, check=True)
    git("pack-refs", "--all", cwd=repo)


def one_push(
    rig: Rig, node: str, facts: dict[str, Any], url: str | None = None, shards: int = 1
) -> int:
    rig.proxy.reset()
    warnings = publish(rig.config(node, url, shards), _end(node, facts, False), State(), node)
    assert not warnings, warnings
    return rig.proxy.total


def bench_transport(tmp: Path, transport: str, n: int, big: int, facts: dict[str, Any]) -> dict:
    rig = Rig(tmp, transport)
    nodes = [f"node-{i}" for i in range(n)]
    failing = set(nodes[: max(n // 20, 1)])  # 5%: a canary wave failing
    out: dict[str, Any] = {"transport": transport, "nodes": n}
    out["first_push"] = push_round(rig, nodes, facts, failing)
    out["steady_push"] = push_round(rig, nodes, facts, failing)
    out["failures_on_unsharded"] = measure_failures_on(rig, rig.url())
    out["fleet_fetch"] = measure_fleet_fetch(rig, rig.url())
    out[f"push_at_{n}_refs"] = one_push(rig, "node-1", facts)
    add_synthetic_refs(rig.repo, big - n)
    out[f"push_at_{big}_refs_unsharded"] = one_push(rig, "node-1", facts)
    out[f"failures_on_at_{big}_refs_unsharded"] = measure_failures_on(rig, rig.url())
    # Sharded: a halt repo holding only the markers (the failing 5% of `big` nodes at worst).
    halt = make_reports_repo(tmp / "served" / "reports-halt.git")
    tip = git("commit-tree", "-m", "halt", "4b825dc642cb6eb9a060e54bf8d69288fbee4904", cwd=halt)
    lines = "".join(f"create refs/heads/halt/{COMMIT}/n{i:05d}.example.com {tip}\n"
                    for i in range(big // 20))  # fmt: skip
    import subprocess

    subprocess.run(["git", "update-ref", "--stdin"], input=lines, text=True, cwd=halt, check=True)
    out[f"failures_on_sharded_{big // 20}_markers"] = measure_failures_on(
        rig, rig.url("reports-halt.git")
    )
    rig.server.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--transports", default="ssh,http")
    parser.add_argument("--big", type=int, default=10_000)
    args = parser.parse_args()
    facts = gather_facts()
    print(f"facts.json: {len(json.dumps(facts))} bytes", file=sys.stderr)
    results = []
    for transport in args.transports.split(","):
        with tempfile.TemporaryDirectory(prefix=f"fleet-bench-{transport}-") as tmp:
            results.append(bench_transport(Path(tmp), transport, args.nodes, args.big, facts))
            print(json.dumps(results[-1], indent=1))
    os.environ.pop("GIT_DIR", None)


if __name__ == "__main__":
    main()
