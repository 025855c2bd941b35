"""Fleet view benchmark: `gitpuppet fleet` at 10,000 nodes over 16 shards, and its page.

The shard repositories are written with `git fast-import` (one pack per shard): each node's
branch `nodes/<name>` holds a summary.json in the agent's shape, failures.json (a failure for
5% of the nodes, `[]` for the rest) and a facts.json of about 3 KB. They are served by git daemon
and by sshd on 127.0.0.1, each behind a CountingProxy (bytes on the wire).

`gitpuppet fleet` runs as a child process (`--code` picks the checkout whose code runs): the
first run (empty cache), a repeat with nothing new, and a repeat after 5% of the nodes pushed a
new report; each as text, --json and --html. Per run: wall, CPU and peak RSS (VmHWM, from
wait4's ru_maxrss) of the child, and the bytes through the proxy. Then the --html page in
Debian's chromium (Playwright): first render, a sort and a filter at 10,000 rows.

    python bench/fleet_view_bench.py [--nodes 10000] [--shards 16] [--transports git,ssh]
        [--code PATH] [--repeats 3] [--no-page]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fleet_page_bench import time_page  # noqa: E402
from gitpuppet.agent.reports import shard_of  # noqa: E402
from tests.integration.gitservers import CountingProxy, GitDaemon, Sshd, git  # noqa: E402

HEAD = "c" * 40
OLD = "d" * 40


def node_name(i: int) -> str:
    return f"node-{i:05d}.example.com"


def facts_of(i: int) -> dict[str, Any]:
    """About 3 KB of facts, different on every node (so no two blobs are the same)."""
    ip = f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
    disks = {
        f"sd{c}": {"size_bytes": (i % 7 + 1) * 10**11, "model": "QEMU HARDDISK", "vendor": "ATA"}
        for c in "ab"
    }
    mounts = {
        m: {"device": f"/dev/sda{n + 1}", "filesystem": "ext4", "size_bytes": (n + 2) * 10**10,
            "available_bytes": (i * 7919 + n) % 10**10, "options": ["rw", "relatime"]}
        for n, m in enumerate(["/", "/var", "/srv", "/boot"])
    }  # fmt: skip
    ifaces = {
        name: {"ip": ip if name == "eth0" else f"192.168.{n}.{i % 250 + 1}",
               "mac": f"52:54:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{(i + n) & 255:02x}",
               "mtu": 1500, "netmask": "255.255.0.0", "ip6": f"fe80::5054:ff:fe00:{i:x}"}
        for n, name in enumerate(["lo", "eth0", "eth1", "docker0"])
    }  # fmt: skip
    return {
        "hostname": node_name(i).split(".")[0],
        "fqdn": node_name(i),
        "domain": "example.com",
        "os": {"name": "Debian", "family": "Debian", "release": {"full": "12.5", "major": "12"},
               "codename": "bookworm", "architecture": "amd64"},
        "kernel": {"name": "Linux", "release": f"6.1.0-{18 + i % 3}-amd64"},
        "processors": {"count": 2 + i % 6, "model": "Intel Xeon Processor (Skylake, IBRS)"},
        "memory": {"total_bytes": (4 + i % 4) * 2**30, "swap_bytes": 2**30},
        "networking": {"ip": ip, "ip6": f"fe80::5054:ff:fe00:{i:x}", "interfaces": ifaces},
        "disks": disks,
        "mountpoints": mounts,
        "virtual": "kvm", "init": "systemd", "package_manager": "apt",
        "python": {"version": "3.11.2"}, "gitpuppet": {"version": "0.1.0"},
        "uptime_seconds": 86400 * (i % 90) + i,
        "ssh": {k: f"SHA256:{(i * 7 + n) * 10**30:x}{k}"[:50] for n, k in enumerate(["ed25519", "ecdsa", "rsa"])},
        "locale": {"lang": "C.UTF-8", "charmap": "UTF-8"},
        "dmi": {"manufacturer": "QEMU", "product": "Standard PC (Q35 + ICH9, 2009)", "bios": "1.16.2-debian-1.16.2-1", "serial": f"SN{i:010d}"},
        "timezone": "UTC", "boot_id": f"{i:08x}-3c1b-4f7e-9d2a-{i * 2654435761 % 10**12:012d}",
    }  # fmt: skip


def summary_of(i: int, when: datetime, round_: int) -> tuple[dict[str, Any], list[Any]]:
    """The node's summary.json and failures.json (5% failing, some behind or changed)."""
    failing, behind = i % 20 == 7, i % 50 == 3
    code = 4 if failing else (2 if (i + round_) % 9 == 0 else 0)
    counts = {"total": 40 + i % 30, "changed": 1 if code == 2 else 0, "failed": 2 if failing else 0,
              "skipped": 1 if failing else 0, "out_of_sync": 0, "restarted": 0}  # fmt: skip
    summary = {
        "node": node_name(i), "environment": "production", "commit": OLD if behind else HEAD,
        "head": OLD if behind else HEAD, "last_run": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration": 4.25 + i % 10, "exit_code": code,
        "result": {0: "unchanged", 2: "changed", 4: "failed"}[code], "noop": False,
        "pending_changes": 0, "counts": counts, "bucket": i % 100, "wave": i % 4,
        "disabled": None, "interval": 1800.0, "messages": [], "held": None,
        "gitpuppet_version": "0.1.0",
    }  # fmt: skip
    failures = [
        {"ref": f"service:app{k}", "message": f"exit status 1: Job for app{k}.service failed",
         "file": "classes/app.yaml", "line": 12 + k}
        for k in range(2)
    ] if failing else []  # fmt: skip
    return summary, failures


