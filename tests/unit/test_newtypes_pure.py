"""The pure parts of sysctl, mount, apt_source and ini_setting, as tables: text in, text out."""

from __future__ import annotations

from typing import Any

import pytest

from gitpuppet.errors import SourcePos
from gitpuppet.types.apt_source.spec import key_suffix, sources_text
from gitpuppet.types.build import build_params
from gitpuppet.types.ini_setting.ini import edit_ini, find
from gitpuppet.types.mount.fstab import edit_fstab, escape, mounted_at, unescape
from gitpuppet.types.sysctl.spec import file_name, file_text, proc_path

pytestmark = pytest.mark.unit
POS = SourcePos("t.yaml", 1)


def params(type_name: str, title: str, **attrs: Any) -> Any:
    return build_params(type_name, title, attrs, POS, {})


PHP = "; PHP settings\n[PHP]\nengine = On\n  memory_limit = 128M ; inline\n\n[Date]\n; date.timezone = UTC\n"

# (id, text, section, setting, value (None: absent), separator, expected)
INI = [
    (
        "change in place, indent kept",
        PHP,
        "PHP",
        "memory_limit",
        "256M",
        " = ",
        PHP.replace("  memory_limit = 128M ; inline", "  memory_limit = 256M"),
    ),
    ("same value: untouched", "[a]\nk=v\n", "a", "k", "v", " = ", "[a]\nk=v\n"),
    (
        "new key after the section's last line, before the blank",
        PHP,
        "PHP",
        "x",
        "1",
        " = ",
        PHP.replace("128M ; inline\n", "128M ; inline\nx = 1\n"),
    ),
    (
        "a commented key is not the key",
        PHP,
        "Date",
        "date.timezone",
        "UTC",
        " = ",
        PHP + "date.timezone = UTC\n",
    ),
    ("missing section at the end", PHP, "New", "k", "v", " = ", PHP + "\n[New]\nk = v\n"),
    (
        "outside any section: before the first header",
        PHP,
        "",
        "k",
        "v",
        "=",
        PHP.replace("[PHP]", "k=v\n[PHP]", 1),
    ),
    (
        "outside any section, existing",
        "k = 1\n[s]\nk = 2\n",
        "",
        "k",
        "3",
        " = ",
        "k = 3\n[s]\nk = 2\n",
    ),
    (
        "absent removes it, the section stays",
        PHP,
        "PHP",
        "engine",
        None,
        " = ",
        PHP.replace("engine = On\n", ""),
    ),
    (
        "absent when missing: untouched, no newline added",
        "[a]\nb = 1",
        "a",
        "z",
        None,
        " = ",
        "[a]\nb = 1",
    ),
    (
        "duplicates collapse to the first",
        "[a]\nk = 1\nk = 2\n",
        "a",
        "k",
        "3",
        " = ",
        "[a]\nk = 3\n",
    ),
    ("colon separator", "[a]\nk: 1\n", "a", "k", "2", ": ", "[a]\nk: 2\n"),
    ("empty file", "", "s", "k", "v", " = ", "[s]\nk = v\n"),
    (
        "section header with blanks and a comment",
        " [ a ] # c\nk = 1\n",
        "a",
        "k",
        "2",
        " = ",
        " [ a ] # c\nk = 2\n",
    ),
]


@pytest.mark.parametrize(
    ("text", "section", "setting", "value", "sep", "want"),
    [pytest.param(*c[1:], id=c[0]) for c in INI],
)
def test_edit_ini(
    text: str, section: str, setting: str, value: str | None, sep: str, want: str
) -> None:
    assert edit_ini(text, section, setting, value, sep) == want
    if value is not None:  # idempotent, and the value is found again
        assert edit_ini(want, section, setting, value, sep) == want
        assert find(want, section, setting, sep.strip()) == value


FSTAB = "# /etc/fstab\nUUID=abc / ext4 errors=remount-ro 0 1\n/dev/sdb1 /srv ext4 defaults 0 2\n"

