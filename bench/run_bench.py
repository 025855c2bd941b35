"""Run benchmark: `gitpuppet run --now` with nothing new on the server (fetch + no-op apply of
the 1,000-file bench repo) over file:// and over ssh to an OpenSSH sshd on 127.0.0.1.
Targets: file:// ≤ 0.45 s, ssh ≤ 0.6 s wall (median of 5).

    python bench/run_bench.py [--files 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import getpass
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import GITPUPPET, median_of, timed, verdict  # noqa: E402
from gen_repo import generate  # noqa: E402

from tests.integration.gitservers import Sshd  # noqa: E402

TARGETS = {"file://": 0.45, "ssh": 0.6}
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "b",
    "GIT_AUTHOR_EMAIL": "b@example.com",
    "GIT_COMMITTER_NAME": "b",
    "GIT_COMMITTER_EMAIL": "b@example.com",
}


def sh(*argv: str, cwd: Path | None = None) -> None:
    subprocess.run(argv, cwd=cwd, env=GIT_ENV, check=True, capture_output=True)


def make_bare(tmp: Path, files: int) -> Path:
    """The bench repo committed on branch production, in a bare repo."""
    work = generate(tmp / "work", files, str(tmp / "target"))
    sh("git", "init", "-q", "-b", "production", str(work))
    sh("git", "add", "-A", cwd=work)
    sh("git", "commit", "-q", "-m", "bench", cwd=work)
    bare = tmp / "control.git"
    sh("git", "clone", "-q", "--bare", str(work), str(bare))
    return bare


def bench(tmp: Path, label: str, url: str, runs: int, extra: str = "") -> None:
    state = tmp / f"state-{label.strip(':/')}"
    cfg = tmp / f"config-{label.strip(':/')}.yaml"
    cfg.write_text(
        f"repo: {url}\nbranch: production\nnode_name: bench.example.com\nsplay: 0s\n"
        f"state_dir: {state}\nrun_dir: {tmp / 'run'}\nfacts_d: {tmp / 'facts.d'}\n"
        f"metrics_file: {tmp / 'gitpuppet.prom'}\n{extra}"
    )
    argv = [*GITPUPPET, "run", "--now", "--quiet", "--config", str(cfg)]
    first, _ = timed(argv)  # clone + converge
    wall, rss = median_of(argv, runs, ok=(0,))
    print(
        f"{label:8} first run {first:6.3f} s   no-op run {wall:6.3f} s  "
        f"{rss:5.1f} MB  {verdict(wall, TARGETS[label])}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gitpuppet-run-bench-") as name:
        tmp = Path(name)
        (tmp / "facts.d").mkdir()
        bare = make_bare(tmp, args.files)
        print(f"run benchmark: {args.files} files, median of {args.runs}")
        bench(tmp, "file://", f"file://{bare}", args.runs)
        if not Path("/usr/sbin/sshd").exists():
            print(
                "ssh      skipped: /usr/sbin/sshd is not installed (apt-get install openssh-server)"
            )
            return
        sshd = Sshd(tmp / "sshd")  # the test suite's server: throwaway host and client keys
        sshd.start()
        try:
            bench(
                tmp,
                "ssh",
                f"ssh://{getpass.getuser()}@127.0.0.1:{sshd.port}{bare}",
                args.runs,
                f"ssh_key: {sshd.client_key}\nknown_hosts: {sshd.known_hosts}\n",
            )
        finally:
            sshd.stop()


if __name__ == "__main__":
    main()