def _blob(data: bytes) -> bytes:
    return b"data %d\n%s\n" % (len(data), data)


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()  # as the agent writes


def import_nodes(repo: Path, nodes: list[int], round_: int, parents: dict[str, str]) -> None:
    """One commit per node on nodes/<name> (on top of its old tip when `parents` has one)."""
    now = datetime.now(UTC)
    chunks = []
    for i in nodes:
        name = node_name(i)
        summary, failures = summary_of(i, now - timedelta(seconds=i % 1500), round_)
        when = int(now.timestamp())
        chunks.append(
            b"commit refs/heads/nodes/%s\ncommitter %s <%s> %d +0000\n%s"
            % (name.encode(), name.encode(), name.encode(), when, _blob(b"report"))
        )
        if f"refs/heads/nodes/{name}" in parents:
            chunks.append(b"from %s\n" % parents[f"refs/heads/nodes/{name}"].encode())
        for fname, data in (("summary.json", summary), ("failures.json", failures),
                            ("facts.json", facts_of(i) | {"run": round_})):  # fmt: skip
            chunks.append(b"M 100644 inline %s\n%s" % (fname.encode(), _blob(_json(data))))
        chunks.append(b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], input=b"".join(chunks), cwd=repo, check=True)


def tips(repo: Path) -> dict[str, str]:
    out = git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/nodes/", cwd=repo)
    return dict(line.split(" ", 1) for line in out.splitlines() if line)


class Shards:
    """The shard repositories under `served/` and which nodes each holds."""

    def __init__(self, served: Path, nodes: int, shards: int) -> None:
        self.served, self.count = served, shards
        self.members: dict[int, list[int]] = {s: [] for s in range(shards)}
        for i in range(nodes):
            self.members[shard_of(node_name(i), shards)].append(i)
        self.round = 0
        for s, members in self.members.items():
            path = self.path(s)
            git("init", "-q", "--bare", str(path))
            import_nodes(path, members, 0, {})

    def path(self, shard: int) -> Path:
        return self.served / f"reports-{shard}.git"

    def push_some(self, fraction: float) -> int:
        """A new report from `fraction` of the nodes (a different slice every round)."""
        self.round += 1
        moved = 0
        for s, members in self.members.items():
            step = max(1, round(1 / fraction))
            some = [i for i in members if (i + self.round) % step == 0]
            import_nodes(self.path(s), some, self.round, tips(self.path(s)))
            moved += len(some)
        return moved


class Transport:
    """git daemon or sshd serving `served/`, behind a CountingProxy; a config file per run."""

    def __init__(self, tmp: Path, served: Path, kind: str, shards: int) -> None:
        self.tmp, self.kind, self.shards = tmp, kind, shards
        self.server: Any = GitDaemon(served) if kind == "git" else Sshd(tmp / "sshd")
        self.server.start()
        self.proxy = CountingProxy(self.server.port)
        if kind == "git":
            self.url = f"git://127.0.0.1:{self.proxy.port}/reports-{{shard}}.git"
        else:
            self.url = f"ssh://root@127.0.0.1:{self.proxy.port}{served}/reports-{{shard}}.git"
            line = self.server.known_hosts_line().split(" ", 1)[1]
            self.known_hosts = tmp / "known_hosts"
            self.known_hosts.write_text(f"[127.0.0.1]:{self.proxy.port} {line}\n")

    def config(self, state: Path) -> Path:
        """An agent config whose state_dir holds the fleet cache."""
        path = state.with_suffix(".yaml")
        ssh = ""
        if self.kind == "ssh":
            ssh = f", ssh_key: {self.server.client_key}"
        extra = f"known_hosts: {self.known_hosts}\n" if self.kind == "ssh" else ""
        path.write_text(
            f"repo: file:///nonexistent\nstate_dir: {state}\n{extra}"
            f"reports: {{repo: '{self.url}', shards: {self.shards}{ssh}}}\n"
        )
        return path

    def stop(self) -> None:
        self.proxy.close()
        self.server.stop()


