"""The git type against real repositories: served over file://, git daemon, http and ssh on
127.0.0.1; clone, present and latest, branches, tags and commits, absent, local work refused,
paths that are not a checkout of the source, unreachable sources, owner and group, noop."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pygit2
import pytest

from gitpuppet.apply.engine import apply_catalog
from gitpuppet.contract import ApplyContext
from gitpuppet.errors import ApplyError, SourceError
from gitpuppet.model import Catalog, Resource, Status
from gitpuppet.types.git import checkout as gitresource
from gitpuppet.types.git.checkout import open_checkout
from gitpuppet.types.git.type import MARK_REF
from tests.integration import test_type_support as support
from tests.integration.gitservers import GitDaemon, HttpGit, Sshd, Upstream, free_port, git
from tests.integration.helpers import apply, make_repo
from tests.integration.test_type_support import Account, attrs_changed, changes_of, converge, make

ctx = support.ctx
account = support.account


def _short(commit: str) -> str:
    return commit[:12]


def _head(path: Path) -> str:
    return str(open_checkout(str(path)).head.peel(pygit2.Commit).id)


def _branch(path: Path) -> str | None:
    """The branch HEAD is on, None when detached."""
    repo = open_checkout(str(path))
    return None if repo.head_is_detached else repo.head.shorthand


def _tag(up: Upstream, name: str, annotated: bool = True, at: str = "HEAD") -> None:
    args = ["tag", "-f", *(["-a", "-m", name] if annotated else []), name, at]
    git(*args, cwd=up.work)
    git("push", "-q", "-f", "origin", f"refs/tags/{name}", cwd=up.work)


def _git_res(path: Path, source: str, **attrs: Any) -> Resource:
    return make("git", str(path), source=source, **attrs)


@pytest.fixture
def first(upstream: Upstream) -> str:
    """The upstream's first commit on main (app.txt: v1)."""
    return upstream.commit_and_push({"app.txt": "v1\n", "lib/util.txt": "u\n"}, "first")


# -- clone over every transport -----------------------------------------------------------------


def _clone_and_check(tmp_path: Path, ctx: ApplyContext, url: str, first: str) -> None:
    dest = tmp_path / "checkout"
    res = _git_res(dest, url)
    changes = converge(res, ctx)
    assert [(c.attr, c.old, c.new) for c in changes] == [
        ("ensure", "absent", "present"),
        ("revision", None, _short(first)),
    ]
    assert (dest / "app.txt").read_text() == "v1\n"
    assert (dest / "lib" / "util.txt").read_text() == "u\n"
    assert _head(dest) == first and _branch(dest) == "main"
    repo = open_checkout(str(dest))
    assert repo.branches.local["main"].upstream_name == "refs/remotes/origin/main"
    assert repo.status(untracked_files="all") == {}
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755
    assert converge(res, ctx) == []
    assert [p.name for p in tmp_path.iterdir() if "gitpuppet" in p.name] == []


