"""Apply benchmark: `gitpuppet apply` as a whole process on the bench repo, for N = 100, 1,000
and 10,000 files: (a) converge from empty, (b) no-op rerun, (c) 10% of files drifted.
Wall time (median of 3, the disk synced before each run) and peak RSS, beside the Python floor (bench/floor.py).

    python bench/apply_bench.py [--sizes 100,1000,10000] [--tmp DIR]

Every written file is fsynced (gitpuppet and the floor alike), so converge and drift depend on
the disk: `--tmp /dev/shm` measures the same on tmpfs, where fsync costs nothing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import FACTS, GITPUPPET, HERE, median_of, timed, verdict  # noqa: E402
from gen_repo import generate  # noqa: E402

TARGETS = {
    (1000, "converge"): 0.45,
    (1000, "no-op"): 0.30,
    (1000, "drift 10%"): 0.35,
    (10000, "no-op"): 2.5,
}
RSS_TARGET = {1000: 60.0}


def drift(root: Path, n: int) -> None:
    files = sorted(root.rglob("*.conf"))
    for path in files[::10][: max(1, n // 10)]:
        path.write_text("drifted\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--tmp", default=None, help="where the repo, root and state go")
    args = parser.parse_args()
    print(f"workspace under {args.tmp or tempfile.gettempdir()}")
    print(f"{'N':>6} {'scenario':<10} {'gitpuppet s':>11} {'RSS MB':>7} {'floor s':>8}  target")
    for n in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
            base = Path(tmp)
            root = base / "root"
            repo = generate(base / "repo", n, str(root))
            cmd = [
                *GITPUPPET,
                "apply",
                str(repo),
                "--node",
                "bench.example.com",
                "--facts",
                str(FACTS),
                "--state-dir",
                str(base / "state"),
                "-q",
            ]
            floor = [sys.executable, str(HERE / "floor.py"), str(repo), str(base / "floor")]
            rows = []
            converge, fconverge = [], []
            for k in range(3):  # converge from empty: root, state and floor move away each time
                for gone in (root, base / "state", base / "floor"):
                    if gone.exists():  # renamed, not deleted: deleting first slows ext4 down
                        gone.rename(gone.with_name(f"{gone.name}.{k}"))
                converge.append(timed(cmd))
                fconverge.append(timed(floor)[0])
            converge.sort()
            rows.append(
                ("converge", converge[1][0], max(c[1] for c in converge), sorted(fconverge)[1])
            )
            wall, rss = median_of(cmd, runs=3)
            fwall, _ = median_of(floor, runs=3)
            rows.append(("no-op", wall, rss, fwall))
            samples = []
            fsamples = []
            for _ in range(3):
                drift(root, n)
                samples.append(timed(cmd))
                drift(base / "floor", n)
                fsamples.append(timed(floor)[0])
            samples.sort()
            rows.append(
                ("drift 10%", samples[1][0], max(s[1] for s in samples), sorted(fsamples)[1])
            )
            for scenario, wall, rss, fwall in rows:
                target = TARGETS.get((n, scenario))
                rss_note = (
                    f"  RSS ≤ {RSS_TARGET[n]:g} {'ok' if rss <= RSS_TARGET[n] else 'MISSED'}"
                    if n in RSS_TARGET
                    else ""
                )
                print(
                    f"{n:>6} {scenario:<10} {wall:>11.3f} {rss:>7.1f} {fwall:>8.3f}  {verdict(wall, target)}{rss_note}"
                )
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
