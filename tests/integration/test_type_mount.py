"""mount on the real machine: an ext4 image made in the test's folder, mounted through a loop
device by mount(8), an fstab at a test path; through the compiler and the real applier."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import gitpuppet.types.mount.type as mount
from tests.integration.newtypes_apply import apply_resources, messages, statuses


def _mounted(point: Path) -> bool:
    with open("/proc/self/mountinfo") as fh:
        return any(line.split()[4] == str(point) for line in fh)


@pytest.fixture
def image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """(an 8 MB ext4 image, an empty mount point); the fstab is tmp_path/fstab. Anything
    still mounted at the point is unmounted afterwards."""
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("mkfs.ext4 is missing (apt-get install e2fsprogs)")
    img = tmp_path / "disk.img"
    with open(img, "wb") as fh:
        fh.truncate(8 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(img)], check=True)
    point = tmp_path / "mnt"
    point.mkdir()
    monkeypatch.setattr(mount, "FSTAB", str(tmp_path / "fstab"))
    probe = subprocess.run(["mount", "-o", "loop", str(img), str(point)], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no loop mounts here: {probe.stderr.decode().strip()}")
    subprocess.run(["umount", str(point)], check=True)
    yield img, point
    while _mounted(point):
        subprocess.run(["umount", str(point)], check=False)


def _decl(img: Path, point: Path, **more: object) -> list[dict[str, object]]:
    return [{"mount": str(point), "device": str(img), "fstype": "ext4", **more}]


def test_mounted_noop_then_mount_then_nothing(tmp_path: Path, image: tuple[Path, Path]) -> None:
    img, point = image
    ref = f"mount:{point}"
    noop = apply_resources(tmp_path, _decl(img, point), noop=True)
    assert statuses(noop) == {ref: "would_change"} and not _mounted(point)
    assert not (tmp_path / "fstab").exists()
    out = apply_resources(tmp_path, _decl(img, point))
    assert statuses(out) == {ref: "changed"}, messages(out)
    assert _mounted(point)
    assert (tmp_path / "fstab").read_text() == f"{img}\t{point}\text4\tdefaults\t0\t0\n"
    again = apply_resources(tmp_path, _decl(img, point))
    assert statuses(again) == {ref: "unchanged"}, messages(again)


def test_unmounted_keeps_fstab_and_absent_removes_it(
    tmp_path: Path, image: tuple[Path, Path]
) -> None:
    img, point = image
    fstab = tmp_path / "fstab"
    fstab.write_text("# test fstab\n")
    apply_resources(tmp_path, _decl(img, point))
    out = apply_resources(tmp_path, _decl(img, point, ensure="unmounted"))
    assert statuses(out) == {f"mount:{point}": "changed"} and not _mounted(point)
    assert str(point) in fstab.read_text()
    apply_resources(tmp_path, _decl(img, point))
    out = apply_resources(tmp_path, [{"mount": str(point), "ensure": "absent"}])
    assert statuses(out) == {f"mount:{point}": "changed"}, messages(out)
    assert not _mounted(point) and fstab.read_text() == "# test fstab\n"


def test_present_writes_fstab_only(tmp_path: Path, image: tuple[Path, Path]) -> None:
    img, point = image
    out = apply_resources(tmp_path, _decl(img, point, ensure="present", options="ro", passno=2))
    assert statuses(out) == {f"mount:{point}": "changed"} and not _mounted(point)
    assert (tmp_path / "fstab").read_text() == f"{img}\t{point}\text4\tro\t0\t2\n"


def test_failed_mount_is_reported_with_output(tmp_path: Path, image: tuple[Path, Path]) -> None:
    img, point = image
    out = apply_resources(tmp_path, _decl(img, point, fstype="vfat"))
    assert statuses(out) == {f"mount:{point}": "failed"}
    assert "mount" in out.results[0].message and not _mounted(point)


def test_mount_point_missing_or_a_link_is_refused(tmp_path: Path, image: tuple[Path, Path]) -> None:
    img, point = image
    out = apply_resources(tmp_path, _decl(img, tmp_path / "nowhere"))
    assert "is not a directory" in out.results[0].message
    link = tmp_path / "link"
    link.symlink_to(point)
    out = apply_resources(tmp_path, _decl(img, link))
    assert statuses(out) == {f"mount:{link}": "failed"} and not _mounted(point)
