"""The cron type: the job file for every field combination, validation, absent, drift of mode and
owner, noop through the applier. Files go to a temporary folder standing in for /etc/cron.d."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest

from gitpuppet.apply.engine import apply_catalog
from gitpuppet.backup import BackupStore
from gitpuppet.contract import ApplyContext
from gitpuppet.errors import ApplyError, SourceError
from gitpuppet.model import Catalog, Status
from gitpuppet.types.cron import spec as cron_spec
from gitpuppet.types.cron import type as cron
from tests.integration import test_type_support as support
from tests.integration.helpers import apply, make_repo
from tests.integration.test_type_support import Account, attrs_changed, changes_of, converge, make

ctx = support.ctx
account = support.account

HEADER = "# Managed by gitpuppet (cron:{title}): changes made here are overwritten.\n"


@pytest.fixture(autouse=True)
def cron_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cron.d"
    folder.mkdir()
    monkeypatch.setattr(cron, "CRON_DIR", str(folder))
    return folder


# (case id, attributes, the lines after the header)
CONTENT_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("defaults: every minute as root", {}, "* * * * * root /usr/bin/job\n"),
    (
        "every time field, numbers given as YAML integers",
        {"minute": 5, "hour": 4, "monthday": 3, "month": 2, "weekday": 1},
        "5 4 3 2 1 root /usr/bin/job\n",
    ),
    (
        "steps, ranges, lists and names",
        {
            "minute": "*/15",
            "hour": "8-18/2",
            "monthday": "1,15,28-31",
            "month": "jan-mar,Dec",
            "weekday": "mon-fri",
        },
        "*/15 8-18/2 1,15,28-31 jan-mar,Dec mon-fri root /usr/bin/job\n",
    ),
    ("7 is Sunday too", {"weekday": "5-7"}, "* * * * 5-7 root /usr/bin/job\n"),
    ("bounds", {"minute": "0,59", "hour": "0,23"}, "0,59 0,23 * * * root /usr/bin/job\n"),
    ("special instead of the time fields", {"special": "@daily"}, "@daily root /usr/bin/job\n"),
    ("@reboot", {"special": "@reboot"}, "@reboot root /usr/bin/job\n"),
    ("another user", {"user": "nobody", "hour": 3}, "* 3 * * * nobody /usr/bin/job\n"),
    (
        "environment lines come first, in the order written",
        {"environment": {"PATH": "/usr/bin:/bin", "MAILTO": "ops@example.com"}},
        "PATH=/usr/bin:/bin\nMAILTO=ops@example.com\n* * * * * root /usr/bin/job\n",
    ),
    (
        "environment as KEY=value strings",
        {"environment": ["A=1", "B=x=y"]},
        "A=1\nB=x=y\n* * * * * root /usr/bin/job\n",
    ),
    (
        "values cron would trim or unquote are quoted",
        {"environment": {"MAILTO": "", "PAD": " x ", "Q": '"q"'}},
        'MAILTO=""\nPAD=" x "\nQ=""q""\n* * * * * root /usr/bin/job\n',
    ),
]


@pytest.mark.parametrize(
    ("attrs", "body"), [c[1:] for c in CONTENT_CASES], ids=[c[0] for c in CONTENT_CASES]
)
def test_job_file_content(
    cron_dir: Path, ctx: ApplyContext, attrs: dict[str, Any], body: str
) -> None:
    res = make("cron", "job", command="/usr/bin/job", **attrs)
    converge(res, ctx)
    assert (cron_dir / "job").read_text() == HEADER.format(title="job") + body
    assert converge(res, ctx) == []


@pytest.mark.parametrize(
    ("command", "written"),
    [
        ("tar czf /b/$(date +%F).tgz /etc", r"tar czf /b/$(date +\%F).tgz /etc"),
        (r"date +\%s", r"date +\%s"),
        ("echo 100%% done", r"echo 100\%\% done"),
    ],
)
def test_percent_is_escaped_so_the_command_runs_as_written(
    cron_dir: Path, ctx: ApplyContext, command: str, written: str
) -> None:
    converge(make("cron", "pct", command=command), ctx)
    assert (cron_dir / "pct").read_text().splitlines()[-1] == f"* * * * * root {written}"


def test_file_is_root_owned_0644_and_ends_with_a_newline(cron_dir: Path, ctx: ApplyContext) -> None:
    changes = converge(make("cron", "backup", command="/bin/true", hour=2), ctx)
    assert attrs_changed(changes) == ["ensure", "content"]
    st = (cron_dir / "backup").stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o644, 0, 0)
    assert (cron_dir / "backup").read_bytes().endswith(b"\n")
    assert [p.name for p in cron_dir.iterdir()] == ["backup"]  # no temp file left


def test_content_change_is_a_unified_diff_and_the_old_file_is_backed_up(
    cron_dir: Path, ctx: ApplyContext
) -> None:
    converge(make("cron", "backup", command="/bin/true", hour=2), ctx)
    old = (cron_dir / "backup").read_bytes()
    (change,) = converge(make("cron", "backup", command="/bin/true", hour=3), ctx)
    assert change.attr == "content" and change.old != change.new
    assert change.diff is not None
    assert "-* 2 * * * root /bin/true\n" in change.diff
    assert "+* 3 * * * root /bin/true\n" in change.diff
    assert change.diff.startswith(f"--- {cron_dir}/backup\n+++ {cron_dir}/backup\n")
    versions = BackupStore(ctx.state_dir).versions(str(cron_dir / "backup"))
    assert [BackupStore(ctx.state_dir).read(v) for v in versions][:1] == [old]


def test_no_diff_unless_asked_and_none_when_sensitive(cron_dir: Path, tmp_path: Path) -> None:
    quiet = ApplyContext(state_dir=tmp_path / "s", want_diff=False)
    (_, content) = changes_of(make("cron", "j", command="/bin/true"), quiet)
    assert content.diff is None and content.new.startswith("sha256:")
    loud = ApplyContext(state_dir=tmp_path / "s", want_diff=True)
    (_, secret) = changes_of(make("cron", "j", command="curl -u a:pw x", sensitive=True), loud)
    assert secret.redacted and secret.diff is None and "pw" not in str(secret.new)


def test_local_edit_is_put_back(cron_dir: Path, ctx: ApplyContext) -> None:
    res = make("cron", "job", command="/bin/true")
    converge(res, ctx)
    wanted = (cron_dir / "job").read_bytes()
    (cron_dir / "job").write_text("* * * * * root /bin/evil\n")
    assert attrs_changed(converge(res, ctx)) == ["content"]
    assert (cron_dir / "job").read_bytes() == wanted


def test_mode_and_owner_drift_is_fixed(cron_dir: Path, ctx: ApplyContext, account: Account) -> None:
    res = make("cron", "job", command="/bin/true")
    converge(res, ctx)
    path = cron_dir / "job"
    path.chmod(0o666)  # cron refuses a group- or world-writable file
    os.chown(path, account.uid, account.gid)
    changes = {c.attr: (c.old, c.new) for c in converge(res, ctx)}
    assert changes == {
        "mode": ("0666", "0644"),
        "owner": (account.user, "root"),
        "group": (account.group, "root"),
    }
    st = path.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o644, 0, 0)


def test_a_link_at_the_path_is_replaced_by_a_file(cron_dir: Path, ctx: ApplyContext) -> None:
    other = cron_dir.parent / "elsewhere"
    other.write_text("keep me\n")
    (cron_dir / "job").symlink_to(other)
    converge(make("cron", "job", command="/bin/true"), ctx)
    assert not (cron_dir / "job").is_symlink()
    assert other.read_text() == "keep me\n"


def test_absent_removes_the_file_and_is_then_unchanged(cron_dir: Path, ctx: ApplyContext) -> None:
    converge(make("cron", "job", command="/bin/true"), ctx)
    gone = make("cron", "job", ensure="absent")
    (change,) = converge(gone, ctx)
    assert (change.attr, change.old, change.new) == ("ensure", "present", "absent")
    assert not (cron_dir / "job").exists()
    assert converge(gone, ctx) == []


def test_absent_needs_no_command_and_no_cron_dir(cron_dir: Path, ctx: ApplyContext) -> None:
    cron_dir.rmdir()
    assert converge(make("cron", "job", ensure="absent"), ctx) == []


def test_missing_user_fails_when_applying_and_writes_nothing(
    cron_dir: Path, ctx: ApplyContext
) -> None:
    res = make("cron", "job", command="/bin/true", user="no-such-user-gp")
    with pytest.raises(ApplyError, match="user 'no-such-user-gp' does not exist"):
        converge(res, ctx)
    assert list(cron_dir.iterdir()) == []


def test_missing_cron_dir_says_cron_is_not_installed(cron_dir: Path, ctx: ApplyContext) -> None:
    cron_dir.rmdir()
    with pytest.raises(ApplyError, match="does not exist \\(is cron installed\\?\\)"):
        converge(make("cron", "job", command="/bin/true"), ctx)


def test_a_directory_at_the_path_is_an_error(cron_dir: Path, ctx: ApplyContext) -> None:
    (cron_dir / "job").mkdir()
    with pytest.raises(ApplyError, match="is a directory"):
        converge(make("cron", "job", command="/bin/true"), ctx)


# -- validation ---------------------------------------------------------------------------------

INVALID: list[tuple[dict[str, Any], str]] = [
    ({"minute": 60}, "minute '60' is not a valid cron field (0-59"),
    ({"minute": -1}, "minute '-1' is not a valid"),
    ({"hour": "24"}, "hour '24' is not a valid cron field (0-23"),
    ({"monthday": 0}, "monthday '0' is not a valid cron field (1-31"),
    ({"monthday": "32"}, "monthday '32'"),
    ({"month": 13}, "month '13' is not a valid cron field (1-12 or jan-dec"),
    ({"month": "january"}, "month 'january'"),
    ({"weekday": 8}, "weekday '8' is not a valid cron field (0-7"),
    ({"weekday": "mon-funday"}, "weekday 'mon-funday'"),
    ({"minute": "*/0"}, "step '0' must be a number from 1 to 60"),
    ({"hour": "*/25"}, "step '25' must be a number from 1 to 24"),
    ({"minute": "*/x"}, "step 'x'"),
    ({"minute": "5/10"}, "a step needs * or a range before it (write 5-59/10)"),
    ({"hour": "10-5"}, "the range 10-5 runs backwards"),
    ({"minute": "1,,2"}, "minute '1,,2'"),
    ({"minute": "1, 2"}, "minute '1, 2'"),
    ({"minute": ""}, "minute ''"),
    ({"minute": "1-"}, "minute '1-'"),
    ({"special": "@daily", "minute": 5}, "special: @daily replaces the time fields; drop minute"),
    (
        {"special": "@hourly", "hour": 1, "weekday": "mon"},
        "special: @hourly replaces the time fields; drop hour, weekday",
    ),
    ({"command": "a\nb"}, "a cron command must be one line"),
    ({"environment": {"BAD-NAME": "x"}}, "'BAD-NAME' is not an environment variable name"),
    ({"environment": {"A": "x\ny"}}, "the value of A must be one line"),
    ({"user": "two words"}, "'two words' is not a user name"),
]


@pytest.mark.parametrize(("attrs", "message"), INVALID, ids=[m for _, m in INVALID])
def test_invalid_fields_are_compile_errors(attrs: dict[str, Any], message: str) -> None:
    attrs = {"command": "/bin/true", **attrs}
    with pytest.raises(SourceError) as err:
        make("cron", "job", **attrs)
    assert message in str(err.value)
    # The type checks the same rules again before writing anything.
    res = make("cron", "job", command="/bin/true")
    for key, value in attrs.items():
        setattr(res.params, key, value)
    assert any(message in problem for _, problem in cron_spec.job_problems(res.params))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("minute", "0-59/59"),
        ("minute", "*/60"),
        ("hour", "00"),
        ("monthday", "31"),
        ("month", "JAN"),
        ("month", "feb-nov/3"),
        ("weekday", "sun"),
        ("weekday", "0,7"),
        ("weekday", "sat"),
        ("weekday", "*/2"),
    ],
)
def test_valid_fields(field: str, value: str) -> None:
    assert cron_spec.field_problem(field, value) is None


@pytest.mark.parametrize("title", ["backup.sh", "db.daily", "a b", "job~", ".hidden", "x/y"])
def test_titles_cron_would_ignore_are_rejected_at_compile_time(title: str) -> None:
    problem = cron_spec.name_problem(title)
    assert problem is not None and "no dots" in problem
    with pytest.raises(SourceError) as err:
        make("cron", title, command="/bin/true")
    assert problem in str(err.value)


def test_good_titles() -> None:
    for title in ("backup", "db-daily", "logrotate_2", "A1"):
        assert cron_spec.name_problem(title) is None


def test_missing_command_is_rejected_at_compile_time() -> None:
    with pytest.raises(SourceError, match="cron needs a command"):
        make("cron", "job")


# -- through the applier ------------------------------------------------------------------------


def _run(resources: list[Any], ctx: ApplyContext, noop: bool = False) -> list[Status]:
    outcome = apply_catalog(Catalog("t", None, resources, [], []), ctx, noop=noop)
    return [r.status for r in outcome.results]


def test_noop_through_the_engine_changes_nothing(cron_dir: Path, ctx: ApplyContext) -> None:
    kept = make("cron", "kept", command="/bin/true", hour=1)
    converge(kept, ctx)
    before = (cron_dir / "kept").read_bytes()
    resources = [
        make("cron", "new", command="/bin/true"),
        make("cron", "kept", command="/bin/true", hour=2),
    ]
    assert _run(resources, ctx, noop=True) == [Status.WOULD_CHANGE] * 2
    assert sorted(p.name for p in cron_dir.iterdir()) == ["kept"]
    assert (cron_dir / "kept").read_bytes() == before
    gone = [make("cron", "kept", ensure="absent")]
    assert _run(gone, ctx, noop=True) == [Status.WOULD_CHANGE]
    assert (cron_dir / "kept").read_bytes() == before


def test_engine_applies_then_finds_nothing_to_do(cron_dir: Path, ctx: ApplyContext) -> None:
    resources = [make("cron", f"job{i}", command=f"/bin/echo {i}", minute=i) for i in range(3)]
    assert _run(resources, ctx) == [Status.CHANGED] * 3
    assert _run(resources, ctx) == [Status.UNCHANGED] * 3
    assert (cron_dir / "job2").read_text().endswith("2 * * * * root /bin/echo 2\n")


# -- the real /etc/cron.d, through `gitpuppet apply` --------------------------------------------


@pytest.mark.skipif(not os.path.isdir("/etc/cron.d"), reason="this machine has no /etc/cron.d")
def test_gitpuppet_apply_writes_the_real_cron_d(tmp_path: Path) -> None:
    """The default folder, end to end from YAML; a unique title, removed afterwards."""
    title = f"gitpuppet-test-{uuid.uuid4().hex[:10]}"
    path = Path("/etc/cron.d") / title
    job = f"""
        - cron: {title}
          command: "date +%F >> /dev/null"
          minute: "*/5"
          weekday: mon-fri
          environment: {{MAILTO: ""}}
        """
    repo = make_repo(tmp_path / "repo", job)
    try:
        noop = apply(repo, tmp_path / "state", "--noop")
        assert noop.returncode == 2 and not path.exists(), noop.stdout + noop.stderr
        done = apply(repo, tmp_path / "state", "--diff")
        assert done.returncode == 2, done.stdout + done.stderr
        assert "+*/5 * * * mon-fri root date +\\%F >> /dev/null" in done.stdout
        assert path.read_text() == (
            HEADER.format(title=title)
            + 'MAILTO=""\n*/5 * * * mon-fri root date +\\%F >> /dev/null\n'
        )
        assert apply(repo, tmp_path / "state").returncode == 0
        gone = make_repo(tmp_path / "repo", f"- cron: {title}\n  ensure: absent\n")
        assert apply(gone, tmp_path / "state").returncode == 2 and not path.exists()
    finally:
        if path.exists():
            path.unlink()
