"""The exec type: guards, returns, tries, timeouts, users, shell or not, refresh. Real commands."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from gitpuppet.command import OUTPUT_CAP, CommandTimeout
from gitpuppet.contract import ApplyContext
from gitpuppet.errors import ApplyError
from gitpuppet.types.exec.type import TYPE
from tests.integration import test_type_support as support
from tests.integration.test_type_support import Account, changes_of, converge, make

ctx = support.ctx
account = support.account


def test_runs_without_guards_every_time(tmp_path: Path, ctx: ApplyContext) -> None:
    log = tmp_path / "log"
    res = make("exec", f"sh -c 'echo ran >> {log}'")
    for _ in range(2):
        (change,) = converge(res, ctx)
        assert (change.attr, change.old, change.new) == ("executed", "notrun", [0])
    assert log.read_text() == "ran\nran\n"
    assert TYPE.verify_after_apply is False and TYPE.refreshable is True


@pytest.mark.parametrize(
    ("guards", "runs"),
    [
        ({"creates": "{tmp}/exists"}, False),
        ({"creates": "{tmp}/missing"}, True),
        ({"onlyif": "true"}, True),
        ({"onlyif": "false"}, False),
        ({"unless": "true"}, False),
        ({"unless": "false"}, True),
        ({"onlyif": "test -e {tmp}/exists", "unless": "test -e {tmp}/missing"}, True),
        ({"onlyif": "true", "creates": "{tmp}/exists"}, False),
    ],
)
def test_guards(tmp_path: Path, ctx: ApplyContext, guards: dict[str, str], runs: bool) -> None:
    (tmp_path / "exists").write_text("")
    marker = tmp_path / "ran"
    attrs = {k: v.format(tmp=tmp_path) for k, v in guards.items()}
    res = make("exec", f"touch {marker}", **attrs)
    assert bool(changes_of(res, ctx)) is runs
    converge(res, ctx)
    assert marker.exists() is runs


def test_refreshonly_runs_only_on_refresh_and_respects_guards(
    tmp_path: Path, ctx: ApplyContext
) -> None:
    marker = tmp_path / "ran"
    res = make("exec", f"touch {marker}", refreshonly=True)
    assert converge(res, ctx) == []
    assert not marker.exists()
    assert TYPE.refresh(res, ctx) == "ran on refresh"
    assert marker.exists()
    guarded = make("exec", f"touch {tmp_path}/other", refreshonly=True, creates=str(marker))
    message = TYPE.refresh(guarded, ctx)
    assert message is not None and "exists" in message
    assert not (tmp_path / "other").exists()


def test_returns_accepts_listed_codes_and_fails_with_output(ctx: ApplyContext) -> None:
    converge(make("exec", "sh -c 'exit 3'", returns=[0, 3]), ctx)
    with pytest.raises(ApplyError) as info:
        converge(make("exec", "sh -c 'echo broken pipe >&2; exit 7'"), ctx)
    assert "exited 7" in str(info.value) and "expected 0" in str(info.value)
    assert info.value.output == "broken pipe\n"


def test_tries_until_success_with_sleep(tmp_path: Path, ctx: ApplyContext) -> None:
    count = tmp_path / "count"
    script = f"echo x >> {count}; test $(wc -l < {count}) -ge 3"
    start = time.monotonic()
    converge(make("exec", script, shell=True, tries=3, try_sleep=1), ctx)
    assert count.read_text().count("x") == 3
    assert time.monotonic() - start >= 2  # slept between the tries
    count.unlink()
    with pytest.raises(ApplyError, match="after 2 tries"):
        converge(make("exec", script, shell=True, tries=2), ctx)


def test_timeout_kills_and_keeps_output(ctx: ApplyContext) -> None:
    start = time.monotonic()
    with pytest.raises(CommandTimeout) as info:
        converge(make("exec", "sh -c 'echo working; sleep 30'", timeout=1), ctx)
    assert time.monotonic() - start < 6
    assert "timed out after 1 s" in str(info.value)
    assert "sleep" not in str(info.value)  # the command may be sensitive; its ref names it
    assert info.value.output == "working\n"


def test_runs_as_the_user_with_its_group(ctx: ApplyContext, account: Account) -> None:
    res = make("exec", "sh -c 'id -u; id -g; echo $HOME $USER'", user=account.user)
    result = TYPE.execute(res.params)
    assert result.output.splitlines()[:2] == [str(account.uid), str(account.gid)]
    assert result.output.splitlines()[2].endswith(f" {account.user}")
    with pytest.raises(ApplyError, match="user 'nosuchuser' does not exist"):
        converge(make("exec", "true", user="nosuchuser"), ctx)


def test_no_shell_unless_asked(tmp_path: Path, ctx: ApplyContext) -> None:
    out = tmp_path / "out"
    plain = make("exec", f"echo $HOME > {out}")
    assert TYPE.execute(plain.params).output == f"$HOME > {out}\n"
    assert not out.exists()
    converge(make("exec", f"echo $HOME > {out}", shell=True), ctx)
    assert out.read_text() == "/root\n"


def test_path_cwd_and_environment(tmp_path: Path, ctx: ApplyContext) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "mytool"
    tool.write_text('#!/bin/sh\necho "$GREETING from $(pwd)"\n')
    tool.chmod(0o755)
    res = make(
        "exec",
        "mytool",
        path=[str(bindir), "/usr/bin", "/bin"],
        cwd=str(tmp_path),
        environment={"GREETING": "hello"},
        onlyif="mytool",
    )
    assert changes_of(res, ctx)
    assert TYPE.execute(res.params).output == f"hello from {tmp_path}\n"
    with pytest.raises(ApplyError, match="command not found: mytool"):
        converge(make("exec", "mytool", path=["/usr/bin", "/bin"]), ctx)


def test_background_child_holding_stdout_is_not_a_timeout(
    tmp_path: Path, ctx: ApplyContext
) -> None:
    """`sleep 100 & echo hi` exited 0: the exec converges at once and the child keeps running."""
    pidfile = tmp_path / "child.pid"
    res = make("exec", f"sleep 100 & echo $! > {pidfile}; echo hi", shell=True, timeout=60)
    start = time.monotonic()
    try:
        assert TYPE.execute(res.params).output == "hi\n"
        assert time.monotonic() - start < 10  # a timeout would be 60 s
        os.kill(int(pidfile.read_text()), 0)
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


def test_guard_and_command_output_is_capped_while_streamed(ctx: ApplyContext) -> None:
    """A guard and a failing command that print 200 MB: capped output, start and end kept."""
    noisy = "head -c 200M /dev/zero | tr '\\0' x; echo; echo the end"
    res = make("exec", f"{noisy}; exit 3", shell=True, onlyif=noisy)
    start = time.monotonic()
    with pytest.raises(ApplyError) as info:
        converge(res, ctx)
    assert time.monotonic() - start < 30
    output = info.value.output or ""
    assert output.startswith("xxx") and output.endswith("x\nthe end\n")
    assert re.search(r"\n\[\d+ bytes cut\]\n", output)
    assert len(output) <= OUTPUT_CAP
