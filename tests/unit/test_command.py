"""The command runner: argv vs shell, output capture, timeouts that kill the whole group."""

from __future__ import annotations

import os
import pwd
import time
from pathlib import Path

import pytest

from gitpuppet.command import OUTPUT_CAP, CommandTimeout, run_command
from gitpuppet.errors import ApplyError


def test_argv_list_is_not_interpreted_by_a_shell() -> None:
    result = run_command(["echo", "$HOME; ls", "*"])
    assert result.returncode == 0
    assert result.output == "$HOME; ls *\n"


def test_shell_string_runs_under_sh() -> None:
    result = run_command("echo a && echo b >&2; exit 3", shell=True)
    assert result.returncode == 3
    assert result.output == "a\nb\n"


def test_string_without_shell_is_split_not_interpreted() -> None:
    result = run_command("echo 'two words' ;")
    assert result.output == "two words ;\n"


def test_stdout_and_stderr_are_interleaved_in_order() -> None:
    result = run_command(["sh", "-c", "echo 1; echo 2 >&2; echo 3"])
    assert result.output == "1\n2\n3\n"


def test_split_stderr_keeps_them_apart() -> None:
    result = run_command(["sh", "-c", "echo out; echo err >&2"], split_stderr=True)
    assert (result.stdout, result.stderr) == ("out\n", "err\n")


def test_input_env_and_cwd(tmp_path: Path) -> None:
    result = run_command(
        ["sh", "-c", 'cat; echo "$X"; pwd'],
        input=b"fed\n",
        env={"X": "y", "PATH": os.environ["PATH"]},
        cwd=str(tmp_path),
    )
    assert result.output == f"fed\ny\n{tmp_path}\n"


def test_output_is_decoded_with_replacement_and_tail_capped() -> None:
    result = run_command(
        ["python3", "-c", "import sys; sys.stdout.buffer.write(b'\\xff' + b'x' * 200000 + b'END')"]
    )
    assert result.output.endswith("END")
    assert len(result.output) <= OUTPUT_CAP + 10
    bad = run_command(["printf", "\\377ok"])
    assert bad.output == "\ufffdok"


def test_command_not_found_names_it() -> None:
    with pytest.raises(ApplyError, match="command not found: no-such-command-xyz"):
        run_command(["no-such-command-xyz", "--flag"])


def test_missing_working_directory_is_named() -> None:
    with pytest.raises(ApplyError, match="working directory /no/such/dir does not exist"):
        run_command(["true"], cwd="/no/such/dir")


def test_timeout_kills_the_whole_group_and_keeps_output(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    start = time.monotonic()
    with pytest.raises(CommandTimeout) as info:
        run_command(
            ["sh", "-c", f"echo started; sleep 60 & echo $! > {pidfile}; wait"],
            timeout=0.5,
        )
    assert time.monotonic() - start < 5
    assert info.value.output == "started\n"
    assert "timed out after 0.5 s" in str(info.value)
    grandchild = int(pidfile.read_text())
    # The background sleep was in the same group: it is gone (or a zombie reaped by init).
    for _ in range(50):
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        with open(f"/proc/{grandchild}/stat") as fh:
            assert fh.read().split()[2] == "Z"


def test_timeout_escalates_to_sigkill_when_term_is_ignored() -> None:
    start = time.monotonic()
    with pytest.raises(CommandTimeout) as info:
        run_command(["sh", "-c", "trap '' TERM; echo stubborn; sleep 30"], timeout=0.3)
    elapsed = time.monotonic() - start
    assert 2.0 <= elapsed < 8, elapsed
    assert "stubborn" in (info.value.output or "")


def test_runs_as_another_user_with_its_home() -> None:
    nobody = pwd.getpwnam("nobody")
    result = run_command(["sh", "-c", 'id -u; id -g; echo "$HOME $USER $LOGNAME"'], user="nobody")
    lines = result.output.splitlines()
    assert lines[0] == str(nobody.pw_uid)
    assert lines[1] == str(nobody.pw_gid)
    assert lines[2] == f"{nobody.pw_dir} nobody nobody"


def test_unknown_user_is_an_error() -> None:
    with pytest.raises(ApplyError, match="user 'no-such-user-xyz' does not exist"):
        run_command(["true"], user="no-such-user-xyz")


def test_seconds_is_measured() -> None:
    result = run_command(["sleep", "0.2"])
    assert 0.15 < result.seconds < 3
