"""The package type with real apt and dpkg: throwaway .deb packages (names starting with
`gitpuppet-test-`) served from a local flat repository, apt pointed at it alone through
APT_CONFIG (tests/integration/debrepo.py). They are really installed on this machine and purged
after each test, even when it fails.

apt and dpkg share one database and lock, and the tests share package names, so each test holds
a file lock across processes (xdist workers, other sessions) and xdist is asked to keep them on
one worker. How many apt-get calls made changes is read from apt's
own history log, which the test configuration keeps in the test folder.

The parsers of every provider (dpkg status, apt-cache policy, rpm, pip) are tested here too,
on recorded output; dnf itself cannot run on this Debian machine.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitpuppet.contract import ApplyContext
from gitpuppet.errors import ApplyError, SourceError
from gitpuppet.model import Change, Ref, Resource
from gitpuppet.types.package import apt as apt_provider
from gitpuppet.types.package.apt import explain_failure, parse_dpkg_status, parse_policy
from gitpuppet.types.package.dnf import DnfProvider, parse_rpm_query
from gitpuppet.types.package.pip import canonical, parse_index_versions
from gitpuppet.types.package.provider import (
    Available,
    Installed,
    PackageState,
    ProviderBlocked,
)
from gitpuppet.types.package.rpmver import evr_cmp, vercmp
from gitpuppet.types.package.type import TYPE, default_provider_name
from tests.integration import helpers
from tests.integration.debrepo import (
    PREFIX,
    DebPackage,
    LocalApt,
    apt_lock,
    dpkg_state,
    installed_version,
    purge_test_packages,
)
from tests.integration.test_type_support import make

pytestmark = [pytest.mark.xdist_group("apt")]

A, B, C, D = (PREFIX + x for x in "abcd")
BROKEN, NOSUCH = PREFIX + "broken", PREFIX + "nosuch"
PACKAGES = [
    DebPackage(A, "1.0-1", conffile=True),
    DebPackage(A, "2.0-1", conffile=True),
    DebPackage(B, "1.0-1"),
    DebPackage(C, "1.0-1", depends=A),
    DebPackage(D, "1.0-1", conflicts=A),
    DebPackage(BROKEN, "1.0-1", scripts={"preinst": "echo 'refusing to install' >&2; exit 1"}),
]
DEBIAN = {"os": {"family": "Debian"}}


def _apt_missing() -> str | None:
    if os.geteuid() != 0:
        return "installing packages needs root"
    for tool in ("apt-get", "dpkg-deb", "dpkg-query"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


@pytest.fixture(scope="module")
def local_apt(tmp_path_factory: pytest.TempPathFactory) -> LocalApt:
    """The test repository, built once per module (its lists are its own: no host lock)."""
    reason = _apt_missing()
    if reason:
        pytest.skip(reason)
    repo = LocalApt(tmp_path_factory.mktemp("apt"))
    start = time.monotonic()
    repo.publish(PACKAGES)
    print(f"apt test repository built in {time.monotonic() - start:.2f} s", file=sys.stderr)
    return repo


@pytest.fixture
def apt(local_apt: LocalApt, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalApt]:
    """apt pointed at the test repository, for one test that holds the cross-process apt lock;
    every test package is purged before and after."""
    monkeypatch.setenv("APT_CONFIG", str(local_apt.conf))
    with apt_lock():
        purge_test_packages()  # a session killed mid-test may have left some behind
        try:
            yield local_apt
        finally:
            purge_test_packages()


@pytest.fixture
def ctx(tmp_path: Path) -> ApplyContext:
    return ApplyContext(state_dir=tmp_path / "state", facts=DEBIAN)


def pkg(name: str, **attrs: str) -> Resource:
    return make("package", name, None, **attrs)


def changes_of(res: Resource, ctx: ApplyContext) -> list[tuple[str, object, object]]:
    return [(c.attr, c.old, c.new) for c in TYPE.diff(TYPE.current(res, ctx), res, ctx)]


def converge(res: Resource, ctx: ApplyContext) -> list[tuple[str, object, object]]:
    """What the applier does for one resource: read, diff, apply, read again."""
    cur = TYPE.current(res, ctx)
    changes = TYPE.diff(cur, res, ctx)
    if changes:
        TYPE.apply(res, cur, changes, ctx)
        assert changes_of(res, ctx) == [], "did not converge"
    return [(c.attr, c.old, c.new) for c in changes]


def converge_together(
    resources: list[Resource], ctx: ApplyContext
) -> tuple[dict[Ref, list[Change]], dict[Ref, ApplyError]]:
    """What the applier does for packages that became ready together: read and diff each, one
    apply_many for those with changes, then read each again (left-over changes fail it)."""
    TYPE.prefetch(resources, ctx)
    items = []
    for res in resources:
        cur = TYPE.current(res, ctx)
        changes = TYPE.diff(cur, res, ctx)
        if changes:
            items.append((res, cur, changes))
    errors = TYPE.apply_many(items, ctx) if items else {}
    for res, _cur, _changes in items:
        if res.ref not in errors:
            assert changes_of(res, ctx) == [], f"{res.ref} did not converge"
    return {res.ref: changes for res, _, changes in items}, errors


def apt_calls(apt: LocalApt, since: int = 0) -> list[dict[str, str]]:
    """apt-get runs that changed something (apt's history log), from entry `since` on."""
    return apt.history()[since:]


# -- real apt -----------------------------------------------------------------------------------


def test_install_reports_the_version_and_is_idempotent(apt: LocalApt, ctx: ApplyContext) -> None:
    before = len(apt.history())
    assert converge(pkg(A), ctx) == [("ensure", None, "2.0-1")]
    assert installed_version(A) == "2.0-1"
    assert converge(pkg(A), ctx) == []
    assert converge(pkg(A, ensure="present"), ctx) == []
    (call,) = apt_calls(apt, before)
    assert call["Install"].startswith(f"{A}:")


def test_pin_upgrade_to_latest_and_downgrade(apt: LocalApt, ctx: ApplyContext) -> None:
    before = len(apt.history())
    assert converge(pkg(A, ensure="1.0-1"), ctx) == [("ensure", None, "1.0-1")]
    assert installed_version(A) == "1.0-1"
    # `installed` is satisfied by any version: it never upgrades on its own.
    assert converge(pkg(A), ctx) == []
    assert converge(pkg(A, ensure="latest"), ctx) == [("ensure", "1.0-1", "2.0-1")]
    assert installed_version(A) == "2.0-1"
    assert converge(pkg(A, ensure="latest"), ctx) == []
    assert converge(pkg(A, ensure="1.0-1"), ctx) == [("ensure", "2.0-1", "1.0-1")]
    assert installed_version(A) == "1.0-1"
    calls = apt_calls(apt, before)
    assert [sorted(k for k in c if k in ("Install", "Upgrade", "Downgrade")) for c in calls] == [
        ["Install"],
        ["Upgrade"],
        ["Downgrade"],
    ]


def test_absent_keeps_configuration_and_purged_removes_it(apt: LocalApt, ctx: ApplyContext) -> None:
    conf = Path(f"/etc/gitpuppet-test/{A}.conf")
    converge(pkg(A), ctx)
    assert conf.exists()
    assert converge(pkg(A, ensure="absent"), ctx) == [("ensure", "2.0-1", None)]
    assert dpkg_state(A) == "config-files" and conf.exists()
    assert converge(pkg(A, ensure="absent"), ctx) == []
    assert converge(pkg(A, ensure="purged"), ctx) == [("ensure", "config files", None)]
    assert dpkg_state(A) == "not-installed" and not conf.exists()
    assert converge(pkg(A, ensure="purged"), ctx) == []


def test_packages_ready_together_take_one_apt_call(apt: LocalApt, ctx: ApplyContext) -> None:
    before = len(apt.history())
    changes, errors = converge_together([pkg(A, ensure="1.0-1"), pkg(B), pkg(C)], ctx)
    assert errors == {}
    assert {str(ref): [(c.old, c.new) for c in ch] for ref, ch in changes.items()} == {
        f"package:{A}": [(None, "1.0-1")],
        f"package:{B}": [(None, "1.0-1")],
        f"package:{C}": [(None, "1.0-1")],
    }
    (install,) = apt_calls(apt, before)
    assert all(name in install["Install"] for name in (A, B, C))
    # Nothing to do: no call at all.
    assert converge_together([pkg(A, ensure="1.0-1"), pkg(B), pkg(C)], ctx) == ({}, {})
    # A mixed batch: one removal call, then one install call.
    mark = len(apt.history())
    changes, errors = converge_together(
        [pkg(A, ensure="latest"), pkg(B, ensure="absent"), pkg(C)], ctx
    )
    assert errors == {} and len(changes) == 2
    removal, upgrade = apt_calls(apt, mark)
    assert B in removal["Remove"] and "Install" not in removal
    assert A in upgrade["Upgrade"]
    mark = len(apt.history())
    _, errors = converge_together([pkg(n, ensure="absent") for n in (A, B, C)], ctx)
    assert errors == {}
    (removal,) = apt_calls(apt, mark)
    assert A in removal["Remove"] and C in removal["Remove"]
    assert installed_version(A) is None and installed_version(C) is None


def test_a_failing_package_fails_only_itself(apt: LocalApt, ctx: ApplyContext) -> None:
    before = len(apt.history())
    _, errors = converge_together([pkg(A), pkg(BROKEN), pkg(B)], ctx)
    assert list(errors) == [Ref("package", BROKEN)]
    error = errors[Ref("package", BROKEN)]
    assert "pre-installation script" in str(error)
    assert error.output and "refusing to install" in error.output
    assert installed_version(A) == "2.0-1" and installed_version(B) == "1.0-1"
    assert installed_version(BROKEN) is None
    calls = apt_calls(apt, before)
    # The combined call failed; only what it left undone was tried again, one by one.
    assert len(calls) <= 3 and "Error" in calls[0]
    assert all(BROKEN not in c.get("Install", "") or "Error" in c for c in calls)


def test_unknown_name_fails_before_any_change(apt: LocalApt, ctx: ApplyContext) -> None:
    with pytest.raises(ApplyError) as caught:
        TYPE.current(pkg(NOSUCH), ctx)
    assert caught.value.message == f"no such package '{NOSUCH}' in the apt sources"
    assert caught.value.hint == "check the name or run apt-get update"
    # The sources changed between reading and installing: apt's own error, for that one only.
    gone = PackageState(Installed(None), Available("1.0-1", ("1.0-1",)))
    good = pkg(B)
    good_state = TYPE.current(good, ctx)
    errors = TYPE.apply_many(
        [
            (pkg(NOSUCH), gone, [Change("ensure", None, "1.0-1")]),
            (good, good_state, TYPE.diff(good_state, good, ctx)),
        ],
        ctx,
    )
    assert list(errors) == [Ref("package", NOSUCH)]
    assert str(errors[Ref("package", NOSUCH)]).startswith(f"no such package '{NOSUCH}'")
    assert "Unable to locate package" in (errors[Ref("package", NOSUCH)].output or "")
    assert installed_version(B) == "1.0-1"


def test_unknown_version_and_bad_names(apt: LocalApt, ctx: ApplyContext) -> None:
    with pytest.raises(ApplyError) as caught:
        TYPE.current(pkg(A, ensure="9.9-9"), ctx)
    assert caught.value.message == f"version 9.9-9 of '{A}' is not in the apt sources"
    assert caught.value.hint == "versions there: 2.0-1, 1.0-1"
    for name in ("-oAPT::Get::Assume-Yes=1", "Upper", "a b"):
        res = pkg("placeholder")
        res.params.name = name  # '-o…' and 'a b' are refused at compile since issue 8
        with pytest.raises(ApplyError, match="is not a Debian package name"):
            TYPE.current(res, ctx)
    for name in ("-oAPT::Get::Assume-Yes=1", "a b"):
        with pytest.raises(SourceError, match="starts with '-'|blank"):
            pkg(name)
    with pytest.raises(ApplyError, match="is not a Debian version"):
        TYPE.current(pkg(A, ensure="1.0 -o x"), ctx)


def test_removal_does_not_cascade_to_dependents(apt: LocalApt, ctx: ApplyContext) -> None:
    converge_together([pkg(A), pkg(C)], ctx)
    with pytest.raises(ApplyError) as caught:
        converge(pkg(A, ensure="absent"), ctx)
    assert caught.value.message == f"removing {A} would also remove {C} (they depend on it)"
    assert installed_version(A) == "2.0-1" and installed_version(C) == "1.0-1"
    _, errors = converge_together([pkg(A, ensure="absent"), pkg(C, ensure="absent")], ctx)
    assert errors == {} and installed_version(A) is None


def test_install_never_removes_a_conflicting_package(apt: LocalApt, ctx: ApplyContext) -> None:
    converge(pkg(A), ctx)
    with pytest.raises(ApplyError) as caught:
        converge(pkg(D), ctx)
    assert "would remove other packages (a conflict)" in caught.value.message
    assert caught.value.hint == "declare the conflicting packages ensure: absent"
    assert installed_version(A) == "2.0-1" and installed_version(D) is None
    # Declared absent, the old one goes first and the new one comes in the same run.
    _, errors = converge_together([pkg(D), pkg(A, ensure="absent")], ctx)
    assert errors == {} and installed_version(D) == "1.0-1"


def test_held_package_is_not_forced(apt: LocalApt, ctx: ApplyContext) -> None:
    converge(pkg(A, ensure="1.0-1"), ctx)
    subprocess.run(["apt-mark", "hold", A], check=True, capture_output=True)
    assert TYPE.current(pkg(A), ctx).installed.held
    with pytest.raises(ApplyError) as caught:
        converge(pkg(A, ensure="latest"), ctx)
    assert "held package" in caught.value.message and "apt-mark unhold" in (caught.value.hint or "")
    assert installed_version(A) == "1.0-1"


def test_dpkg_lock_held_fails_the_batch_once_after_a_bounded_wait(
    apt: LocalApt, ctx: ApplyContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(apt_provider.PROVIDER, "lock_wait", 1)
    fd = os.open("/var/lib/dpkg/lock-frontend", os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        start = time.monotonic()
        _, errors = converge_together([pkg(A), pkg(B)], ctx)
        elapsed = time.monotonic() - start
    finally:
        os.close(fd)
    assert set(errors) == {Ref("package", A), Ref("package", B)}
    error = errors[Ref("package", A)]
    assert isinstance(error, ProviderBlocked)
    assert error.message.startswith(
        f"the dpkg lock (/var/lib/dpkg/lock-frontend) is held by process {os.getpid()} ("
    )
    assert "gave up after waiting 1 s" in error.message
    assert elapsed < 8, "waited once for the whole batch, not once per package"
    assert installed_version(A) is None


def test_apply_output_noop_and_failures_through_the_cli(apt: LocalApt, tmp_path: Path) -> None:
    repo = helpers.make_repo(
        tmp_path / "repo",
        f"""\
        - package: {A}
        - package: {B}
          ensure: "1.0-1"
        - package: {NOSUCH}
        """,
    )
    state = tmp_path / "state"
    noop = helpers.apply(repo, state, "--noop")
    assert noop.returncode == 6, noop.stderr + noop.stdout
    assert f"package:{A}: would change ensure" in noop.stdout
    assert installed_version(A) is None
    before = len(apt.history())
    run = helpers.apply(repo, state)
    assert run.returncode == 6, run.stderr + run.stdout
    # The applier hands both ready packages to the type at once: one apt-get call.
    (call,) = apt_calls(apt, before)
    assert A in call["Install"] and B in call["Install"]
    assert f"package:{A}: ensure changed" in run.stdout
    assert f"package:{B}: ensure changed" in run.stdout
    assert (
        f"package:{NOSUCH}: failed: no such package '{NOSUCH}' in the apt sources "
        "(check the name or run apt-get update)"
    ) in run.stdout
    assert installed_version(A) == "2.0-1" and installed_version(B) == "1.0-1"
    report = json.loads(sorted((state / "reports").glob("*.json"))[-1].read_text())
    entries = {r["ref"]: r for r in report["resources"]}
    assert entries[f"package:{A}"]["changes"][0] | {"redacted": False} == {
        "attribute": "ensure",
        "old": None,
        "new": "2.0-1",
        "redacted": False,
    }
    again = helpers.apply(repo, state)
    assert again.returncode == 4, again.stderr + again.stdout  # only the unknown name fails
    assert "ensure changed" not in again.stdout


def test_provider_choice_and_unusable_providers(
    apt: LocalApt, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def ctx_with(facts: dict[str, Any]) -> ApplyContext:
        return ApplyContext(state_dir=tmp_path, facts=facts)

    redhat = {"os": {"family": "RedHat"}, "package_manager": "dnf"}
    # An explicit provider wins over the facts.
    assert TYPE.current(pkg(B, provider="apt"), ctx_with(redhat)).installed.version is None
    if shutil.which("rpm") is None:
        with pytest.raises(ApplyError) as caught:
            TYPE.current(pkg(B), ctx_with(redhat))
        assert caught.value.message == (
            "provider dnf is not usable on this system: rpm is not installed"
        )
    with pytest.raises(ApplyError, match=r"no package provider for this system \(os family Gentoo"):
        TYPE.current(pkg(B), ctx_with({"os": {"family": "Gentoo"}}))
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(ApplyError) as caught:
        TYPE.current(pkg(B), ctx_with(DEBIAN))
    assert (
        caught.value.message
        == "provider apt is not usable on this system: apt-get is not installed"
    )


# -- pip, in a throwaway virtualenv with a local wheel folder ----------------------------------


def _wheel(folder: Path, dist: str, version: str) -> None:
    """A minimal pure-Python wheel, written by hand (no build tools, no network)."""
    import base64
    import hashlib
    import zipfile

    module = dist.replace("-", "_")
    info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: gitpuppet-tests\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = hashlib.sha256(text.encode()).digest()
        b64 = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        record.append(f"{path},sha256={b64},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    with zipfile.ZipFile(folder / f"{module}-{version}-py3-none-any.whl", "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)


def test_pip_provider_in_a_virtualenv(
    tmp_path: Path, ctx: ApplyContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python3` on PATH is a throwaway virtualenv (with this interpreter's pip); pip reads its
    index settings from the environment, pointed at a folder of two wheels."""
    pip_module = pytest.importorskip("pip")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # The test interpreter's pip, linked in: no download, and nothing else of it visible.
    (site_packages,) = (venv / "lib").glob("python3*/site-packages")
    (site_packages / "pip").symlink_to(Path(pip_module.__file__).parent)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for version in ("1.0", "2.0"):
        _wheel(wheels, "gitpuppet-test-w", version)
    monkeypatch.setenv("PATH", f"{venv / 'bin'}:{os.environ['PATH']}")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    name = "gitpuppet_test.W"  # any spelling of the name: pip compares canonical names
    assert converge(pkg(name, provider="pip", ensure="1.0"), ctx) == [("ensure", None, "1.0")]
    assert converge(pkg(name, provider="pip", ensure="1.0"), ctx) == []
    assert converge(pkg(name, provider="pip", ensure="latest"), ctx) == [("ensure", "1.0", "2.0")]
    assert list((venv / "lib").glob("python3*/site-packages/gitpuppet_test_w-2.0.dist-info"))
    with pytest.raises(ApplyError, match="no such package 'gitpuppet-test-nosuch' in the Python"):
        TYPE.current(pkg("gitpuppet-test-nosuch", provider="pip"), ctx)
    assert converge(pkg(name, provider="pip", ensure="absent"), ctx) == [("ensure", "2.0", None)]
    assert not list((venv / "lib").glob("python3*/site-packages/gitpuppet_test_w*"))


# -- parsers, on recorded output -----------------------------------------------------------------

DPKG_STATUS = """\
Package: curl
Status: install ok installed
Priority: optional
Architecture: amd64
Version: 7.88.1-10+deb12u5
Description: command line tool
 with a continuation line: Version: 0.0

Package: libc6
Status: install ok installed
Architecture: i386
Version: 2.36-9

Package: libc6
Status: hold ok installed
Architecture: amd64
Version: 2.36-9+deb12u4

Package: nginx
Status: deinstall ok config-files
Architecture: amd64
Version: 1.22.1-9

Package: half
Status: install reinstreq half-configured
Architecture: all
Version: 1

Package: gone
Status: purge ok not-installed
Architecture: amd64
"""


def test_parse_dpkg_status() -> None:
    table = parse_dpkg_status(DPKG_STATUS)
    assert set(table) == {"curl", "libc6", "nginx", "half"}
    assert table["curl"][0].state == Installed("7.88.1-10+deb12u5")
    assert [(e.arch, e.state.version, e.state.held) for e in table["libc6"]] == [
        ("i386", "2.36-9", False),
        ("amd64", "2.36-9+deb12u4", True),
    ]
    assert table["nginx"][0].state == Installed(None, leftovers=True)
    assert table["half"][0].state == Installed(None, broken="half-configured")


POLICY = """\
curl:
  Installed: 7.88.1-10+deb12u14
  Candidate: 7.88.1-10+deb12u15
  Version table:
     7.88.1-10+deb12u15 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
 *** 7.88.1-10+deb12u14 100
        100 /var/lib/dpkg/status
mail-transport-agent:
  Installed: (none)
  Candidate: (none)
  Version table:
"""


def test_parse_policy() -> None:
    assert parse_policy(POLICY) == {
        "curl": Available("7.88.1-10+deb12u15", ("7.88.1-10+deb12u15", "7.88.1-10+deb12u14")),
        "mail-transport-agent": Available(None, ()),
    }
    assert parse_policy("") == {}


@pytest.mark.parametrize(
    ("output", "message", "blocked"),
    [
        ("E: Unable to locate package fooo\n", "no such package 'fooo' in the apt sources", False),
        (
            "E: Version '9' for 'curl' was not found\n",
            "version 9 of 'curl' is not in the apt sources",
            False,
        ),
        (
            "E: Package 'mta' has no installation candidate\n",
            "'mta' has no installable version in the apt sources",
            False,
        ),
        (
            "Waiting for cache lock: Could not get lock /var/lib/dpkg/lock-frontend. It is held by"
            " process 42 (unattended-upgr)...\nE: Unable to acquire the dpkg frontend lock "
            "(/var/lib/dpkg/lock-frontend), is another process using it?\n",
            "the dpkg lock (/var/lib/dpkg/lock-frontend) is held by process 42 (unattended-upgr);"
            " gave up after waiting 120 s",
            True,
        ),
        (
            "E: Could not get lock /var/cache/apt/archives/lock. It is held by process 7 (apt-get)\n",
            "the apt lock (/var/cache/apt/archives/lock) is held by process 7 (apt-get)",
            True,
        ),
        (
            "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem.\n",
            "an earlier dpkg run was interrupted and must be finished first",
            True,
        ),
        (
            "E: Could not open lock file /var/lib/dpkg/lock-frontend - open (13: Permission denied)\n"
            "E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), are you root?\n",
            "installing x needs root",
            True,
        ),
        ("E: Something new\n", "installing x failed: Something new", False),
    ],
)
def test_apt_failures_are_explained(output: str, message: str, blocked: bool) -> None:
    error = explain_failure(output, "installing x")
    assert error.message == message
    assert isinstance(error, ProviderBlocked) is blocked
    assert error.output == output


def test_rpm_ordering_and_queries() -> None:
    for a, b, expected in [
        ("1.0", "1.0", 0),
        ("1.10", "1.9", 1),
        ("1.0~rc1", "1.0", -1),
        ("1.0^post", "1.0", 1),
        ("1.0a", "1.0", 1),
        ("2", "a", 1),
    ]:
        assert vercmp(a, b) == expected, (a, b)
    assert evr_cmp("1:1.0-1", "2.0-1") == 1
    assert evr_cmp("1.0-2.el9", "1.0-10.el9") == -1
    assert parse_rpm_query(
        "bash 5.1.8-9.el9 x86_64\nopenssl 1:3.0.7-27.el9 x86_64\npackage nosuch is not installed\n"
    ) == {"bash": [("5.1.8-9.el9", "x86_64")], "openssl": [("1:3.0.7-27.el9", "x86_64")]}
    dnf = DnfProvider()
    assert dnf.same_version("1:3.0.7-27.el9", "1:3.0.7-27.el9")
    assert dnf.same_version("3.0.7-27.el9", "3.0.7")
    assert dnf.same_version("3.0.7-27.el9", "0:3.0.7-27.el9")
    assert not dnf.same_version("3.0.7-27.el9", "3.0.7-26.el9")


def test_pip_parsers_and_provider_defaults() -> None:
    assert canonical("Gitpuppet_Test.W") == "gitpuppet-test-w"
    assert parse_index_versions(
        "WARNING: pip index is currently an experimental command.\n"
        "requests (2.32.3)\nAvailable versions: 2.32.3, 2.32.2\n"
    ) == Available("2.32.3", ("2.32.3", "2.32.2"))
    assert parse_index_versions("ERROR: No matching distribution found for nosuch\n") is None
    assert default_provider_name({"os": {"family": "Debian"}}) == "apt"
    assert default_provider_name({"os": {"family": "RedHat"}}) == "dnf"
    assert default_provider_name({"os": {"family": "Amazon"}, "package_manager": "yum"}) == "dnf"
    assert default_provider_name({"os": {"family": "Alpine"}, "package_manager": "apk"}) is None
