"""The paths a catalog manages (what `purge` leaves) come from each type's spec
(`Params.paths_written`), not from a list of type names in managed.py."""

from __future__ import annotations

import pytest

from gitpuppet.managed import managed_paths
from tests.unit.typecases import make

pytestmark = pytest.mark.unit


def test_each_spec_says_which_paths_it_writes() -> None:
    resources = [
        make("file", "/srv/a//b/"),
        make("file", "/srv/tree", ensure="directory", recurse=True),
        make("line", "x=1", path="/etc/x.conf"),
        make("cron", "backup", command="/bin/true", minute="5"),
        make("host", "db.example.com", ip="10.0.0.5", target="/etc/hosts.local"),
        make("user", "alice", managehome=True),
        make("user", "bob", ensure="absent", managehome=True),
        make("sysctl", "net.ipv4.ip_forward", value="1"),
        make("sysctl", "vm.swappiness", value="10", persist=False),
        make("ini_setting", "php memory", path="/etc/php.ini", setting="memory_limit", value="1G"),
        make("package", "curl"),
    ]
    managed = managed_paths(resources)
    assert managed.paths == {
        "/srv/a/b",
        "/srv/tree",
        "/etc/x.conf",
        "/etc/cron.d/backup",
        "/etc/hosts.local",
        "/home/alice",
        "/etc/sysctl.d/60-gitpuppet-net.ipv4.ip_forward.conf",
        "/etc/php.ini",
    }
    assert managed.subtrees == {"/srv/tree", "/home/alice"}


def test_apt_sources_and_mounts_are_not_purged() -> None:
    """A `purge` of sources.list.d (as sites do to drop stray sources) leaves the sources and
    keys the catalog declares; a purge above a mount point never reaches into the mount."""
    armoured = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxx\n-----END PGP PUBLIC KEY BLOCK-----\n"
    resources = [
        make(
            "apt_source", "mirror", uris=["http://deb.example.com/debian"],
            suites=["bookworm"], components=["main"], key=armoured,
        ),
        make("apt_source", "local", uris=["file:/srv/repo"], suites=["./"], trusted=True),
        make("mount", "/srv/data", device="/dev/vdb1", fstype="ext4"),
    ]  # fmt: skip
    managed = managed_paths(resources)
    assert managed.paths == {
        "/etc/apt/sources.list.d/mirror.sources",
        "/etc/apt/keyrings/mirror.asc",
        "/etc/apt/sources.list.d/local.sources",
        "/etc/fstab",
        "/srv/data",
    }
    assert "/srv/data" in managed.subtrees
