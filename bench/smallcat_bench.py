"""Small-catalog benchmark: the README's first line, `gitpuppet apply sample-repo --node
web01.example.com --noop --state-dir "$(mktemp -d)"`, as a whole process: wall time, CPU time
(the process and every command it ran) and the commands it spawned, medians of several runs.

    python bench/smallcat_bench.py [--runs 5] [--old DIR]

`--old DIR` times another checkout of gitpuppet (a worktree of main, say) the same way, run for
run alternating with this one, so that both see the same machine. Prints numbers; no target is
checked. The spawned commands are counted in a separate run of each, through a wrapper that
counts every process subprocess starts (the timed runs have no wrapper).
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "sample-repo"
NODE = "web01.example.com"

# Runs gitpuppet's CLI in this interpreter, counting every process subprocess starts; the argv
# of each goes to the JSON file named by SMALLCAT_SPAWNED when the CLI exits.
COUNTER = """
import atexit, json, os, subprocess, sys
spawned = []
real = subprocess.Popen._execute_child
def counted(self, args, *rest, **kw):
    spawned.append(args if isinstance(args, str) else [str(a) for a in args])
    return real(self, args, *rest, **kw)
subprocess.Popen._execute_child = counted
atexit.register(lambda: open(os.environ["SMALLCAT_SPAWNED"], "w").write(json.dumps(spawned)))
from gitpuppet.cli import main
sys.argv = ["gitpuppet", *sys.argv[1:]]
sys.exit(main())
"""


def apply_argv(state: str) -> list[str]:
    return ["apply", str(SAMPLE), "--node", NODE, "--noop", "--state-dir", state, "-q"]


def env_for(tree: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(tree),
        "GITPUPPET_CONFIG": "/nonexistent/config.yaml",
    }


def timed(argv: list[str], tree: Path) -> tuple[float, float]:
    """One run of `tree`'s code: (wall seconds, CPU seconds of the process and everything it
    waited for). It runs in `tree` (`-m` and `-c` put the working directory first on the path)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env_for(tree), cwd=tree
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 2):
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{' '.join(argv)} exited {code}: {err}")
    return wall, usage.ru_utime + usage.ru_stime


def noop_run(tree: Path) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as state:
        argv = [sys.executable, "-m", "gitpuppet.cli", *apply_argv(state)]
        return timed(argv, tree)


def spawned(tree: Path) -> list[list[str] | str]:
    """The commands one noop run starts."""
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "spawned.json"
        env = {**env_for(tree), "SMALLCAT_SPAWNED": str(out)}
        argv = [sys.executable, "-c", COUNTER, *apply_argv(str(Path(work) / "state"))]
        subprocess.run(argv, env=env, cwd=tree, stdout=subprocess.DEVNULL, check=False)
        return json.loads(out.read_text()) if out.exists() else []


def floor(tree: Path) -> tuple[float, float]:
    """What any run pays before doing anything: the interpreter and gitpuppet's CLI imported."""
    return timed([sys.executable, "-c", "import gitpuppet.cli"], tree)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--old", type=Path, default=None, help="another checkout to compare")
    args = parser.parse_args()
    trees = {"this": HERE.parent}
    if args.old is not None:
        trees = {"old": args.old.resolve(), **trees}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    floors: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    for tree in trees.values():
        noop_run(tree)  # warm: byte-compiled files, the page cache
    for _ in range(args.runs):
        for name, tree in trees.items():
            samples[name].append(noop_run(tree))
            floors[name].append(floor(tree))
    print(f"sample-repo noop of {NODE}, median of {args.runs} runs")
    print(f"{'code':<6} {'wall s':>7} {'CPU s':>7} {'start s':>9} {'spawned':>8}  commands")
    for name, tree in trees.items():
        wall = statistics.median(s[0] for s in samples[name])
        cpu = statistics.median(s[1] for s in samples[name])
        imp = statistics.median(s[0] for s in floors[name])
        commands = spawned(tree)
        shown = "; ".join(c if isinstance(c, str) else " ".join(c) for c in commands)
        print(f"{name:<6} {wall:7.2f} {cpu:7.2f} {imp:9.2f} {len(commands):8d}  {shown}")


if __name__ == "__main__":
    main()
