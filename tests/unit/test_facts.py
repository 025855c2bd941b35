"""Facts (SPEC §6): the shape on this machine, os-release parsing, facts.d, --facts, speed."""

from __future__ import annotations

import ipaddress
import json
import logging
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import gitpuppet
from gitpuppet import facts as facts_mod
from gitpuppet.errors import GitpuppetError
from gitpuppet.facts import (
    fqdn_from_hosts,
    gather_facts,
    node_name_default,
    os_facts,
    parse_os_release,
)

# --- os-release -----------------------------------------------------------------------------

DEBIAN_12 = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"""
UBUNTU_2404 = """\
PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=noble
"""
ROCKY_9 = """\
NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"
"""
ALPINE = """\
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.20.3
PRETTY_NAME="Alpine Linux v3.20"
HOME_URL="https://alpinelinux.org/"
"""
RHEL_8 = """\
NAME="Red Hat Enterprise Linux"
VERSION="8.10 (Ootpa)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="8.10"
"""
OPENSUSE = """\
NAME="openSUSE Leap"
VERSION="15.6"
ID="opensuse-leap"
ID_LIKE="suse opensuse"
VERSION_ID="15.6"
"""
ARCH = """\
NAME="Arch Linux"
ID=arch
BUILD_ID=rolling
"""
MINT = """\
NAME="Linux Mint"
VERSION="21.3 (Virginia)"
ID=linuxmint
ID_LIKE="ubuntu debian"
VERSION_ID="21.3"
VERSION_CODENAME=virginia
"""
UNKNOWN = """\
# a comment line, then a distribution nobody has heard of
NAME='Frob OS'
ID=frob
VERSION_ID=7
"""

OS_CASES = [
    # (os-release, uname -m, name, family, full, major, codename, architecture)
    (DEBIAN_12, "x86_64", "Debian", "Debian", "12", "12", "bookworm", "amd64"),
    (UBUNTU_2404, "aarch64", "Ubuntu", "Debian", "24.04", "24", "noble", "arm64"),
    (ROCKY_9, "x86_64", "Rocky", "RedHat", "9.4", "9", "Blue Onyx", "x86_64"),
    (ALPINE, "x86_64", "Alpine", "Alpine", "3.20.3", "3", "", "x86_64"),
    (RHEL_8, "x86_64", "RedHat", "RedHat", "8.10", "8", "Ootpa", "x86_64"),
    (OPENSUSE, "x86_64", "openSUSE", "Suse", "15.6", "15", "", "x86_64"),
    (ARCH, "x86_64", "Archlinux", "Archlinux", "", "", "", "x86_64"),
    (MINT, "x86_64", "Linux", "Debian", "21.3", "21", "virginia", "amd64"),
    (UNKNOWN, "riscv64", "Frob", "Frob", "7", "7", "", "riscv64"),
    ("", "x86_64", "Linux", "Linux", "", "", "", "x86_64"),
]


@pytest.mark.parametrize(
    ("text", "machine", "name", "family", "full", "major", "codename", "arch"), OS_CASES
)
def test_os_release(
    text: str,
    machine: str,
    name: str,
    family: str,
    full: str,
    major: str,
    codename: str,
    arch: str,
) -> None:
    os_fact = os_facts(parse_os_release(text), machine)
    assert os_fact["name"] == name
    assert os_fact["family"] == family
    assert os_fact["release"] == {"full": full, "major": major}
    assert os_fact["codename"] == codename
    assert os_fact["architecture"] == arch
    assert os_fact["hardware"] == machine


def test_os_release_quotes_and_comments() -> None:
    fields = parse_os_release(UNKNOWN + "EMPTY=\n  SPACED = x\nnot a field\n")
    assert fields["NAME"] == "Frob OS"
    assert fields["EMPTY"] == ""
    assert "# a comment line, then a distribution nobody has heard of" not in fields
    assert "not a field" not in fields


# --- fqdn without DNS -----------------------------------------------------------------------

HOSTS = """\
127.0.0.1   localhost
127.0.1.1   Web01.Example.com web01   # Debian's installer writes this line
10.0.0.5    db1 db1.internal.example.net
::1         localhost ip6-localhost
"""


@pytest.mark.parametrize(
    ("hostname", "fqdn"),
    [
        ("web01", "web01.example.com"),
        ("WEB01", "web01.example.com"),
        ("db1", "db1.internal.example.net"),
        ("app7", "app7"),  # not in /etc/hosts: the short name
        ("Mail.Example.org", "mail.example.org"),  # already qualified
        ("localhost", "localhost"),
    ],
)
def test_fqdn_from_hosts(hostname: str, fqdn: str) -> None:
    assert fqdn_from_hosts(hostname, HOSTS) == fqdn


def test_ipv6_prefers_global_over_link_local() -> None:
    text = (
        "fe800000000000000000000000000001 02 40 20 80     eth0\n"
        "20010db8000000000000000000000005 02 40 00 80     eth0\n"
        "00000000000000000000000000000001 01 80 10 80       lo\n"
    )
    ordered = facts_mod._inet6_by_preference(text)
    assert ordered == [("eth0", "2001:db8::5"), ("lo", "::1"), ("eth0", "fe80::1")]


# --- this machine ---------------------------------------------------------------------------


def test_gathered_facts_have_the_spec_shape() -> None:
    facts = gather_facts(facts_d=None)
    assert isinstance(facts["hostname"], str) and facts["hostname"]
    assert facts["hostname"] == facts["hostname"].lower() and "." not in facts["hostname"]
    assert facts["fqdn"] == facts["fqdn"].lower() and facts["fqdn"].startswith(facts["hostname"])
    assert facts["domain"] == facts["fqdn"].partition(".")[2]
    os_fact = facts["os"]
    for key in ("name", "family", "codename", "architecture"):
        assert isinstance(os_fact[key], str), key
    assert set(os_fact["release"]) == {"full", "major"}
    assert os_fact["release"]["full"].startswith(os_fact["release"]["major"])
    assert facts["kernel"]["name"] == "Linux" and facts["kernel"]["release"]
    assert isinstance(facts["processors"]["count"], int) and facts["processors"]["count"] >= 1
    assert isinstance(facts["memory"]["total_bytes"], int)
    assert facts["memory"]["total_bytes"] > 16 * 1024 * 1024
    net = facts["networking"]
    assert "lo" in net["interfaces"]
    for name, info in net["interfaces"].items():
        assert set(info) == {"ip", "ip6", "mac"}, name
        if info["ip"] is not None:
            assert ipaddress.ip_address(info["ip"]).version == 4
        if info["ip6"] is not None:
            assert ipaddress.ip_address(info["ip6"]).version == 6
    assert net["interfaces"]["lo"]["ip"] == "127.0.0.1"
    if net["ip"] is not None:
        assert any(i["ip"] == net["ip"] for i in net["interfaces"].values())
    assert isinstance(facts["virtual"], str) and facts["virtual"]
    assert facts["init"] == ("systemd" if Path("/run/systemd/system").is_dir() else "sysvinit")
    assert facts["package_manager"] in ("apt", "dnf", "yum", "apk", "zypper", "pacman", None)
    assert facts["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert facts["gitpuppet"]["version"] == gitpuppet.__version__
    json.dumps(facts)  # plain data all the way down: reports and --json need it


def test_os_fact_matches_this_machine() -> None:
    release = parse_os_release(Path("/etc/os-release").read_text())
    facts = gather_facts(facts_d=None)
    assert facts["os"]["id"] == release["ID"]
    assert facts["os"]["release"]["full"] == release.get("VERSION_ID", "")


def test_gathering_is_fast() -> None:
    gather_facts(facts_d=None)  # first call pays for imports
    times = []
    for _ in range(20):
        start = time.perf_counter()
        gather_facts(facts_d=None)
        times.append(time.perf_counter() - start)
    best, worst = min(times) * 1000, max(times) * 1000
    print(f"gather_facts: best {best:.2f} ms, worst {worst:.2f} ms over 20 runs")
    # SPEC asks well under 100 ms; the loose bound keeps a loaded CI machine from flaking.
    assert sorted(times)[len(times) // 2] < 0.5


def test_gathering_in_a_fresh_process_is_fast() -> None:
    code = (
        "import time; t=time.perf_counter(); from gitpuppet.facts import gather_facts;"
        "gather_facts(facts_d=None); print(time.perf_counter()-t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds = float(out.stdout)
    print(f"import + first gather in a new process: {seconds * 1000:.1f} ms")
    assert seconds < 0.5


def test_node_name_default() -> None:
    assert node_name_default({"fqdn": "Web01.Example.COM", "hostname": "web01"}) == (
        "web01.example.com"
    )
    assert node_name_default({"hostname": "Box"}) == "box"
    assert node_name_default(gather_facts(facts_d=None)) == gather_facts(facts_d=None)["fqdn"]


# --- facts.d --------------------------------------------------------------------------------


def executable(folder: Path, name: str, script: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n" + textwrap.dedent(script))
    path.chmod(0o755)
    return path


@pytest.fixture
def facts_d(tmp_path: Path) -> Path:
    folder = tmp_path / "facts.d"
    folder.mkdir()
    executable(folder, "10-json", """echo '{"role": "web", "rack": {"row": 4}}'\n""")
    executable(folder, "20-yaml", "echo 'datacenter: ams1'\necho 'zones: [a, b]'\n")
    executable(folder, "30-noisy", "echo 'chatter on stderr' >&2\necho '{\"noisy\": true}'\n")
    (folder / "40-data.yaml").write_text("team: platform\nrole: db  # a later file wins\n")
    (folder / "50-data.json").write_text('{"cost_center": 42}')
    (folder / "60-notes.txt").write_text("neither executable nor data: ignored\n")
    executable(folder, ".hidden", "echo 'hidden: true'\n")
    executable(folder, "70-backup~", "echo 'backup: true'\n")
    return folder


def test_external_facts_merge_at_top_level(facts_d: Path) -> None:
    warnings: list[str] = []
    facts = gather_facts(facts_d=facts_d, warnings=warnings)
    assert warnings == []
    assert facts["role"] == "db"
    assert facts["rack"] == {"row": 4}
    assert facts["datacenter"] == "ams1" and facts["zones"] == ["a", "b"]
    assert facts["noisy"] is True
    assert facts["team"] == "platform" and facts["cost_center"] == 42
    for absent in ("hidden", "backup"):
        assert absent not in facts
    assert facts["kernel"]["name"] == "Linux"  # built-in facts are still there


BROKEN_FACTS = [
    # (file name, executable script or data text, part of the warning)
    ("exit-1", "echo 'disk gone' >&2\nexit 1\n", "exited 1: disk gone"),
    ("garbage", "echo '{not: [json'\n", "neither JSON nor YAML"),
    ("a-list", "echo '[1, 2]'\n", "mapping"),
    ("bad.yaml", "key: [unclosed\n", "bad.yaml:2"),
    ("scalar.json", '"just a string"', "mapping"),
]


@pytest.mark.parametrize(("name", "body", "warning"), BROKEN_FACTS)
def test_a_broken_external_fact_is_a_warning(
    facts_d: Path, name: str, body: str, warning: str
) -> None:
    if "." in name:
        (facts_d / name).write_text(body)
    else:
        executable(facts_d, name, body)
    warnings: list[str] = []
    facts = gather_facts(facts_d=facts_d, warnings=warnings)
    assert len(warnings) == 1, warnings
    assert name in warnings[0] and warning in warnings[0], warnings[0]
    assert facts["datacenter"] == "ams1"  # the others still count


def test_a_hanging_external_fact_is_killed(facts_d: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(facts_mod, "EXTERNAL_TIMEOUT", 0.5)  # the 10 s limit, shortened
    executable(facts_d, "hangs", "sleep 30\n")
    warnings: list[str] = []
    start = time.monotonic()
    facts = gather_facts(facts_d=facts_d, warnings=warnings)
    assert time.monotonic() - start < 5
    assert len(warnings) == 1 and "timed out" in warnings[0]
    assert facts["role"] == "db"


def test_external_fact_warnings_are_logged_without_a_list(
    facts_d: Path, caplog: pytest.LogCaptureFixture
) -> None:
    executable(facts_d, "exit-3", "exit 3\n")
    with caplog.at_level(logging.WARNING, logger="gitpuppet.facts"):
        gather_facts(facts_d=facts_d)
    assert any("exit-3" in r.getMessage() and "exited 3" in r.getMessage() for r in caplog.records)


def test_missing_facts_d_is_fine(tmp_path: Path) -> None:
    warnings: list[str] = []
    facts = gather_facts(facts_d=tmp_path / "nope", warnings=warnings)
    assert warnings == [] and "hostname" in facts


# --- override file (--facts) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("f.yaml", "fqdn: test.example.com\nos: {family: RedHat}\n"),
        ("f.json", '{"fqdn": "test.example.com", "os": {"family": "RedHat"}}'),
    ],
)
def test_override_file_is_the_whole_fact_set(
    tmp_path: Path, facts_d: Path, name: str, text: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    facts = gather_facts(facts_d=facts_d, override_file=path)
    assert facts == {
        "fqdn": "test.example.com",
        "os": {"family": "RedHat"},
        "gitpuppet": {"version": gitpuppet.__version__},
    }


def test_override_file_keeps_its_own_gitpuppet_version(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("gitpuppet: {version: 9.9.9}\n")
    assert gather_facts(override_file=path)["gitpuppet"] == {"version": "9.9.9"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, ["cannot read facts file", "missing.yaml"]),
        ("fqdn: a\nos: [unclosed\n", ["f.yaml:3", "neither JSON nor YAML"]),
        ("- just\n- a list\n", ["f.yaml", "mapping"]),
    ],
)
def test_bad_override_file_names_the_file(
    tmp_path: Path, text: str | None, expected: list[str]
) -> None:
    path = tmp_path / ("missing.yaml" if text is None else "f.yaml")
    if text is not None:
        path.write_text(text)
    with pytest.raises(GitpuppetError) as info:
        gather_facts(override_file=path)
    for part in expected:
        assert part in str(info.value), str(info.value)


# --- the command ----------------------------------------------------------------------------


def run_cli(*args: str) -> Any:
    from gitpuppet.cli.facts import command

    return CliRunner().invoke(command, ["--config", "/nonexistent/config.yaml", *args])


def test_cli_json_with_override(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("b: 1\na: {z: 2, y: 3}\n")
    result = run_cli("--facts", str(path), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data == {"a": {"y": 3, "z": 2}, "b": 1, "gitpuppet": {"version": gitpuppet.__version__}}
    assert list(data) == ["a", "b", "gitpuppet"]


def test_cli_human_output_is_sorted_nested_yaml(facts_d: Path) -> None:
    result = run_cli("--facts-d", str(facts_d))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    top = [line.split(":")[0] for line in lines if line and not line.startswith(" ")]
    assert top == sorted(top)
    assert "kernel:" in lines and "  name: Linux" in lines
    assert "datacenter: ams1" in lines


def test_cli_reports_a_bad_override_without_traceback(tmp_path: Path) -> None:
    result = run_cli("--facts", str(tmp_path / "missing.yaml"))
    assert result.exit_code == 1
    assert "missing.yaml" in result.output and "Traceback" not in result.output


def test_cli_uses_facts_d_of_the_agent_config(tmp_path: Path, facts_d: Path) -> None:
    from gitpuppet.cli.facts import command

    config = tmp_path / "config.yaml"
    config.write_text(f"facts_d: {facts_d}\n")
    result = CliRunner().invoke(command, ["--json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["datacenter"] == "ams1"
