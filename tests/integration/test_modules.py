"""External modules (SPEC §9) in real runs: modules served over file:// and ssh on 127.0.0.1,
pinned by tag, branch or commit; the module server gone with and without a cached copy; a module
that tries to leave its own tree; signatures under verify."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.gitservers import HttpsGit, SigningKey, Sshd
from tests.integration.test_run_agent import Setup, git

pytestmark = pytest.mark.integration


class Module:
    """A module repository (bare, served) and its work clone."""

    def __init__(self, tmp: Path, name: str = "ntp") -> None:
        self.bare = tmp / f"mod-{name}.git"
        self.work = tmp / f"mod-{name}-work"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(self.bare)], check=True)
        subprocess.run(["git", "init", "-q", "-b", "main", str(self.work)], check=True)
        git(self.work, "remote", "add", "origin", str(self.bare))

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def commit(
        self, files: dict[str, str], message: str = "module", sign: SigningKey | None = None
    ) -> str:
        for rel, text in files.items():
            path = self.work / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(self.work, "add", "-A")
        signing = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={sign.key}"] if sign else []
        git(self.work, *signing, "commit", "-q", *(["-S"] if sign else []), "-m", message)
        git(self.work, "push", "-q", "-f", "origin", "main")
        return git(self.work, "rev-parse", "HEAD")

    def tag(self, name: str, force: bool = False) -> None:
        git(self.work, "tag", *(["-f"] if force else []), name)
        git(self.work, "push", "-q", *(["-f"] if force else []), "origin", name)


def ntp_files(target: Path, word: str) -> dict[str, str]:
    """A module `ntp`: class `ntp` (init.yaml) and `ntp.server`, a template, a file, its data."""
    return {
        "classes/init.yaml": "include: [ntp.server]\n",
        "classes/server.yaml": (
            "params: {servers: ~}\n"
            "resources:\n"
            f"  - file: {target}/ntp.conf\n"
            "    template: ntp:ntp.conf.j2\n"
            f"  - file: {target}/motd\n"
            "    source: ntp:motd\n"
        ),
        "templates/ntp.conf.j2": "# {{ servers | join(',') }}\n",
        "files/motd": f"{word}\n",
        "data/common.yaml": "ntp:\n  server:\n    servers: [a.pool, b.pool]\n",
    }


def push_control(setup: Setup, modules_yaml: str, classes: str = "[ntp]", extra: str = "") -> str:
    (setup.work / "modules.yaml").write_text(modules_yaml)
    (setup.work / "nodes.yaml").write_text(f"t.example.com:\n  classes: {classes}\n")
    (setup.work / "classes").mkdir(exist_ok=True)
    (setup.work / "classes/site.yaml").write_text(extra or "resources: []\n")
    git(setup.work, "add", "-A")
    git(setup.work, "commit", "-q", "--allow-empty", "-m", "control")
    git(setup.work, "push", "-q", "-f", "origin", "production")
    return git(setup.work, "rev-parse", "HEAD")


def last_report(setup: Setup) -> dict:  # type: ignore[type-arg]
    reports = sorted((setup.state / "reports").glob("*.json"))
    return json.loads(reports[-1].read_text())  # type: ignore[no-any-return]


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


@pytest.fixture
def module(setup: Setup) -> Module:
    return Module(setup.tmp)


def test_tag_module_applied_and_a_cached_tag_is_not_fetched_again(
    setup: Setup, module: Module
) -> None:
    first = module.commit(ntp_files(setup.target, "one"))
    module.tag("v1")
    push_control(setup, f"ntp: {{url: '{module.url}', ref: v1}}\n")
    r = setup.run("run", "--now")
    assert r.returncode == 2, r.stderr
    assert (setup.target / "motd").read_text() == "one\n"
    assert (setup.target / "ntp.conf").read_text() == "# a.pool,b.pool\n"  # the module's data
    assert last_report(setup)["modules"] == {"ntp": first}
    # The tag is moved on the server: the node keeps the tag it has (no fetch of a cached tag).
    module.commit({"files/motd": "moved\n"})
    module.tag("v1", force=True)
    r = setup.run("run", "--now")
    assert r.returncode == 0, r.stderr
    assert (setup.target / "motd").read_text() == "one\n"
    # And the server may be gone altogether.
    shutil.rmtree(module.bare)
    (setup.target / "motd").write_text("drifted\n")
    r = setup.run("run", "--now")
    assert r.returncode == 2, r.stderr
    assert (setup.target / "motd").read_text() == "one\n"


def test_branch_module_is_followed_and_its_server_down_keeps_the_applied(
    setup: Setup, module: Module
) -> None:
    module.commit(ntp_files(setup.target, "one"))
    line = f"ntp: {{url: '{module.url}', ref: main}}\n"
    push_control(setup, "# modules\n" + line)
    assert setup.run("run", "--now").returncode == 2
    second = module.commit({"files/motd": "two\n"})
    r = setup.run("run", "--now")  # the control repo did not change: the branch is followed
    assert r.returncode == 2, r.stderr
    assert (setup.target / "motd").read_text() == "two\n"
    assert last_report(setup)["modules"] == {"ntp": second}
    os.rename(module.bare, module.bare.with_name("gone.git"))
    (setup.target / "motd").write_text("drifted\n")
    r = setup.run("run", "--now")
    # Fallback: the applied commit with the module commit it was applied with, nothing fetched.
    assert r.returncode == 6, r.stdout + r.stderr
    assert "modules.yaml:2: module 'ntp'" in r.stderr
    assert (setup.target / "motd").read_text() == "two\n"
    assert last_report(setup)["modules"] == {"ntp": second}


def test_commit_pinned_module_is_cached_and_needs_no_server(setup: Setup, module: Module) -> None:
    pinned = module.commit(ntp_files(setup.target, "pinned"))
    module.commit({"files/motd": "later\n"})
    push_control(setup, f"ntp: {{url: '{module.url}', ref: {pinned}}}\n")
    r = setup.run("run", "--now")
    assert r.returncode == 2, r.stderr
    assert (setup.target / "motd").read_text() == "pinned\n"
    shutil.rmtree(module.bare)
    push_control(setup, f"# same pin\nntp: {{url: '{module.url}', ref: {pinned}}}\n")
    (setup.target / "motd").write_text("drifted\n")
    r = setup.run("run", "--now")
    assert r.returncode == 2, r.stderr  # the new control commit applies: the pin is cached
    assert (setup.target / "motd").read_text() == "pinned\n"


def test_module_server_down_without_a_cache_keeps_the_applied_commit(
    setup: Setup, module: Module
) -> None:
    applied = setup.push("before")
    assert setup.run("run", "--now").returncode == 2
    shutil.rmtree(module.bare)
    push_control(setup, f"ntp: {{url: '{module.url}', ref: v1}}\n")
    r = setup.run("run", "--now")
    assert r.returncode == 4, r.stdout + r.stderr
    assert "modules.yaml:1: module 'ntp'" in r.stderr
    assert (setup.target / "motd").read_text() == "before\n"
    assert json.loads((setup.state / "state.json").read_text())["applied_commit"] == applied


def test_first_run_with_an_unreachable_module_applies_nothing(setup: Setup, module: Module) -> None:
    shutil.rmtree(module.bare)
    push_control(setup, f"ntp: {{url: '{module.url}', ref: main}}\n")
    r = setup.run("run", "--now")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "modules.yaml:1" in r.stderr and "Traceback" not in r.stderr
    assert not (setup.target / "motd").exists()


def test_module_symlinks_and_dotdot_cannot_leave_the_module(setup: Setup, module: Module) -> None:
    files = ntp_files(setup.target, "one")
    module.commit(files)
    (module.work / "templates").mkdir(exist_ok=True)
    os.symlink("/etc/passwd", module.work / "templates/abs")
    os.symlink("../../../../../../../../etc/passwd", module.work / "templates/rel")
    module.commit({})
    secret = "control-repo-only\n"
    for name, template in [("abs", "ntp:abs"), ("rel", "ntp:rel"), ("dotdot", "ntp:../nodes.yaml")]:
        extra = f"resources:\n  - file: {setup.target}/{name}\n    template: '{template}'\n"
        push_control(setup, f"ntp: {{url: '{module.url}', ref: main}}\n", "[site]", extra)
        (setup.work / "templates").mkdir(exist_ok=True)
        r = setup.run("run", "--now")
        assert r.returncode == 1, (name, r.stdout + r.stderr)
        if name == "dotdot":
            assert "path 'templates/../nodes.yaml' leaves module 'ntp'" in r.stderr, r.stderr
        else:  # a link out of the module reads as absent, never what it points at
            assert "classes/site.yaml:3" in r.stderr and "not found" in r.stderr, r.stderr
        assert "root:" not in r.stdout + r.stderr and secret not in r.stderr
        assert not (setup.target / name).exists()


def test_module_name_colliding_with_a_control_class_is_refused(
    setup: Setup, module: Module
) -> None:
    module.commit(ntp_files(setup.target, "one"))
    (setup.work / "classes").mkdir(exist_ok=True)
    (setup.work / "classes/ntp.yaml").write_text("resources: []\n")
    push_control(setup, f"ntp: {{url: '{module.url}', ref: main}}\n")
    r = setup.run("run", "--now")
    assert r.returncode == 1
    assert "modules.yaml:1: module 'ntp' has the name of the control repo's classes/ntp.yaml" in (
        r.stderr
    )


def _verify(setup: Setup, key: SigningKey) -> None:
    kind, blob = key.pub.split()[:2]
    signers = setup.tmp / "allowed_signers"
    signers.write_text(f'{key.principal} namespaces="git" {kind} {blob}\n')
    setup.config.write_text(setup.config.read_text() + f"verify:\n  allowed_signers: {signers}\n")


def _push_signed(setup: Setup, key: SigningKey, modules_yaml: str) -> str:
    (setup.work / "modules.yaml").write_text(modules_yaml)
    (setup.work / "nodes.yaml").write_text("t.example.com:\n  classes: [ntp]\n")
    git(setup.work, "add", "-A")
    git(
        setup.work,
        "-c",
        "gpg.format=ssh",
        "-c",
        f"user.signingkey={key.key}",
        "commit",
        "-q",
        "-S",
        "-m",
        "signed",
    )
    git(setup.work, "push", "-q", "-f", "origin", "production")
    return git(setup.work, "rev-parse", "HEAD")


def test_under_verify_a_tag_must_be_signed_and_a_commit_pin_is_trusted(
    setup: Setup, module: Module, signing_key: SigningKey
) -> None:
    _verify(setup, signing_key)
    unsigned = module.commit(ntp_files(setup.target, "unsigned"))
    module.tag("v1")
    _push_signed(setup, signing_key, f"ntp: {{url: '{module.url}', ref: v1}}\n")
    r = setup.run("run", "--now")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "modules.yaml:1: module 'ntp'" in r.stderr and "is not signed" in r.stderr
    assert not (setup.target / "motd").exists()
    # The same unsigned module commit pinned by id in a signed control commit is trusted.
    _push_signed(setup, signing_key, f"ntp: {{url: '{module.url}', ref: {unsigned}}}\n")
    r = setup.run("run", "--now")
    assert r.returncode == 2, r.stdout + r.stderr
    # A signed tag's commit passes.
    signed = module.commit({"files/motd": "signed\n"}, sign=signing_key)
    module.tag("v2")
    _push_signed(setup, signing_key, f"ntp: {{url: '{module.url}', ref: v2}}\n")
    r = setup.run("run", "--now")
    assert r.returncode == 2, r.stdout + r.stderr
    assert last_report(setup)["modules"] == {"ntp": signed}


@pytest.fixture
def sshd_server(setup: Setup) -> Iterator[Sshd]:
    if not Path("/usr/sbin/sshd").exists():
        pytest.skip("OpenSSH sshd is not installed (apt-get install openssh-server)")
    server = Sshd(setup.tmp / "sshd")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_module_over_ssh_with_the_control_repos_key_and_known_hosts(
    setup: Setup, module: Module, sshd_server: Sshd
) -> None:
    setup.write_config(
        ssh_key=str(sshd_server.client_key), known_hosts=str(sshd_server.known_hosts)
    )
    tagged = module.commit(ntp_files(setup.target, "over ssh"))
    module.tag("v1")
    url = f"ssh://root@127.0.0.1:{sshd_server.port}{module.bare}"
    push_control(setup, f"ntp: {{url: '{url}', ref: v1}}\n")
    r = setup.run("run", "--now")
    assert r.returncode == 2, r.stdout + r.stderr
    assert (setup.target / "motd").read_text() == "over ssh\n"
    assert last_report(setup)["modules"] == {"ntp": tagged}
    cache = list((setup.state / "modules").glob("ntp-*.git"))
    assert len(cache) == 1 and (cache[0] / "shallow").is_file()  # network: a shallow fetch


def _cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    import sys

    env = {
        "GITPUPPET_CONFIG": "/nonexistent/config.yaml",
        "PATH": "/usr/bin:/bin",
        "XDG_CACHE_HOME": str(tmp / "cache"),
        "HOME": str(tmp),
    }
    return subprocess.run(
        [sys.executable, "-m", "gitpuppet.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_validate_and_node_of_a_directory_fetch_modules_or_stay_offline(
    setup: Setup, module: Module
) -> None:
    commit = module.commit(ntp_files(setup.target, "one"))
    push_control(setup, f"ntp: {{url: '{module.url}', ref: main}}\n")
    work = str(setup.work)
    offline = _cli(setup.tmp, "validate", work, "--offline")
    assert offline.returncode == 1
    assert "modules.yaml:1: module 'ntp'" in offline.stderr and "--offline" in offline.stderr
    assert not (setup.tmp / "cache").exists()  # offline: no cache made, nothing fetched
    r = _cli(setup.tmp, "validate", work)
    assert r.returncode == 0, r.stdout + r.stderr
    assert list((setup.tmp / "cache/gitpuppet/modules").glob("ntp-*.git"))
    assert _cli(setup.tmp, "validate", work, "--offline").returncode == 0  # now cached
    node = _cli(setup.tmp, "node", "t.example.com", "--repo", work, "--json")
    assert node.returncode == 0, node.stderr
    resources = json.loads(node.stdout)["resources"]
    assert {r["module"] for r in resources} == {"ntp"}
    text = _cli(setup.tmp, "node", "t.example.com", "--repo", work)
    assert "ntp:classes/server.yaml:3, class ntp.server, module ntp)" in text.stdout
    assert commit


def test_validate_reports_a_bad_modules_yaml_with_its_line(setup: Setup) -> None:
    push_control(setup, "ntp:\n  url: file:///nowhere\n  rev: v1\n", "[site]")
    r = _cli(setup.tmp, "validate", str(setup.work))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "modules.yaml:3: unknown key 'rev' in module 'ntp' (did you mean 'ref'?)" in r.stderr


def test_module_over_https_trusts_the_control_repos_ca_file(setup: Setup, module: Module) -> None:
    """A module on an https server whose certificate only the configured ca_file vouches for;
    without it the fetch is refused, the new commit does not apply, and nothing is changed."""
    server = HttpsGit(module.bare.parent, setup.tmp / "tls")
    server.start()
    try:
        tagged = module.commit(ntp_files(setup.target, "over https"))
        module.tag("v1")
        url = f"https://127.0.0.1:{server.port}/{module.bare.name}"
        push_control(setup, f"ntp: {{url: '{url}', ref: v1}}\n")
        untrusted = setup.run("run", "--now")
        assert untrusted.returncode == 1, untrusted.stdout + untrusted.stderr
        assert "certificate" in untrusted.stderr.lower(), untrusted.stderr
        assert not (setup.target / "motd").exists()
        setup.write_config(ca_file=str(server.tls.ca))
        r = setup.run("run", "--now")
        assert r.returncode == 2, r.stdout + r.stderr
        assert (setup.target / "motd").read_text() == "over https\n"
        assert last_report(setup)["modules"] == {"ntp": tagged}
        cache = list((setup.state / "modules").glob("ntp-*.git"))
        assert len(cache) == 1 and (cache[0] / "shallow").is_file()  # network: a shallow fetch
    finally:
        server.stop()