def run_fleet(code: Path, config: Path, args: list[str], out: Path) -> dict[str, Any]:
    """One `gitpuppet fleet` child: wall, CPU, peak RSS (ru_maxrss = VmHWM), exit code."""
    env = {**os.environ, "GITPUPPET_CONFIG": str(config), "PYTHONPATH": str(code)}
    os.sync()
    began = time.perf_counter()
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gitpuppet.cli", "fleet", *args],
            stdout=sink, stderr=subprocess.PIPE, env=env, cwd=code,
        )  # fmt: skip
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - began
    code_ = os.waitstatus_to_exitcode(status)
    if code_ != 0:
        raise SystemExit(f"fleet {args} exited {code_}: {err.decode()[-2000:]}")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "warnings": err.decode().count("warning:"),
    }


FORMATS = {"text": [], "json": ["--json"], "html": ["--html", "{out}", "-q"]}


def measure(
    t: Transport, code: Path, state: Path, fmt: str, runs: int, before: Any = None
) -> dict[str, Any]:
    """Median wall/CPU, max RSS and median bytes of `runs` runs (`before()` ahead of each)."""
    samples = []
    for _ in range(runs):
        if before is not None:
            before()
        page = state.parent / f"{state.name}-{fmt}.html"
        args = [a.replace("{out}", str(page)) for a in FORMATS[fmt]]
        t.proxy.reset()
        one = run_fleet(code, t.config(state), args, state.parent / f"{state.name}-{fmt}.out")
        one["bytes"] = t.proxy.total
        samples.append(one)
    return {
        "wall_s": round(statistics.median(s["wall"] for s in samples), 2),
        "cpu_s": round(statistics.median(s["cpu"] for s in samples), 2),
        "rss_mb": round(max(s["rss_mb"] for s in samples)),
        "kb_wire": round(statistics.median(s["bytes"] for s in samples) / 1024),
        "runs": runs,
        "warnings": samples[-1]["warnings"],
    }


def bench_transport(
    tmp: Path, shards: Shards, kind: str, code: Path, runs: int
) -> tuple[dict[str, Any], Path]:
    t = Transport(tmp / kind, shards.served, kind, shards.count)
    (tmp / kind).mkdir(exist_ok=True)
    out: dict[str, Any] = {"transport": kind}
    try:
        for fmt in FORMATS:  # the first run: every scenario its own empty cache
            out[f"first_{fmt}"] = measure(t, code, tmp / kind / f"first-{fmt}", fmt, 1)
        state = tmp / kind / "warm"
        measure(t, code, state, "text", 1)  # fill the cache
        for fmt in FORMATS:
            out[f"repeat_{fmt}"] = measure(t, code, state, fmt, runs)
        for fmt in FORMATS:
            out[f"after5pct_{fmt}"] = measure(
                t, code, state, fmt, runs, before=lambda: shards.push_some(0.05)
            )
    finally:
        t.stop()
    return out, tmp / kind / "warm-html.html"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--transports", default="git,ssh")
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose gitpuppet runs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-page", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fleet-view-bench-") as name:
        tmp = Path(name)
        began = time.monotonic()
        shards = Shards(tmp / "served", args.nodes, args.shards)
        size = sum(f.stat().st_size for f in (tmp / "served").rglob("*") if f.is_file())
        print(json.dumps({"nodes": args.nodes, "shards": args.shards, "code": str(args.code),
                          "built_s": round(time.monotonic() - began, 1),
                          "served_mb": round(size / 2**20, 1)}), flush=True)  # fmt: skip
        page = None
        for kind in args.transports.split(","):
            result, page = bench_transport(tmp, shards, kind, args.code, args.repeats)
            print(json.dumps(result, indent=1), flush=True)
        if page is not None and not args.no_page:
            print(json.dumps({"page": time_page(page)}, indent=1), flush=True)


if __name__ == "__main__":
    main()
