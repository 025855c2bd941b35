"""The cached Debian image the system tier boots: built once with debootstrap from the mirror the
host's apt uses, under /var/cache/gitpuppet-tests/, and rebuilt when missing or incomplete (a
marker file next to it is written last)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

SUITE = "bookworm"
# Bump IMAGE_VERSION when IMAGE_PACKAGES changes: it names the cached image, so a stale one is
# never reused. python3 brings the shared libraries a host-built interpreter links against.
IMAGE_VERSION = 1
IMAGE_PACKAGES = ("systemd", "dbus", "systemd-sysv", "python3", "ca-certificates", "procps")
CACHE = Path(os.environ.get("GITPUPPET_TEST_CACHE", "/var/cache/gitpuppet-tests"))
Log = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(f"[container] {msg}", file=sys.stderr, flush=True)


class Unavailable(Exception):
    """This machine cannot run the harness; the message says exactly why (tests skip with it)."""


class ImageBuildError(Exception):
    """debootstrap failed; the message holds the tail of its log."""


@contextlib.contextmanager
def timed(step: str, log: Log = _stderr) -> Iterator[None]:
    """Log how long `step` took (every harness step is timed)."""
    start = time.monotonic()
    yield
    log(f"{step}: {time.monotonic() - start:.2f}s")


def host_mirror(apt_dir: Path = Path("/etc/apt"), suite: str = SUITE) -> str:
    """The Debian mirror this host's apt uses for `suite` main (deb822 .sources or one-line .list)."""
    lists = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in lists:
        for line in _read_lines(path):
            # deb [options] URI SUITE COMPONENT...
            words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
            if (
                words[:1] == ["deb"]
                and len(words) >= 4
                and words[2] == suite
                and "main" in words[3:]
            ):
                return words[1]
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        for stanza in _deb822(path):
            if (
                "deb" in stanza.get("types", "").split()
                and suite in stanza.get("suites", "").split()
                and "main" in stanza.get("components", "").split()
                and stanza.get("enabled", "yes").lower() != "no"
            ):
                return stanza["uris"].split()[0]
    raise Unavailable(
        f"no apt source for Debian {suite} main in {apt_dir}/sources.list or sources.list.d/: "
        "add one or set GITPUPPET_TEST_MIRROR"
    )


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except OSError:
        return []


def _deb822(path: Path) -> list[dict[str, str]]:
    stanzas: list[dict[str, str]] = [{}]
    key = ""
    for line in _read_lines(path):
        if not line.strip():
            stanzas.append({})
        elif line.startswith("#"):
            continue
        elif line[0].isspace() and key:
            stanzas[-1][key] += " " + line.strip()
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            stanzas[-1][key] = value.strip()
    return [s for s in stanzas if s]


def ensure_image(log: Log = _stderr) -> Path:
    """The cached image's root, built first if it is missing or incomplete (safe across xdist
    workers: one builds, the others wait on the lock)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    root = CACHE / f"{SUITE}-v{IMAGE_VERSION}"
    marker = CACHE / f"{root.name}.complete"
    with open(CACHE / ".lock", "w") as lock:
        with timed("wait for image lock", log):
            fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and (root / "usr/lib/systemd/systemd").exists():
            log(f"image {root} cached")
            return root
        marker.unlink(missing_ok=True)
        if root.exists():
            with timed("remove incomplete image", log):
                _unmount_below(root)
                shutil.rmtree(root)
        mirror = os.environ.get("GITPUPPET_TEST_MIRROR") or host_mirror()
        build_log = CACHE / f"{root.name}.log"
        argv = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(IMAGE_PACKAGES)}",
            SUITE,
            str(root),
            mirror,
        ]
        with timed(f"debootstrap {SUITE} from {mirror}", log), open(build_log, "w") as out:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        if done.returncode != 0:
            tail = "\n".join(build_log.read_text(errors="replace").splitlines()[-20:])
            raise ImageBuildError(
                f"{' '.join(argv)} exited {done.returncode}; {build_log}:\n{tail}"
            )
        # The downloaded .debs are 60+ MB nobody needs again; the lists stay so apt works inside.
        for deb in (root / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()
        # Written last: its presence means everything above finished.
        marker.write_text(f"{' '.join(argv)}\n")
        return root


def _unmount_below(root: Path) -> None:
    # An interrupted debootstrap leaves /proc and /sys mounted in the target: rmtree must never
    # descend into them. Field 5 of mountinfo is the mount point (octal escapes for spaces).
    prefix = str(root.resolve()) + "/"
    points = [
        line.split()[4].encode().decode("unicode_escape")
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
    ]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=True)