def test_clone_over_file_url(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    _clone_and_check(tmp_path, ctx, upstream.file_url, first)


def test_clone_from_a_plain_path(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    _clone_and_check(tmp_path, ctx, str(upstream.bare), first)


def test_clone_over_git_daemon(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str, git_daemon: GitDaemon
) -> None:
    _clone_and_check(tmp_path, ctx, git_daemon.url(upstream), first)


def test_clone_over_http(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str, http_git: HttpGit
) -> None:
    _clone_and_check(tmp_path, ctx, http_git.url(upstream), first)


def _ssh_folder(tmp_path: Path, sshd: Sshd, known: bool = True) -> Path:
    folder = tmp_path / "dot-ssh"
    folder.mkdir()
    (folder / "id_ed25519").write_bytes(sshd.client_key.read_bytes())
    (folder / "id_ed25519").chmod(0o600)
    (folder / "id_ed25519.pub").write_bytes(Path(f"{sshd.client_key}.pub").read_bytes())
    if known:
        (folder / "known_hosts").write_text(sshd.known_hosts_line() + "\n")
    return folder


def test_clone_over_ssh_with_the_users_key_and_known_hosts(
    tmp_path: Path,
    ctx: ApplyContext,
    upstream: Upstream,
    first: str,
    sshd: Sshd,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gitresource, "SSH_DIR", _ssh_folder(tmp_path, sshd))
    before = pygit2.settings.homedir
    _clone_and_check(tmp_path, ctx, sshd.url(upstream), first)
    assert pygit2.settings.homedir == before  # the process-wide setting is put back


def test_ssh_unknown_host_key_is_refused(
    tmp_path: Path,
    ctx: ApplyContext,
    upstream: Upstream,
    first: str,
    sshd: Sshd,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = _ssh_folder(tmp_path, sshd, known=False)
    monkeypatch.setattr(gitresource, "SSH_DIR", folder)
    with pytest.raises(ApplyError) as err:
        converge(_git_res(tmp_path / "co", sshd.url(upstream)), ctx)
    text = str(err.value)
    assert f"host key of 127.0.0.1:{sshd.port} is not in {folder / 'known_hosts'}" in text
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1" in text
    assert not (tmp_path / "co").exists()


def test_ssh_without_a_key_says_where_it_looked(
    tmp_path: Path,
    ctx: ApplyContext,
    upstream: Upstream,
    first: str,
    sshd: Sshd,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = _ssh_folder(tmp_path, sshd)
    (folder / "id_ed25519").unlink()
    monkeypatch.setattr(gitresource, "SSH_DIR", folder)
    with pytest.raises(ApplyError, match=f"asks for an ssh key and there is none in {folder}"):
        converge(_git_res(tmp_path / "co", sshd.url(upstream)), ctx)


# -- present and latest -------------------------------------------------------------------------


def test_present_does_not_move_an_existing_checkout(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    dest = tmp_path / "co"
    res = _git_res(dest, upstream.file_url)
    converge(res, ctx)
    upstream.commit_and_push({"app.txt": "v2\n"})
    assert converge(res, ctx) == []
    assert _head(dest) == first and (dest / "app.txt").read_text() == "v1\n"


def test_present_asks_nothing_of_the_source_once_cloned(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    dest = tmp_path / "co"
    converge(_git_res(dest, upstream.file_url), ctx)
    os.rename(upstream.bare, str(upstream.bare) + ".gone")
    try:
        assert converge(_git_res(dest, upstream.file_url), ctx) == []
    finally:
        os.rename(str(upstream.bare) + ".gone", upstream.bare)


def test_latest_moves_to_the_newest_commit(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    dest = tmp_path / "co"
    res = _git_res(dest, upstream.file_url, ensure="latest")
    converge(res, ctx)
    (dest / "untracked.log").write_text("kept\n")  # untracked files are not local work
    second = upstream.commit_and_push({"app.txt": "v2\n", "lib/util.txt": None, "new.txt": "n\n"})
    (change,) = converge(res, ctx)
    assert (change.attr, change.old, change.new) == ("revision", _short(first), _short(second))
    assert (dest / "app.txt").read_text() == "v2\n"
    assert (dest / "new.txt").exists() and not (dest / "lib" / "util.txt").exists()
    assert (dest / "untracked.log").read_text() == "kept\n"
    assert _head(dest) == second and _branch(dest) == "main"
    assert converge(res, ctx) == []


def test_latest_follows_a_force_push(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    dest = tmp_path / "co"
    res = _git_res(dest, upstream.file_url, ensure="latest")
    upstream.commit_and_push({"app.txt": "doomed\n"})
    converge(res, ctx)
    git("reset", "-q", "--hard", first, cwd=upstream.work)
    rewritten = upstream.commit({"app.txt": "rewritten\n"})
    upstream.push(force=True)
    assert attrs_changed(converge(res, ctx)) == ["revision"]
    assert _head(dest) == rewritten and (dest / "app.txt").read_text() == "rewritten\n"


def test_another_branch(tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str) -> None:
    git("checkout", "-q", "-b", "stable", cwd=upstream.work)
    stable = upstream.commit({"app.txt": "stable\n"})
    git("push", "-q", "origin", "stable", cwd=upstream.work)
    dest = tmp_path / "co"
    res = _git_res(dest, upstream.file_url, revision="stable", ensure="latest")
    converge(res, ctx)
    assert _head(dest) == stable and _branch(dest) == "stable"
    assert (dest / "app.txt").read_text() == "stable\n"
    # Switching the revision back to main moves the checkout onto that branch.
    res = _git_res(dest, upstream.file_url, revision="main", ensure="latest")
    assert attrs_changed(converge(res, ctx)) == ["revision"]
    assert _head(dest) == first and _branch(dest) == "main"


@pytest.mark.parametrize("annotated", [True, False], ids=["annotated", "lightweight"])
def test_tag_revision(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str, annotated: bool
) -> None:
    _tag(upstream, "v1.0", annotated)
    upstream.commit_and_push({"app.txt": "after the tag\n"})
    dest = tmp_path / "co"
    res = _git_res(dest, upstream.file_url, revision="v1.0", ensure="latest")
    changes = converge(res, ctx)
    assert changes[-1].new == _short(first)
    assert _head(dest) == first and _branch(dest) is None
    assert converge(res, ctx) == []
    # The tag is moved upstream: latest follows it.
    moved = upstream.commit_and_push({"app.txt": "v1.0 again\n"})
    _tag(upstream, "v1.0", annotated, at=moved)
    (change,) = converge(res, ctx)
    assert (change.old, change.new) == (_short(first), _short(moved))
    assert (dest / "app.txt").read_text() == "v1.0 again\n"


def test_tag_revision_with_present_clones_at_the_tag(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    _tag(upstream, "release")
    upstream.commit_and_push({"app.txt": "later\n"})
    dest = tmp_path / "co"
    converge(_git_res(dest, upstream.file_url, revision="release"), ctx)
    assert _head(dest) == first and (dest / "app.txt").read_text() == "v1\n"


@pytest.mark.parametrize("length", [40, 9], ids=["full", "abbreviated"])
def test_commit_revision(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str, length: int
) -> None:
    second = upstream.commit_and_push({"app.txt": "v2\n"})
    upstream.commit_and_push({"app.txt": "v3\n"})
    dest = tmp_path / "co"
    res = _git_res(dest, upstream.file_url, revision=first[:length], ensure="latest")
    converge(res, ctx)
    assert _head(dest) == first and _branch(dest) is None
    assert converge(res, ctx) == []
    res = _git_res(dest, upstream.file_url, revision=second[:length], ensure="latest")
    (change,) = converge(res, ctx)
    assert change.old == _short(first)
    assert _head(dest) == second and (dest / "app.txt").read_text() == "v2\n"


def test_unknown_revision_is_an_error_with_a_suggestion(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    with pytest.raises(ApplyError) as err:
        converge(_git_res(tmp_path / "co", upstream.file_url, revision="mian"), ctx)
    assert "revision 'mian' is not a branch, tag or commit of" in str(err.value)
    assert "did you mean 'main'?" in str(err.value)
    assert not (tmp_path / "co").exists()


def test_commit_on_no_branch_is_an_error(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    with pytest.raises(ApplyError, match="commit 0123456789ab is not on any branch or tag"):
        converge(_git_res(tmp_path / "co", upstream.file_url, revision="0123456789ab"), ctx)
    assert [p.name for p in tmp_path.iterdir() if p.name != "state"] == []


def test_empty_source_is_an_error(tmp_path: Path, ctx: ApplyContext, upstream: Upstream) -> None:
    with pytest.raises(ApplyError, match="has no commits yet"):
        converge(_git_res(tmp_path / "co", upstream.file_url), ctx)


# -- absent -------------------------------------------------------------------------------------


def test_absent_removes_the_checkout(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    dest = tmp_path / "co"
    converge(_git_res(dest, upstream.file_url), ctx)
    for res in (
        _git_res(dest, upstream.file_url, ensure="absent"),
        make("git", str(dest), ensure="absent"),
    ):
        converge(_git_res(dest, upstream.file_url), ctx)
        (dest / "untracked.log").write_text("untracked files go with the checkout")
        (change,) = converge(res, ctx)
        assert (change.attr, change.old, change.new) == ("ensure", "present", "absent")
        assert not dest.exists()
        assert converge(res, ctx) == []
    assert [p.name for p in tmp_path.iterdir() if "gitpuppet" in p.name] == []  # nothing aside


def test_absent_refuses_a_checkout_with_changes(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    dest = tmp_path / "co"
    converge(_git_res(dest, upstream.file_url), ctx)
    (dest / "app.txt").write_text("edited\n")
    with pytest.raises(ApplyError, match="has local work, so gitpuppet will not remove it"):
        converge(make("git", str(dest), ensure="absent"), ctx)
    assert (dest / "app.txt").read_text() == "edited\n"


def test_absent_refuses_what_is_not_a_checkout(tmp_path: Path, ctx: ApplyContext) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "precious").write_text("x")
    with pytest.raises(ApplyError, match="is a directory with files in it, not a git checkout"):
        converge(make("git", str(data), ensure="absent"), ctx)
    assert (data / "precious").exists()


# -- local work is never overwritten ------------------------------------------------------------


def _cloned_then_upstream_moves(
    tmp_path: Path, ctx: ApplyContext, up: Upstream
) -> tuple[Path, Resource, str]:
    dest = tmp_path / "co"
    res = _git_res(dest, up.file_url, ensure="latest")
    converge(res, ctx)
    before = _head(dest)
    up.commit_and_push({"app.txt": "upstream v2\n"})
    return dest, res, before


def test_latest_refuses_changed_files(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    dest, res, before = _cloned_then_upstream_moves(tmp_path, ctx, upstream)
    (dest / "app.txt").write_text("hot fix on the box\n")
    with pytest.raises(ApplyError) as err:
        converge(res, ctx)
    text = str(err.value)
    assert f"{dest} has local work, so gitpuppet will not move it to HEAD" in text
    assert "1 changed file(s): app.txt" in text and "git stash" in text
    assert (dest / "app.txt").read_text() == "hot fix on the box\n" and _head(dest) == before
    # Once the change is discarded, the next run moves it.
    git("checkout", "--", ".", cwd=dest)
    assert attrs_changed(converge(res, ctx)) == ["revision"]


def test_latest_refuses_staged_and_deleted_files(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    dest, res, before = _cloned_then_upstream_moves(tmp_path, ctx, upstream)
    (dest / "lib" / "util.txt").unlink()
    (dest / "staged.txt").write_text("s")
    git("add", "staged.txt", cwd=dest)
    with pytest.raises(ApplyError, match="2 changed file\\(s\\): lib/util.txt, staged.txt"):
        converge(res, ctx)
    assert _head(dest) == before


def test_latest_refuses_a_local_commit(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    dest, res, before = _cloned_then_upstream_moves(tmp_path, ctx, upstream)
    (dest / "mine.txt").write_text("m")
    git("add", "mine.txt", cwd=dest)
    git("commit", "-q", "-m", "local", cwd=dest)
    local = _head(dest)
    with pytest.raises(
        ApplyError, match=f"commit {local[:12]} is on no branch or tag of the source"
    ):
        converge(res, ctx)
    assert _head(dest) == local


def test_noop_reports_local_work_as_a_failure(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    dest, res, before = _cloned_then_upstream_moves(tmp_path, ctx, upstream)
    (dest / "app.txt").write_text("edited\n")
    (result,) = apply_catalog(Catalog("t", None, [res], [], []), ctx, noop=True).results
    assert result.status == Status.FAILED and "has local work" in result.message


def test_untracked_file_in_the_way_stops_the_move(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    dest = tmp_path / "co"
    res = _git_res(dest, upstream.file_url, ensure="latest")
    converge(res, ctx)
    (dest / "incoming.txt").write_text("mine, untracked\n")
    upstream.commit_and_push({"incoming.txt": "from upstream\n"})
    with pytest.raises(ApplyError, match="cannot check out"):
        converge(res, ctx)
    assert (dest / "incoming.txt").read_text() == "mine, untracked\n"
    assert _head(dest) == first


def test_merge_in_progress_is_local_work(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    dest, res, before = _cloned_then_upstream_moves(tmp_path, ctx, upstream)
    (dest / ".git" / "MERGE_HEAD").write_text(before + "\n")
    with pytest.raises(ApplyError, match="a merge, rebase or cherry-pick is in progress"):
        converge(res, ctx)


# -- what is at the path is not a checkout of the source ----------------------------------------


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("file", "is a file, not a git checkout of"),
        ("link", "is a link, not a git checkout"),
        ("dir", "is a directory with files in it, not a git checkout"),
        ("bare", "is a directory with files in it, not a git checkout"),
        ("other-source", "is a checkout of"),
        ("no-origin", "is a checkout of (no origin)"),
        ("gitfile", "has a .git that is not a folder"),
        ("worktree-elsewhere", "has a .git whose work tree is"),
    ],
)
def test_wrong_thing_at_the_path_is_refused_and_left_alone(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str, setup: str, message: str
) -> None:
    dest = tmp_path / "co"
    if setup == "file":
        dest.write_text("a file\n")
    elif setup == "link":
        dest.symlink_to(tmp_path)
    elif setup == "dir":
        dest.mkdir()
        (dest / "f").write_text("f")
    elif setup == "bare":
        pygit2.init_repository(str(dest), bare=True)
    elif setup == "other-source":
        pygit2.clone_repository(upstream.file_url, str(dest))
        repo = open_checkout(str(dest))
        repo.remotes.set_url("origin", "https://example.com/other.git")
    elif setup == "no-origin":
        pygit2.init_repository(str(dest))
    elif setup == "gitfile":
        dest.mkdir()
        (dest / ".git").write_text(f"gitdir: {upstream.bare}\n")
    elif setup == "worktree-elsewhere":
        # core.worktree would have a checkout run as root write somewhere else entirely.
        pygit2.clone_repository(upstream.file_url, str(dest))
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        open_checkout(str(dest)).config["core.worktree"] = str(elsewhere)
    before = (
        sorted(str(p) for p in dest.rglob("*")) if dest.is_dir() and not dest.is_symlink() else []
    )
    for ensure in ("present", "latest", "absent"):
        with pytest.raises(ApplyError) as err:
            converge(_git_res(dest, upstream.file_url, ensure=ensure), ctx)
        assert message in str(err.value)
    assert os.path.lexists(dest)
    if before:
        assert sorted(str(p) for p in dest.rglob("*")) == before


def test_same_source_written_another_way_is_the_same(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    dest = tmp_path / "co"
    converge(_git_res(dest, upstream.file_url), ctx)
    assert converge(_git_res(dest, str(upstream.bare) + "/", ensure="latest"), ctx) == []


def test_empty_directory_is_cloned_into_and_keeps_its_mode(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    dest = tmp_path / "co"
    dest.mkdir()
    dest.chmod(0o750)
    changes = converge(_git_res(dest, upstream.file_url), ctx)
    assert changes[0].old == "empty directory"
    assert (dest / "app.txt").exists() and stat.S_IMODE(dest.stat().st_mode) == 0o750


def test_missing_parent_directory(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    with pytest.raises(ApplyError, match="parent directory .* does not exist"):
        converge(_git_res(tmp_path / "no" / "co", upstream.file_url), ctx)


# -- unreachable sources ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["missing path", "closed port", "stopped daemon"])
def test_unreachable_source_fails_clearly_and_leaves_nothing(
    tmp_path: Path,
    ctx: ApplyContext,
    upstream: Upstream,
    first: str,
    git_daemon: GitDaemon,
    kind: str,
) -> None:
    if kind == "missing path":
        url = f"file://{tmp_path}/nowhere.git"
    elif kind == "closed port":
        url = f"git://127.0.0.1:{free_port()}/x.git"
    else:
        url = git_daemon.url(upstream)
        git_daemon.stop()
    try:
        with pytest.raises(ApplyError) as err:
            converge(_git_res(tmp_path / "co", url), ctx)
    finally:
        git_daemon.start()
    assert str(err.value).startswith(f"cannot fetch from {url}: ")
    assert [p.name for p in tmp_path.iterdir() if p.name not in ("state",)] == []


def test_latest_with_the_source_gone_fails_and_keeps_the_checkout(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str, git_daemon: GitDaemon
) -> None:
    dest = tmp_path / "co"
    res = _git_res(dest, git_daemon.url(upstream), ensure="latest")
    converge(res, ctx)
    git_daemon.stop()
    try:
        with pytest.raises(ApplyError, match="cannot fetch from git://127.0.0.1"):
            converge(res, ctx)
    finally:
        git_daemon.start()
    assert _head(dest) == first and (dest / "app.txt").read_text() == "v1\n"


def test_password_in_the_url_stays_out_of_messages(tmp_path: Path, ctx: ApplyContext) -> None:
    url = f"http://user:s3cret@127.0.0.1:{free_port()}/x.git"
    with pytest.raises(ApplyError) as err:
        converge(_git_res(tmp_path / "co", url), ctx)
    assert "s3cret" not in str(err.value) and "user:***@" in str(err.value)


# -- owner and group ----------------------------------------------------------------------------


def test_owner_and_group_cover_the_whole_tree(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str, account: Account
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("root's\n")
    (upstream.work / "link").symlink_to(outside)
    upstream.commit_and_push({}, "a link out of the tree")
    dest = tmp_path / "co"
    res = _git_res(
        dest, upstream.file_url, ensure="latest", owner=account.user, group=account.group
    )
    changes = converge(res, ctx)
    assert attrs_changed(changes) == ["ensure", "revision", "owner", "group"]

    def not_theirs() -> list[str]:
        return [
            str(p)
            for p in [dest, *dest.rglob("*")]
            if (p.lstat().st_uid, p.lstat().st_gid) != (account.uid, account.gid)
        ]

    assert not_theirs() == []
    assert (dest / "link").is_symlink() and (outside.stat().st_uid, outside.stat().st_gid) == (0, 0)
    assert converge(res, ctx) == []
    # A fetch as root adds objects; they are handed over too, in the same run.
    upstream.commit_and_push({"app.txt": "v2\n"})
    converge(res, ctx)
    assert not_theirs() == []
    # Drift is found anywhere in the tree.
    os.lchown(dest / "lib" / "util.txt", 0, 0)
    changes = converge(res, ctx)
    assert [(c.attr, c.old, c.new) for c in changes] == [
        ("owner", "root", account.user),
        ("group", "root", account.group),
    ]
    assert not_theirs() == []


def test_unknown_owner_is_a_change_in_noop_and_fails_on_apply(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    dest = tmp_path / "co"
    converge(_git_res(dest, upstream.file_url), ctx)
    res = _git_res(dest, upstream.file_url, owner="no-such-user-gp")
    assert [(c.attr, c.new) for c in changes_of(res, ctx)] == [("owner", "no-such-user-gp")]
    with pytest.raises(ApplyError, match="owner 'no-such-user-gp' does not exist"):
        converge(res, ctx)


def test_unknown_owner_fails(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    with pytest.raises(ApplyError, match="owner 'no-such-user-gp' does not exist"):
        converge(_git_res(tmp_path / "co", upstream.file_url, owner="no-such-user-gp"), ctx)
    assert not (tmp_path / "co").exists()


# -- schema and the applier ---------------------------------------------------------------------


def test_schema_checks() -> None:
    with pytest.raises(SourceError, match="is not absolute"):
        make("git", "relative/path", source="file:///x")
    with pytest.raises(SourceError, match="git needs a source URL"):
        make("git", "/srv/x")
    with pytest.raises(SourceError, match="must be one of present, latest, absent"):
        make("git", "/srv/x", source="file:///x", ensure="installed")


def test_noop_through_the_engine_changes_nothing(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    kept = tmp_path / "kept"
    converge(_git_res(kept, upstream.file_url), ctx)
    second = upstream.commit_and_push({"app.txt": "v2\n"})
    refs_before = sorted(open_checkout(str(kept)).references)
    resources = [
        _git_res(tmp_path / "new", upstream.file_url),
        _git_res(kept, upstream.file_url, ensure="latest"),
    ]
    outcome = apply_catalog(Catalog("t", None, resources, [], []), ctx, noop=True)
    assert [r.status for r in outcome.results] == [Status.WOULD_CHANGE] * 2
    assert outcome.results[1].changes[0].new == _short(second)
    assert not (tmp_path / "new").exists()
    assert _head(kept) == first and (kept / "app.txt").read_text() == "v1\n"
    # Not even fetched: the remote-tracking refs are as they were.
    assert sorted(open_checkout(str(kept)).references) == refs_before
    assert str(open_checkout(str(kept)).references["refs/remotes/origin/main"].target) == first
    outcome = apply_catalog(Catalog("t", None, resources, [], []), ctx)
    assert [r.status for r in outcome.results] == [Status.CHANGED] * 2
    outcome = apply_catalog(Catalog("t", None, resources, [], []), ctx)
    assert [r.status for r in outcome.results] == [Status.UNCHANGED] * 2


def test_checkout_mark_is_kept(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    dest = tmp_path / "co"
    converge(_git_res(dest, upstream.file_url), ctx)
    assert str(open_checkout(str(dest)).references[MARK_REF].target) == first


def test_changes_of_is_read_only(
    tmp_path: Path, ctx: ApplyContext, upstream: Upstream, first: str
) -> None:
    changes = changes_of(_git_res(tmp_path / "co", upstream.file_url), ctx)
    assert attrs_changed(changes) == ["ensure", "revision"]
    assert not (tmp_path / "co").exists()


def test_gitpuppet_apply_from_yaml(
    tmp_path: Path, upstream: Upstream, first: str, git_daemon: GitDaemon
) -> None:
    """End to end: declared in a control repo, compiled and applied by `gitpuppet apply`."""
    dest = tmp_path / "srv" / "app"
    dest.parent.mkdir()
    repo = make_repo(
        tmp_path / "repo",
        f"""
        - git: {dest}
          source: {git_daemon.url(upstream)}
          ensure: latest
        """,
    )
    state = tmp_path / "state"
    noop = apply(repo, state, "--noop")
    assert noop.returncode == 2 and not dest.exists(), noop.stdout + noop.stderr
    done = apply(repo, state)
    assert done.returncode == 2 and f"git:{dest}: ensure, revision changed" in done.stdout
    assert _head(dest) == first
    assert apply(repo, state).returncode == 0
    second = upstream.commit_and_push({"app.txt": "v2\n"})
    assert apply(repo, state).returncode == 2 and _head(dest) == second
    (dest / "app.txt").write_text("edited\n")
    upstream.commit_and_push({"app.txt": "v3\n"})
    failed = apply(repo, state)
    assert failed.returncode == 4 and "has local work" in failed.stdout + failed.stderr
