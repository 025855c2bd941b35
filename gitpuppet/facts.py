"""Facts about this machine (SPEC §6), from /proc, /sys, /etc and the standard library only.

Gathering takes a few milliseconds: no external tools, no DNS. Extra facts come from
/etc/gitpuppet/facts.d (executables printing JSON or YAML, and .yaml/.json files);
`--facts F.yaml` replaces the whole set (for tests and `validate`).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from gitpuppet import __version__
from gitpuppet.errors import GitpuppetError

EXTERNAL_TIMEOUT = 10.0
# os-release ID -> os.name, as Puppet users know them; others use NAME's first word.
OS_NAMES = {
    "debian": "Debian",
    "ubuntu": "Ubuntu",
    "rhel": "RedHat",
    "centos": "CentOS",
    "rocky": "Rocky",
    "almalinux": "AlmaLinux",
    "fedora": "Fedora",
    "ol": "OracleLinux",
    "amzn": "Amazon",
    "alpine": "Alpine",
    "arch": "Archlinux",
    "sles": "SLES",
    "opensuse-leap": "openSUSE",
    "opensuse-tumbleweed": "openSUSE",
}
DEBIAN_ARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "armhf",
    "i686": "i386",
    "ppc64le": "ppc64el",
}
FAMILIES = {
    "debian": "Debian",
    "ubuntu": "Debian",
    "raspbian": "Debian",
    "linuxmint": "Debian",
    "rhel": "RedHat",
    "fedora": "RedHat",
    "centos": "RedHat",
    "rocky": "RedHat",
    "almalinux": "RedHat",
    "ol": "RedHat",
    "amzn": "RedHat",
    "suse": "Suse",
    "opensuse": "Suse",
    "sles": "Suse",
    "arch": "Archlinux",
    "alpine": "Alpine",
    "gentoo": "Gentoo",
}


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value lines of /etc/os-release, quotes removed."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            out[key] = value.strip().strip('"').strip("'")
    return out


def os_facts(release: dict[str, str], machine: str) -> dict[str, Any]:
    """The `os` fact from parsed os-release fields and the machine type (uname -m)."""
    ident = release.get("ID", "linux").lower()
    family = FAMILIES.get(ident)
    if family is None:
        for like in release.get("ID_LIKE", "").split():
            family = FAMILIES.get(like.lower())
            if family:
                break
    full = release.get("VERSION_ID", "")
    codename = release.get("VERSION_CODENAME") or release.get("UBUNTU_CODENAME") or ""
    if not codename and "(" in release.get("VERSION", ""):
        # "9.4 (Blue Onyx)", "10 (buster)": the words in brackets are the release's name.
        codename = release["VERSION"].split("(", 1)[1].split(")", 1)[0].strip()
    first_word = release.get("NAME", "").split()[:1]
    family = family or ident.capitalize()
    # Debian-family tools name architectures their own way (amd64, arm64): use those there,
    # as `dpkg --print-architecture` and Facter do; elsewhere the kernel's name (x86_64).
    arch = DEBIAN_ARCH.get(machine, machine) if family == "Debian" else machine
    return {
        "name": OS_NAMES.get(ident) or (first_word[0] if first_word else "Linux"),
        "id": ident,
        "family": family,
        "release": {"full": full, "major": full.split(".")[0] if full else ""},
        "codename": codename,
        "architecture": arch,
        "hardware": machine,
    }


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def fqdn_from_hosts(hostname: str, hosts_text: str) -> str:
    """The FQDN of `hostname` from /etc/hosts text, lower-cased; the name itself if none.

    No DNS query (socket.getfqdn can hang for seconds on a dead resolver): a line that lists the
    short name next to a dotted name that starts with it gives the FQDN, as Debian's
    `127.0.1.1 web01.example.com web01` does.
    """
    hostname = hostname.lower()
    if "." in hostname:
        return hostname
    for line in hosts_text.splitlines():
        names = [n.lower() for n in line.split("#", 1)[0].split()[1:]]
        if hostname in names:
            for name in names:
                if name.startswith(hostname + "."):
                    return name
    return hostname


def _memory_total() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _interfaces() -> dict[str, dict[str, Any]]:
    """name -> {ip, ip6, mac}, from /sys/class/net, /proc/net/if_inet6 and fcntl for IPv4."""
    out: dict[str, dict[str, Any]] = {}
    try:
        names = sorted(os.listdir("/sys/class/net"))
    except OSError:
        names = []
    for name in names:
        out[name] = {
            "mac": _read(f"/sys/class/net/{name}/address").strip() or None,
            "ip": None,
            "ip6": None,
        }
    for name, addr in _inet6_by_preference(_read("/proc/net/if_inet6")):
        if name in out and out[name]["ip6"] is None:
            out[name]["ip6"] = addr
    try:
        import fcntl
        import socket
        import struct

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for name in out:
                try:
                    packed = fcntl.ioctl(
                        sock.fileno(), 0x8915, struct.pack("256s", name[:15].encode())
                    )  # SIOCGIFADDR
                    out[name]["ip"] = socket.inet_ntoa(packed[20:24])
                except OSError:
                    pass
    except (ImportError, OSError):
        pass
    return out


def _inet6_by_preference(text: str) -> list[tuple[str, str]]:
    """(interface, address) from /proc/net/if_inet6: global addresses before link-local ones."""
    import socket  # here, not at the top: a run given --facts never needs it

    found: list[tuple[int, str, str]] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 6 or len(fields[0]) != 32:
            continue
        raw = fields[0]
        addr = socket.inet_ntop(socket.AF_INET6, bytes.fromhex(raw))
        scope = int(fields[3], 16)
        # Scope 0x00 is global, 0x10 host (::1), 0x20 link-local: prefer a routable address.
        rank = 0 if scope == 0 else (1 if scope == 0x10 else 2)
        found.append((rank, fields[5], addr))
    found.sort(key=lambda item: item[0])
    return [(name, addr) for _, name, addr in found]


def _primary(interfaces: dict[str, dict[str, Any]], key: str) -> str | None:
    """The address of the interface holding the default route, else the first non-loopback."""
    default_if = None
    for line in _read("/proc/net/route").splitlines()[1:]:
        fields = line.split()
        if len(fields) > 2 and fields[1] == "00000000":
            default_if = fields[0]
            break
    if default_if and interfaces.get(default_if, {}).get(key):
        return interfaces[default_if][key]
    for name, info in interfaces.items():
        if name != "lo" and info.get(key):
            return info[key]
    return None


def _virtual() -> str:
    if os.path.exists("/.dockerenv"):
        return "docker"
    if os.path.exists("/run/systemd/container"):
        return _read("/run/systemd/container").strip() or "container"
    if "container=" in _read("/proc/1/environ").replace("\0", " "):
        return "container"
    product = _read("/sys/class/dmi/id/product_name").strip().lower()
    for needle, name in (
        ("kvm", "kvm"),
        ("qemu", "kvm"),
        ("vmware", "vmware"),
        ("virtualbox", "virtualbox"),
        ("hvm domu", "xen"),
        ("virtual machine", "hyperv"),
        ("firecracker", "firecracker"),
    ):
        if needle in product:
            return name
    if "hypervisor" in _read("/proc/cpuinfo"):
        return "virtual"
    return "physical"


def _package_manager() -> str | None:
    for tool, name in (
        ("/usr/bin/apt-get", "apt"),
        ("/usr/bin/dnf", "dnf"),
        ("/usr/bin/yum", "yum"),
        ("/sbin/apk", "apk"),
        ("/usr/bin/zypper", "zypper"),
        ("/usr/bin/pacman", "pacman"),
    ):
        if os.path.exists(tool):
            return name
    return None


def builtin_facts() -> dict[str, Any]:
    """The facts gitpuppet gathers itself."""
    uname = os.uname()
    # The kernel's hostname (what /etc/hostname was set to at boot) costs no DNS query.
    hostname = uname.nodename.split(".")[0].lower()
    fqdn = fqdn_from_hosts(uname.nodename, _read("/etc/hosts"))
    interfaces = _interfaces()
    return {
        "hostname": hostname,
        "fqdn": fqdn,
        "domain": fqdn.partition(".")[2],
        "os": os_facts(
            parse_os_release(_read("/etc/os-release") or _read("/usr/lib/os-release")),
            uname.machine,
        ),
        "kernel": {"name": uname.sysname, "release": uname.release},
        "processors": {"count": os.cpu_count() or 1},
        "memory": {"total_bytes": _memory_total()},
        "networking": {
            "ip": _primary(interfaces, "ip"),
            "ip6": _primary(interfaces, "ip6"),
            "interfaces": interfaces,
        },
        "virtual": _virtual(),
        "init": "systemd" if os.path.isdir("/run/systemd/system") else "sysvinit",
        "package_manager": _package_manager(),
        "python": {
            "version": ".".join(map(str, sys.version_info[:3])),
            "executable": sys.executable,
        },
        "gitpuppet": {"version": __version__},
    }


def parse_facts_text(text: str, source: str) -> dict[str, Any]:
    """A JSON or YAML mapping of facts; ValueError names `source` (and the line for YAML)."""
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        import yaml

        try:
            data = yaml.load(text, Loader=yaml.CSafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"{source}:{mark.line + 1}" if mark is not None else source
            raise ValueError(f"{where}: neither JSON nor YAML: {exc.problem}") from None
        except yaml.YAMLError as exc:
            raise ValueError(f"{source}: neither JSON nor YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{source}: must give a mapping of fact names to values")
    return data


def external_facts(
    facts_d: str | Path, run_executables: bool = True
) -> tuple[dict[str, Any], list[str]]:
    """Facts from facts.d, and warnings for the ones that failed (a broken fact is not fatal).
    Without `run_executables` only the .yaml/.json files are read (commands that only look)."""
    out: dict[str, Any] = {}
    warnings: list[str] = []
    try:
        entries = sorted(Path(facts_d).iterdir())
    except OSError:
        return out, warnings
    for path in entries:
        # Editor backups and hidden files (`.fact.swp`, `fact~`) are not facts.
        if path.name.startswith(".") or path.name.endswith("~") or not path.is_file():
            continue
        try:
            if path.suffix in (".yaml", ".yml", ".json"):
                out.update(parse_facts_text(path.read_text(), str(path)))
            elif run_executables and os.access(path, os.X_OK):
                out.update(_run_fact(path))
        except (ValueError, OSError, GitpuppetError) as exc:
            warnings.append(f"external fact {path.name} ignored: {exc}")
    return out, warnings


def _run_fact(path: Path) -> dict[str, Any]:
    """Run one executable fact (10 s at most); its stdout is the facts, stderr only explains."""
    from gitpuppet.command import run_command

    result = run_command([str(path)], timeout=EXTERNAL_TIMEOUT, split_stderr=True)
    if result.returncode != 0:
        said = result.stderr.strip()[-200:] or result.stdout.strip()[-200:]
        raise ValueError(f"{path} exited {result.returncode}" + (f": {said}" if said else ""))
    return parse_facts_text(result.stdout, str(path))


def load_facts_file(path: str | Path) -> dict[str, Any]:
    """A facts file given with --facts: a YAML or JSON mapping."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise GitpuppetError(f"cannot read facts file {path}: {exc.strerror}") from None
    if not text.strip():
        return {}
    try:
        return parse_facts_text(text, str(path))
    except ValueError as exc:
        raise GitpuppetError(
            str(exc), "give a YAML or JSON mapping of fact names to values"
        ) from None


def gather_facts(
    facts_d: str | Path | None = "/etc/gitpuppet/facts.d",
    override_file: str | Path | None = None,
    warnings: list[str] | None = None,
    run_executables: bool = True,
) -> dict[str, Any]:
    """This machine's facts; with `override_file`, that file is the whole fact set (and
    facts.d is not looked at). Without `run_executables`, no facts.d executable runs."""
    if override_file is not None:
        facts = load_facts_file(override_file)
        own = facts.setdefault("gitpuppet", {})
        if isinstance(own, dict):
            own.setdefault("version", __version__)
        return facts
    facts = builtin_facts()
    if facts_d is not None:
        extra, problems = external_facts(facts_d, run_executables)
        facts.update(extra)
        if warnings is not None:
            warnings.extend(problems)
        else:
            import logging

            for problem in problems:
                logging.getLogger(__name__).warning("%s", problem)
    return facts


def node_name_default(facts: dict[str, Any]) -> str:
    """The node name when the config gives none: the FQDN fact (else hostname), lower-cased."""
    return str(facts.get("fqdn") or facts.get("hostname") or "").lower()
