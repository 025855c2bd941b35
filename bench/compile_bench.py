"""Compile benchmark: `gitpuppet node bench.example.com --json` as a whole process, for
N = 100, 1,000 and 10,000 file resources (median of 5). Prints a table with the targets.

    python bench/compile_bench.py [--sizes 100,1000,10000]
"""

from __future__ import annotations

import argparse
import compileall
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import FACTS, GITPUPPET, median_of, verdict  # noqa: E402
from gen_repo import generate  # noqa: E402

TARGETS = {1000: 0.20, 10000: 1.5}
PACKAGE = Path(__file__).resolve().parents[1] / "gitpuppet"


def byte_compile() -> None:
    """Write gitpuppet's .pyc files first, as an installed package has them: right after an
    edit, or with PYTHONDONTWRITEBYTECODE set, every timed process would otherwise compile the
    changed sources again and the start-up measured would not be gitpuppet's."""
    compileall.compile_dir(PACKAGE, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100,1000,10000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    byte_compile()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        start_py, _ = median_of([sys.executable, "-c", "pass"])
        start_imp, _ = median_of([sys.executable, "-c", "import gitpuppet.cli"])
        start_cli, _ = median_of([*GITPUPPET, "--version"])
        print(
            f"python -c pass {start_py:.3f} s; import gitpuppet.cli {start_imp:.3f} s; "
            f"gitpuppet --version {start_cli:.3f} s"
        )
        print(f"{'N':>7} {'resources':>9} {'wall s':>8} {'µs/res':>7} {'RSS MB':>7}  target")
        for n in sizes:
            repo = generate(base / f"r{n}", n, f"{tmp}/root{n}")
            wall, rss = median_of(
                [
                    *GITPUPPET,
                    "node",
                    "bench.example.com",
                    "--repo",
                    str(repo),
                    "--facts",
                    str(FACTS),
                    "--json",
                ]
            )
            total = n + n // 10 + 2
            print(
                f"{n:>7} {total:>9} {wall:>8.3f} {wall / total * 1e6:>7.0f} {rss:>7.1f}  "
                f"{verdict(wall, TARGETS.get(n))}"
            )


if __name__ == "__main__":
    main()
