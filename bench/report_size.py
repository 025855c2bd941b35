"""Size of one run's report file for a converged catalog of N file resources (issue 8 item 9):
with unchanged resources listed (`report_unchanged: true`) and counted only (the default), for a
run where 1 % of the resources changed. Writes nothing but temp files.

    python bench/report_size.py 1000 10000 100000
"""

from __future__ import annotations

import sys
import tempfile
import time

from gitpuppet.apply.engine import ApplyOutcome, count_results
from gitpuppet.errors import SourcePos
from gitpuppet.model import Change, Resource, Result, Status
from gitpuppet.report import build_report, write_report


def outcome(n: int) -> ApplyOutcome:
    """N results of files under /etc/app/, one in a hundred changed."""
    results = []
    for i in range(n):
        res = Resource(
            "file", f"/etc/app/conf.d/{i:06d}.conf", None, SourcePos("defines/app/conf.yaml", 4)
        )
        res.klass, res.define = "app", f"app.conf:{i}"
        changed = i % 100 == 0
        changes = [Change("content", "{sha256}aa", "{sha256}bb")] if changed else []
        status = Status.CHANGED if changed else Status.UNCHANGED
        results.append(Result(res.ref, status, changes, resource=res, seconds=0.000123))
    return ApplyOutcome(results, set(), count_results(results), 2)


def size(n: int, unchanged: bool) -> tuple[int, float]:
    out = outcome(n)
    with tempfile.TemporaryDirectory() as state:
        start = time.perf_counter()
        report = build_report(
            out,
            node="web01.example.com",
            environment="production",
            commit="0" * 40,
            start=time.time(),
            exit_code=2,
            noop=False,
            unchanged=unchanged,
        )
        files = write_report(state, report)
        seconds = time.perf_counter() - start
        assert files.path is not None
        return files.path.stat().st_size, seconds


def main(sizes: list[int]) -> None:
    print("| resources | listed (report_unchanged: true) | counted (default) |")
    print("|---|---|---|")
    for n in sizes:
        full, t_full = size(n, True)
        small, t_small = size(n, False)
        print(
            f"| {n:,} | {full / 1e6:.2f} MB, {t_full:.2f} s | {small / 1e6:.3f} MB, {t_small:.3f} s |"
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 10000, 100000])
