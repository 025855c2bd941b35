"""Bad input that used to pass compile (issue 8, item 8), through `gitpuppet apply` on real
files: each run exits 1 with file:line, and the machine is left exactly as it was."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from gitpuppet.cli import cli
from tests.integration.helpers import apply_args, make_repo

HOSTS = "127.0.0.1\tlocalhost\n10.0.0.1\tweb\n"


def gp(repo: Path, state: Path, *args: str) -> Result:
    """`gitpuppet apply REPO` in this process, with the test facts and state dir."""
    return CliRunner().invoke(
        cli,
        apply_args(repo, state, *args),
        env={"GITPUPPET_CONFIG": "/nonexistent/config.yaml", "NO_COLOR": None},
    )


def test_newline_in_host_alias_neither_injects_nor_grows(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    hosts = root / "hosts"
    hosts.write_text(HOSTS)
    make_repo(
        repo,
        f"""\
        - host: web
          ip: 10.0.0.1
          target: {hosts}
          aliases: ["www\\n10.6.6.6 bank.example.com"]
        """,
    )
    for _ in range(2):  # the old build added the injected line again on every run
        result = gp(repo, state)
        assert result.exit_code == 1, result.output
        assert "classes/main.yaml:5: host attribute 'aliases' contains a newline" in result.output
        assert "Traceback" not in result.output
    assert hosts.read_text() == HOSTS


def test_one_file_three_spellings_is_a_duplicate(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    make_repo(
        repo,
        f"""\
        - file: {root}/m
          content: a
        - file: {root}/./m
          content: b
        - file: /{root}//m/
          content: c
        """,
    )
    result = gp(repo, state, "--noop")
    assert result.exit_code == 1, result.output
    assert (
        f"classes/main.yaml:4: file:{root}/m is declared twice (also at classes/main.yaml:2)"
        in (result.output)
    )
    assert not (root / "m").exists()


def test_date_binary_and_none_content_make_no_file(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    for value, message in (
        ("2024-01-01", "is a YAML date (2024-01-01), not a string; quote it"),
        ("!!binary aGVsbG8=", "is binary data (!!binary)"),
        ('"{{ none }}"', "renders to nothing (None)"),
        ("~", "is ~ (nothing)"),
    ):
        make_repo(repo, f"- file: {root}/out\n  content: {value}\n")
        result = gp(repo, state)
        assert result.exit_code == 1, (value, result.output)
        assert f"classes/main.yaml:3: file attribute 'content' {message}" in result.output
        assert not (root / "out").exists(), value


def test_command_faults_fail_at_compile_not_at_apply(env: tuple[Path, Path, Path]) -> None:
    root, repo, state = env
    for resource, message in (
        ("- exec: \"/bin/touch '" + str(root) + '/ran"', "command cannot be split"),
        ('- exec: "   "', "command is empty"),
        (f'- exec: /bin/touch {root}/ran\n  onlyif: "/bin/test -d \\"/"', "onlyif cannot be split"),
        (f'- exec: "/bin/touch {root}/ran\\0"', "NUL byte"),
    ):
        make_repo(repo, resource + "\n")
        result = gp(repo, state)
        assert result.exit_code == 1, (resource, result.output)
        assert "classes/main.yaml:" in result.output and message in result.output, result.output
        assert not (root / "ran").exists()