# (id, text, attributes of mount:/srv, expected)
MOUNT = [
    (
        "same entry written another way stays",
        FSTAB,
        {"device": "/dev/sdb1", "fstype": "ext4", "passno": 2},
        FSTAB,
    ),
    (
        "changed options replace the line in place",
        FSTAB,
        {"device": "/dev/sdb1", "fstype": "ext4", "options": "noatime", "passno": 2},
        FSTAB.replace("/dev/sdb1 /srv ext4 defaults 0 2", "/dev/sdb1\t/srv\text4\tnoatime\t0\t2"),
    ),
    (
        "new entry at the end",
        "# empty\n",
        {"device": "tmpfs", "fstype": "tmpfs"},
        "# empty\ntmpfs\t/srv\ttmpfs\tdefaults\t0\t0\n",
    ),
    (
        "absent removes the line, comments kept",
        FSTAB,
        {"ensure": "absent"},
        "# /etc/fstab\nUUID=abc / ext4 errors=remount-ro 0 1\n",
    ),
    (
        "missing dump and pass count as 0",
        "/dev/x /srv ext4 defaults\n",
        {"device": "/dev/x", "fstype": "ext4"},
        "/dev/x /srv ext4 defaults\n",
    ),
]


@pytest.mark.parametrize(("text", "attrs", "want"), [pytest.param(*c[1:], id=c[0]) for c in MOUNT])
def test_edit_fstab(text: str, attrs: dict[str, Any], want: str) -> None:
    p = params("mount", "/srv", **attrs)
    assert edit_fstab(text, p) == want
    assert edit_fstab(want, p) == want


def test_blanks_in_fields_are_octal_escaped() -> None:
    p = params("mount", "/srv/my data", device="/img/a b.img", fstype="ext4")
    line = edit_fstab("", p)
    assert line == "/img/a\\040b.img\t/srv/my\\040data\text4\tdefaults\t0\t0\n"
    assert unescape(escape("a b\\c\td")) == "a b\\c\td"
    assert edit_fstab(line, p) == line


MOUNTINFO = (
    "22 1 0:21 / /proc rw,relatime - proc proc rw\n"
    "30 1 7:0 / /srv/my\\040data rw,relatime shared:5 - ext4 /dev/loop0 rw\n"
    "31 30 0:40 / /srv/my\\040data rw - tmpfs tmpfs rw\n"
)


def test_mountinfo_top_mount_and_escapes() -> None:
    top = mounted_at(MOUNTINFO, "/srv/my data")
    assert top is not None and (top.fstype, top.source) == ("tmpfs", "tmpfs")
    assert mounted_at(MOUNTINFO, "/srv") is None


@pytest.mark.parametrize(
    ("key", "path", "name"),
    [
        ("net.ipv4.ip_forward", "net/ipv4/ip_forward", "60-gitpuppet-net.ipv4.ip_forward.conf"),
        (
            "net.ipv4.conf.eth0/100.rp_filter",
            "net/ipv4/conf/eth0.100/rp_filter",
            "60-gitpuppet-net.ipv4.conf.eth0_100.rp_filter.conf",
        ),
    ],
)
def test_sysctl_paths(key: str, path: str, name: str) -> None:
    assert proc_path(key) == path
    assert file_name(key) == name


def test_sysctl_value_normal_form_and_file() -> None:
    p = params("sysctl", "net.ipv4.ip_local_port_range", value="32768\t 60999")
    assert p.wanted == "32768 60999"
    assert file_text(p).endswith(b"\nnet.ipv4.ip_local_port_range = 32768 60999\n")


def test_sources_text_deb822() -> None:
    p = params(
        "apt_source",
        "nginx",
        uris="https://nginx.org/packages/debian",
        suites="bookworm",
        components=["nginx"],
        architectures="amd64",
    )
    text = sources_text(p, "/etc/apt/keyrings/nginx.asc").decode()
    assert text.splitlines()[1:] == [
        "Types: deb",
        "URIs: https://nginx.org/packages/debian",
        "Suites: bookworm",
        "Components: nginx",
        "Architectures: amd64",
        "Signed-By: /etc/apt/keyrings/nginx.asc",
    ]
    flat = params("apt_source", "local", uris="file:/srv/repo", suites="./", trusted=True)
    assert "Components" not in sources_text(flat, None).decode()
    assert "Trusted: yes" in sources_text(flat, None).decode()
    assert key_suffix(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n") == ".asc"
    assert key_suffix(b"\x99\x01\x0d") == ".gpg"


def test_specs_import_without_pwd_grp_or_pygit2() -> None:
    """The specs are pure: importing them (as the compiler does) pulls in no machine access."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "for m in ('pwd', 'grp', 'pygit2'): sys.modules[m] = None\n"
        "import gitpuppet.types.sysctl.spec, gitpuppet.types.mount.spec\n"
        "import gitpuppet.types.apt_source.spec, gitpuppet.types.ini_setting.spec\n"
        "import gitpuppet.types.mount.fstab, gitpuppet.types.ini_setting.ini\n"
        "assert not any(m.endswith('.type') for m in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
