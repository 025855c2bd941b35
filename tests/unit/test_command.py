"""The command runner: argv vs shell, output capture streamed with a cap, timeouts that kill the
whole group, background children that hold the output open."""

from __future__ import annotations

import os
import pwd
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitpuppet.command import OUTPUT_CAP, CommandTimeout, run_command
from gitpuppet.command_output import HEAD_KEEP, TAIL_KEEP, CappedOutput
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


# Output is streamed with the cap, whatever the command prints (issue 8, item 9).

HUGE = """
import sys, time
from gitpuppet.command import run_command
start = time.monotonic()
result = run_command(sys.argv[1], shell=True, timeout=120)
seconds = time.monotonic() - start
# VmHWM: this process's own peak (ru_maxrss survives exec, so it would carry the parent's).
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
rss_mb = int(hwm.split()[1]) / 1024
print(result.returncode, len(result.output), round(seconds, 2), round(rss_mb, 1))
print(result.output.replace(chr(0), "0"))
"""


def test_gigabytes_of_output_are_streamed_with_the_cap() -> None:
    """1.5 GB printed: the gitpuppet process stays under 100 MB and finishes in seconds, and the
    output keeps its start and its end with the number of bytes cut between them."""
    proc = subprocess.run(
        [sys.executable, "-c", HUGE, "echo START; head -c 1500M /dev/zero; echo END"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    first, output = proc.stdout.split("\n", 1)
    code, length, seconds, rss_mb = first.split()
    print(f"1.5 GB of output: {seconds} s, peak RSS {rss_mb} MB")
    assert code == "0"
    assert int(length) <= OUTPUT_CAP
    assert float(rss_mb) < 100, rss_mb
    assert float(seconds) < 30, seconds
    assert output.startswith("START\n000")
    assert output.rstrip("\n").endswith("000END")
    kept = output.count("0")
    cut = re.search(r"\n\[(\d+) bytes cut\]\n", output)
    assert cut is not None
    assert int(cut.group(1)) + kept == 1500 * 1024 * 1024


def test_large_input_and_output_do_not_deadlock() -> None:
    data = b"".join(b"%07d\n" % i for i in range(600_000))  # 4.8 MB through cat
    result = run_command(["cat"], input=data, timeout=30)
    assert result.returncode == 0
    assert result.output.startswith("0000000\n0000001\n")
    assert result.output.endswith("0599999\n")
    match = re.search(r"\[(\d+) bytes cut\]", result.output)
    assert match is not None and int(match.group(1)) > len(data) - OUTPUT_CAP


def test_split_streams_are_capped_each() -> None:
    result = run_command(
        ["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' o; head -c 300000 /dev/zero >&2"],
        split_stderr=True,
    )
    assert len(result.stdout) <= OUTPUT_CAP and len(result.stderr) <= OUTPUT_CAP
    assert result.stdout.startswith("ooo") and result.stdout.endswith("ooo")
    assert "o bytes cut" not in result.stdout and re.search(r"\[\d+ bytes cut\]", result.stdout)
    assert re.search(r"\[\d+ bytes cut\]", result.stderr) and "o" not in result.stderr


def test_input_a_command_does_not_read_is_dropped() -> None:
    result = run_command(["true"], input=b"x" * (4 << 20), timeout=10)
    assert result.returncode == 0


@pytest.mark.parametrize(
    ("data", "expected_start", "expected_end"),
    [
        # a 3-byte character cut at the end of the head and at the start of the tail
        ("a" * (HEAD_KEEP - 1) + "€" + "b" * 100_000 + "€" + "c" * (TAIL_KEEP - 1), "a", "c"),
        ("é" * 80_000, "é", "é"),
    ],
)
def test_cut_output_never_splits_a_character(
    data: str, expected_start: str, expected_end: str
) -> None:
    capped = CappedOutput()
    raw = data.encode()
    for i in range(0, len(raw), 4093):  # chunks that split characters
        capped.add(raw[i : i + 4093])
    text = capped.text()
    head, marker, tail = re.split(r"\n(\[\d+ bytes cut\])\n", text)
    assert "\ufffd" not in text
    assert head.strip(expected_start) == "" and tail.strip(expected_end) == ""
    kept = len((head + tail).encode())
    assert int(marker[1:].split()[0]) + kept == len(raw)
    assert len(text) <= OUTPUT_CAP


def test_short_output_is_kept_whole() -> None:
    capped = CappedOutput()
    for part in (b"x" * HEAD_KEEP, b"y" * TAIL_KEEP):
        capped.add(part)
    assert capped.text() == "x" * HEAD_KEEP + "y" * TAIL_KEEP


# A background child that holds the output open (issue 8, item 9).


def test_background_child_holding_stdout_does_not_make_a_timeout(tmp_path: Path) -> None:
    """The main process exits 0 at once: that is the result, within the short grace; the
    background child keeps running (as under Puppet)."""
    pidfile = tmp_path / "child.pid"
    start = time.monotonic()
    result = run_command(f"sleep 100 & echo $! > {pidfile}; echo hi", shell=True, timeout=60)
    elapsed = time.monotonic() - start
    child = int(pidfile.read_text())
    try:
        assert (result.returncode, result.output) == (0, "hi\n")
        assert elapsed < 10, elapsed  # a timeout would be 60 s; the grace is 0.5 s
        os.kill(child, 0)  # still running
    finally:
        os.kill(child, signal.SIGKILL)


def test_output_printed_before_the_exit_is_all_read(tmp_path: Path) -> None:
    script = "(sleep 100 >/dev/null 2>&1 &) ; head -c 200000 /dev/zero | tr '\\0' x; echo; exit 5"
    result = run_command(["sh", "-c", "exec 3>&1; " + script])
    assert result.returncode == 5
    assert result.output.endswith("x\n")


def test_closed_output_but_still_running_is_a_timeout() -> None:
    start = time.monotonic()
    with pytest.raises(CommandTimeout):
        run_command(["sh", "-c", "exec >&- 2>&-; sleep 30"], timeout=0.5)
    assert time.monotonic() - start < 5


def test_timeout_with_a_background_child_kills_the_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    with pytest.raises(CommandTimeout):
        run_command(f"sleep 60 & echo $! > {pidfile}; sleep 60", shell=True, timeout=0.5)
    child = int(pidfile.read_text())
    assert _gone(child)


def test_an_interrupt_kills_the_command_group(tmp_path: Path) -> None:
    """gitpuppet ended at once (a second SIGTERM/SIGINT) takes the command with it."""
    pidfile = tmp_path / "child.pid"
    script = (
        "import sys; from gitpuppet.command import run_command\n"
        "run_command(sys.argv[1], shell=True, timeout=60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, f"sleep 60 & echo $! > {pidfile}; wait"],
        stderr=subprocess.PIPE,
    )
    for _ in range(200):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=20) != 0
    assert b"KeyboardInterrupt" in (proc.stderr.read() if proc.stderr else b"")
    assert _gone(int(pidfile.read_text()))


def _gone(pid: int) -> bool:
    """Whether `pid` ended (or is a zombie waiting for init)."""
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split()[2] == "Z"
