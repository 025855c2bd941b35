"""sysctl and ini_setting on the real machine, through the compiler and the real applier: the
live value in /proc/sys, the file in a sysctl.d folder, an INI file edited in place."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import gitpuppet.types.sysctl.type as sysctl
from tests.integration.newtypes_apply import apply_resources, messages, statuses

# Only logs martian packets seen on the loopback interface: safe to flip in a test.
KEY = "net.ipv4.conf.lo.log_martians"
LIVE = Path("/proc/sys/net/ipv4/conf/lo/log_martians")


@pytest.fixture
def sysctl_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A sysctl.d folder of the test's own, and the key's live value put back afterwards."""
    if not os.access(LIVE, os.W_OK):
        pytest.skip(f"{LIVE} is not writable here (no CAP_NET_ADMIN in this namespace)")
    folder = tmp_path / "sysctl.d"
    folder.mkdir()
    monkeypatch.setattr(sysctl, "SYSCTL_DIR", str(folder))
    before = LIVE.read_text()
    yield folder
    LIVE.write_text(before)


def _flip() -> str:
    return "0" if LIVE.read_text().strip() == "1" else "1"


def test_sysctl_sets_live_value_and_file_then_nothing(tmp_path: Path, sysctl_dir: Path) -> None:
    want = _flip()
    decl = [{"sysctl": KEY, "value": int(want)}]
    noop = apply_resources(tmp_path, decl, noop=True)
    assert statuses(noop) == {f"sysctl:{KEY}": "would_change"}, messages(noop)
    assert LIVE.read_text().strip() != want and not list(sysctl_dir.iterdir())
    out = apply_resources(tmp_path, decl)
    assert statuses(out) == {f"sysctl:{KEY}": "changed"}, messages(out)
    assert {c.attr for c in out.results[0].changes} == {"value", "file"}
    assert LIVE.read_text().strip() == want
    conf = sysctl_dir / f"60-gitpuppet-{KEY}.conf"
    assert conf.read_text().splitlines()[-1] == f"{KEY} = {want}"
    assert oct(conf.stat().st_mode & 0o777) == "0o644"
    again = apply_resources(tmp_path, decl)
    assert statuses(again) == {f"sysctl:{KEY}": "unchanged"}, messages(again)


def test_sysctl_persist_false_and_absent_remove_only_the_file(
    tmp_path: Path, sysctl_dir: Path
) -> None:
    want = _flip()
    apply_resources(tmp_path, [{"sysctl": KEY, "value": want}])
    conf = sysctl_dir / f"60-gitpuppet-{KEY}.conf"
    assert conf.exists()
    out = apply_resources(tmp_path, [{"sysctl": KEY, "value": want, "persist": False}])
    assert statuses(out) == {f"sysctl:{KEY}": "changed"} and not conf.exists()
    apply_resources(tmp_path, [{"sysctl": KEY, "value": want}])
    out = apply_resources(tmp_path, [{"sysctl": KEY, "ensure": "absent"}])
    assert statuses(out) == {f"sysctl:{KEY}": "changed"} and not conf.exists()
    assert LIVE.read_text().strip() == want  # the live value stays until reboot


def test_sysctl_refused_value_is_not_persisted(tmp_path: Path, sysctl_dir: Path) -> None:
    out = apply_resources(tmp_path, [{"sysctl": KEY, "value": "not-a-number"}])
    assert statuses(out) == {f"sysctl:{KEY}": "failed"}
    assert "the kernel refused" in out.results[0].message
    assert not list(sysctl_dir.iterdir())


def test_sysctl_unknown_key_fails_with_a_hint(tmp_path: Path, sysctl_dir: Path) -> None:
    out = apply_resources(tmp_path, [{"sysctl": "net.nosuch.key", "value": 1}])
    assert statuses(out) == {"sysctl:net.nosuch.key": "failed"}
    assert "has no parameter net.nosuch.key" in out.results[0].message


def test_sysctl_file_is_never_written_through_a_link(tmp_path: Path, sysctl_dir: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    (sysctl_dir / f"60-gitpuppet-{KEY}.conf").symlink_to(victim)
    out = apply_resources(tmp_path, [{"sysctl": KEY, "value": _flip()}])
    assert statuses(out) == {f"sysctl:{KEY}": "changed"}, messages(out)
    assert victim.read_text() == "keep\n"
    assert not (sysctl_dir / f"60-gitpuppet-{KEY}.conf").is_symlink()


PHP_INI = "; PHP\n[PHP]\nengine = On\nmemory_limit = 128M\n\n[Date]\n"


def test_ini_setting_edits_in_place_noop_then_idempotent(tmp_path: Path) -> None:
    ini = tmp_path / "php.ini"
    ini.write_text(PHP_INI)
    decl = [
        {
            "ini_setting": "php memory",
            "path": str(ini),
            "section": "PHP",
            "setting": "memory_limit",
            "value": "256M",
        },
        {
            "ini_setting": "tz",
            "path": str(ini),
            "section": "Date",
            "setting": "date.timezone",
            "value": "UTC",
        },
        {
            "ini_setting": "gone",
            "path": str(ini),
            "section": "PHP",
            "setting": "engine",
            "ensure": "absent",
        },
    ]
    noop = apply_resources(tmp_path, decl, noop=True)
    assert set(statuses(noop).values()) == {"would_change"} and ini.read_text() == PHP_INI
    out = apply_resources(tmp_path, decl)
    assert set(statuses(out).values()) == {"changed"}, messages(out)
    assert ini.read_text() == "; PHP\n[PHP]\nmemory_limit = 256M\n\n[Date]\ndate.timezone = UTC\n"
    again = apply_resources(tmp_path, decl)
    assert set(statuses(again).values()) == {"unchanged"}, messages(again)


def test_ini_setting_creates_a_missing_file_and_keeps_a_link_unfollowed(tmp_path: Path) -> None:
    ini = tmp_path / "new.ini"
    decl = [{"ini_setting": "k", "path": str(ini), "section": "s", "setting": "k", "value": "v"}]
    out = apply_resources(tmp_path, decl)
    assert statuses(out) == {"ini_setting:k": "changed"} and ini.read_text() == "[s]\nk = v\n"
    victim = tmp_path / "victim"
    victim.write_text("[s]\n")
    linked = tmp_path / "linked.ini"
    linked.symlink_to(victim)
    decl[0]["path"] = str(linked)
    out = apply_resources(tmp_path, decl)
    assert statuses(out) == {"ini_setting:k": "failed"}
    assert "symbolic link" in out.results[0].message and victim.read_text() == "[s]\n"
