"""Reaching a managed path without following a link that a non-root user could have planted.

`open_parent` opens the directory that holds a path by a walk from / with
openat(O_NOFOLLOW | O_DIRECTORY), one component at a time. A link on the way is followed only
where no non-root user could have made it (its directory is root's and writable by root alone,
or root's own link in a sticky directory such as /tmp); anywhere else the walk stops with an
error. Everything the file and line types then do (read, write a temp file and rename it,
chown, chmod, remove, readlink) goes through the descriptor of that directory, so a directory
swapped for a link between the check and the write changes nothing (fsat.py has those
operations).

Within one run, a directory reached by a walk on which no user could replace anything is
remembered by (device, inode): the next resource in it opens the path directly and only checks
that the same directory came back, which keeps a thousand files in root's directories fast.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gitpuppet.errors import ApplyError

if TYPE_CHECKING:
    from gitpuppet.contract import Caches

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
DIR_NOFOLLOW = DIR_FLAGS | os.O_NOFOLLOW
MAX_LINKS = 40


@dataclass(slots=True)
class SafeDirs:
    """The directories a safe walk found this run, by path: (st_dev, st_ino). A later open of
    the same path reopens it directly while it is still that directory (ApplyContext.caches)."""

    known: dict[str, tuple[int, int]] = field(default_factory=dict)


class MissingParent(ApplyError):
    """A directory on the way does not exist or is not a directory."""


class UnsafePath(ApplyError):
    """A link on the way that a non-root user could have planted: not followed."""


def closed(st: os.stat_result) -> bool:
    """Only root can add, remove or rename the entries of this directory."""
    if st.st_uid != 0 or st.st_mode & stat.S_IWOTH:
        return False
    return not (st.st_mode & stat.S_IWGRP and st.st_gid != 0)


def protected(dir_st: os.stat_result, entry_st: os.stat_result) -> bool:
    """No non-root user can replace this entry of that directory (sticky: only its owner)."""
    if closed(dir_st):
        return True
    return dir_st.st_uid == 0 and bool(dir_st.st_mode & stat.S_ISVTX) and entry_st.st_uid == 0


@dataclass(slots=True)
class Parent:
    """The open directory holding `path`'s last component `name`.

    `safe`: no non-root user can replace this directory or any above it."""

    fd: int
    name: str
    path: str
    st: os.stat_result
    safe: bool

    @property
    def dir_path(self) -> str:
        return os.path.dirname(self.path) or "/"

    @property
    def guarded(self) -> bool:
        """Nobody but root can replace what is at `name` (the directory is safe and closed)."""
        return self.safe and closed(self.st)

    def lstat(self) -> os.stat_result | None:
        """lstat of the entry, or None when there is nothing there."""
        try:
            return os.stat(self.name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Parent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _components(path: str) -> list[str]:
    return [c for c in path.split("/") if c not in ("", ".")]


def open_parent(path: str, caches: Caches | None = None) -> Parent:
    """Open the directory that holds `path` (absolute) safely; the caller closes it.

    `caches` is the run's ApplyContext.caches (SafeDirs). Raises MissingParent, UnsafePath or ApplyError."""
    directory, name = os.path.split(path)
    if not name or name in (".", ".."):
        raise ApplyError(f"{path} does not name an entry in a directory")
    known = caches.get(SafeDirs).known if caches is not None else {}
    again = _reopen(directory, known.get(directory))
    if again is not None:
        return Parent(again[0], name, path, again[1], True)
    fd, st, safe = walk(directory)
    if safe:
        known[directory] = (st.st_dev, st.st_ino)
    return Parent(fd, name, path, st, safe)


def _reopen(directory: str, ident: tuple[int, int] | None) -> tuple[int, os.stat_result] | None:
    """The directory by its path, if it is still the one a safe walk found."""
    if ident is None:
        return None
    try:
        fd = os.open(directory, DIR_FLAGS)
    except OSError:
        return None
    st = os.fstat(fd)
    if (st.st_dev, st.st_ino) == ident:
        return fd, st
    os.close(fd)
    return None


@dataclass(slots=True)
class _Step:
    fd: int
    st: os.stat_result
    safe: bool
    where: str


def walk(directory: str) -> tuple[int, os.stat_result, bool]:
    """Open `directory` from /, component by component: (fd, its stat, safe)."""
    parts = _components(directory)
    root = os.open("/", DIR_FLAGS)
    here = _Step(root, os.fstat(root), True, "")
    above: list[_Step] = []  # the way back for ".."
    links = 0
    try:
        while parts:
            comp = parts.pop(0)
            if comp == "..":
                if above:
                    os.close(here.fd)
                    here = above.pop()
                continue
            nxt = step(here.fd, here.st, here.safe, comp, f"{here.where}/{comp}", follow=True)
            if isinstance(nxt, str):  # a link we may follow: its target goes in front
                links += 1
                if links > MAX_LINKS:
                    raise ApplyError(f"{directory}: too many levels of symbolic links")
                if nxt.startswith("/"):
                    for s in [*above, here]:
                        os.close(s.fd)
                    above = []
                    root = os.open("/", DIR_FLAGS)
                    here = _Step(root, os.fstat(root), True, "")
                parts = _components(nxt) + parts
                continue
            above.append(here)
            here = nxt
    except BaseException:
        for s in [*above, here]:
            os.close(s.fd)
        raise
    for s in above:
        os.close(s.fd)
    return here.fd, here.st, here.safe


def step(
    fd: int, st: os.stat_result, safe: bool, comp: str, where: str, *, follow: bool
) -> _Step | str:
    """Open directory `comp` in `fd` without following a link: the new step, or (with
    `follow`, for a link nobody but root could have made) the link's target to walk instead."""
    try:
        nfd = os.open(comp, DIR_NOFOLLOW, dir_fd=fd)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise MissingParent(
                f"parent directory {where} does not exist",
                hint=f"declare it (file: {where}, ensure: directory) or create it",
            ) from None
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise ApplyError(f"cannot open directory {where}: {exc.strerror}") from None
        try:
            lst = os.stat(comp, dir_fd=fd, follow_symlinks=False)
        except OSError:
            lst = None
        if lst is None or not stat.S_ISLNK(lst.st_mode):
            raise MissingParent(f"{where} is not a directory") from None
        if not (follow and safe and protected(st, lst)):
            raise UnsafePath(
                f"{where} is a symbolic link in a directory that a non-root user can change: "
                "not followed",
                hint="declare the real path, or make every directory on the way root's",
            ) from None
        return os.readlink(comp, dir_fd=fd)
    nst = os.fstat(nfd)
    return _Step(nfd, nst, safe and protected(st, nst), where)


def open_inside(top: Parent, rel: str) -> Parent:
    """The directory holding `rel` (a path inside the directory `top` names), reached from it
    without following any link; the caller closes it."""
    first = step(top.fd, top.st, top.safe, top.name, top.path, follow=False)
    assert not isinstance(first, str)  # without follow, a link is an error
    here = first
    *dirs, name = rel.split("/")
    try:
        for comp in dirs:
            nxt = step(here.fd, here.st, here.safe, comp, f"{here.where}/{comp}", follow=False)
            assert not isinstance(nxt, str)
            os.close(here.fd)
            here = nxt
    except BaseException:
        os.close(here.fd)
        raise
    return Parent(here.fd, name, f"{here.where}/{name}", here.st, here.safe)
