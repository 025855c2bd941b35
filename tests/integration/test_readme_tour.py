"""The README's set-up and tour work exactly as written: every `gitpuppet` command line of the
tour (and of the set-up) is taken from README.md and run by a real shell on sample-repo, the
first set-up line works as root where there is no sudo, the YAML shown is what sample-repo
holds, and the error shown for a typo is what gitpuppet prints."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.debrepo import apt_lock

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
TOUR = "## A 5-minute tour"
GITPUPPET = ".venv/bin/gitpuppet"


def section(heading: str | None) -> str:
    """The README text under `heading` (None: before the first `## `), up to the next `## `."""
    if heading is None:
        return README.split("\n## ", 1)[0]
    return README.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


def blocks(text: str, lang: str) -> list[list[str]]:
    """The lines of every fenced block of `text` opened by ```lang (lang "": a plain fence)."""
    found: list[tuple[str, list[str]]] = []
    inside = False
    for line in text.splitlines():
        if not inside and line.startswith("```"):
            found.append((line[3:].strip(), []))
            inside = True
        elif inside and line == "```":
            inside = False
        elif inside:
            found[-1][1].append(line)
    return [lines for fence, lines in found if fence == lang]


def setup_lines() -> list[str]:
    """The set-up commands at the top of the README (comments and blank lines left out)."""
    return [ln for b in blocks(section(None), "sh") for ln in b if ln and not ln.startswith("#")]


def gitpuppet_part(line: str) -> str:
    """The `gitpuppet …` command of a line (one of its `&&` parts), without a trailing comment."""
    parts = [p.strip() for p in line.split("&&") if p.strip().startswith(GITPUPPET)]
    assert len(parts) == 1, line
    return re.sub(r"\s+#\s.*$", "", parts[0])


def commands() -> list[str]:
    """Every gitpuppet command line of the tour, then the gitpuppet part of the set-up."""
    tour = [ln for b in blocks(section(TOUR), "sh") for ln in b if ln.startswith(GITPUPPET)]
    setup = [ln for ln in setup_lines() if GITPUPPET in ln]
    return [gitpuppet_part(ln) for ln in tour + setup]


def allowed_exits(command: str) -> set[int]:
    """As the README documents: apply/run exit 2 for pending changes under --noop."""
    words = command.split()
    return {0, 2} if words[1] in ("apply", "run") and "--noop" in words else {0}


def checkout(tmp: Path) -> Path:
    """A copy of sample-repo beside `.venv`, the gitpuppet install running these tests (the
    venv the set-up makes, or the one tests/run made), so that commands run as written."""
    here = tmp / "checkout"
    here.mkdir()
    shutil.copytree(ROOT / "sample-repo", here / "sample-repo")
    venv = Path(sys.prefix) if (Path(sys.prefix) / "bin" / "gitpuppet").exists() else ROOT / ".venv"
    (here / ".venv").symlink_to(venv)
    return here


def isolated_env(tmp: Path) -> dict[str, str]:
    """No machine config, a private run lock and facts.d, mktemp under `tmp`."""
    (tmp / "config.yaml").write_text(f"run_dir: {tmp}/run\nfacts_d: {tmp}/facts.d\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITPUPPET", "PYTEST"))}
    return env | {"GITPUPPET_CONFIG": str(tmp / "config.yaml"), "TMPDIR": str(tmp), "NO_COLOR": "1"}


def bash(
    line: str, cwd: Path, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_the_readme_has_the_tour_and_set_up_this_test_runs() -> None:
    cmds = commands()
    verbs = [c.split()[1] for c in cmds]
    assert verbs == ["validate", "node", "lookup", "apply", "apply"], cmds
    assert len(setup_lines()) == 2
    assert "lookup web.workers " in cmds[2]  # a key sample-repo's data has


@pytest.mark.parametrize("command", commands())
def test_a_readme_command_works_as_written(command: str, tmp_path: Path) -> None:
    here = checkout(tmp_path)
    done = bash(command, here, isolated_env(tmp_path))
    assert done.returncode in allowed_exits(command), (command, done.stdout, done.stderr)
    said = done.stdout + done.stderr
    assert not re.search(r"^error", said, re.M | re.I), said
    assert said.strip(), command


def path_without(program: str, tmp: Path) -> str:
    """A PATH with every program of this one but `program` (links in one folder)."""
    if shutil.which(program) is None:
        return os.environ["PATH"]
    folder = tmp / "path"
    folder.mkdir(exist_ok=True)
    for directory in os.environ["PATH"].split(":"):
        for entry in Path(directory).glob("*") if os.path.isdir(directory) else ():
            if entry.name != program and not (folder / entry.name).exists():
                (folder / entry.name).symlink_to(entry)
    return str(folder)


@pytest.mark.skipif(os.geteuid() != 0, reason="the set-up line runs apt-get: it needs root")
def test_the_first_set_up_line_works_as_root_where_there_is_no_sudo(tmp_path: Path) -> None:
    """The whole line, in a copy of this checkout: apt-get (python3-venv is already there, as
    tests/run installs it), a new venv, pip install ., the noop apply."""
    line = setup_lines()[0]
    here = tmp_path / "checkout"
    shutil.copytree(
        ROOT,
        here,
        ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", ".cache"),
        symlinks=True,
    )
    env = isolated_env(tmp_path) | {"PATH": path_without("sudo", tmp_path)}
    assert bash("command -v sudo", here, env).returncode == 1
    with apt_lock():  # its apt-get takes dpkg's lock, as the package tests do
        done = bash(line, here, env, timeout=600)
    assert done.returncode in (0, 2), (done.stdout[-3000:], done.stderr[-3000:])
    assert "web01.example.com:" in done.stdout and "(noop)" in done.stdout, done.stdout[-2000:]
    assert (here / ".venv" / "bin" / "gitpuppet").exists()


def test_set_up_lines_use_sudo_where_there_is_one(tmp_path: Path) -> None:
    """Each set-up line begins with `$(command -v sudo) `: with a sudo on PATH the command goes
    through it, without one it runs as it is. The sudo here is a stand-in that records its
    arguments: a real one would need a sudoers entry for a test user on this machine."""
    prefix = "$(command -v sudo) "
    lines = setup_lines()
    assert all(ln.startswith(prefix) for ln in lines), lines
    assert lines[1] == prefix + "tests/run" and os.access(ROOT / "tests" / "run", os.X_OK)
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "sudo").write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/sudo.log\nexec "$@"\n')
    (shim / "sudo").chmod(0o755)
    env = {"PATH": f"{shim}:{os.environ['PATH']}"}
    assert bash(prefix + "echo hi", tmp_path, env).stdout == "hi\n"
    assert (tmp_path / "sudo.log").read_text() == "echo hi\n"
    (tmp_path / "sudo.log").unlink()
    env = {"PATH": path_without("sudo", tmp_path)}
    assert bash(prefix + "echo hi", tmp_path, env).stdout == "hi\n"
    assert not (tmp_path / "sudo.log").exists()


def test_the_yaml_the_tour_shows_is_what_sample_repo_holds() -> None:
    shown = [b for b in blocks(section(TOUR), "yaml") if b and b[0].startswith("# sample-repo/")]
    assert len(shown) >= 2
    for block in shown:
        path = ROOT / block[0][2:].split()[0]
        have = iter(line.rstrip() for line in path.read_text(encoding="utf-8").splitlines())
        for line in block[1:]:
            assert any(line.rstrip() == h for h in have), f"{path}: README line not found: {line}"


def test_the_error_the_tour_shows_is_what_apply_prints(tmp_path: Path) -> None:
    """The README's example error, made real: the typo it names, at its file and line."""
    shown = [ln for b in blocks(section(TOUR), "") for ln in b if ln.startswith("error: ")]
    assert len(shown) == 1, shown
    m = re.fullmatch(
        r"error: (\S+):(\d+): unknown attribute '(\w+)' .*did you mean '(\w+)'.*", shown[0]
    )
    assert m, shown[0]
    rel, line_no, typo, right = m.group(1), int(m.group(2)), m.group(3), m.group(4)
    here = checkout(tmp_path)
    path = here / "sample-repo" / rel
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert f"{right}:" in lines[line_no - 1]
    lines[line_no - 1] = lines[line_no - 1].replace(f"{right}:", f"{typo}:", 1)
    path.write_text("".join(lines), encoding="utf-8")
    done = bash(
        f"{GITPUPPET} apply sample-repo --node web01.example.com --noop --state-dir state",
        here,
        isolated_env(tmp_path),
    )
    assert done.returncode == 1
    assert shown[0] in done.stderr.splitlines(), done.stderr
