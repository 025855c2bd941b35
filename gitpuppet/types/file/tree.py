"""Pieces of the file type that work on a path or a whole directory tree (recurse + purge):
reading a tree, comparing it with the wanted one, making it so, removing things."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from gitpuppet.backup import BackupStore
from gitpuppet.managed import Protected
from gitpuppet.model import REDACTED, Change
from gitpuppet.resources.describe import kind_of, short_digest
from gitpuppet.resources.fsat import finish_write, make_dir, read_file, remove, set_meta, write_temp
from gitpuppet.resources.fsutil import WriteBatch, group_name, user_name
from gitpuppet.resources.safepath import MissingParent, Parent, open_inside
from gitpuppet.types.file.spec import FileParams


@dataclass(slots=True)
class Entry:
    """One thing inside a managed directory: its kind, content (regular files) and metadata."""

    kind: str
    data: bytes | None
    mode: int
    uid: int
    gid: int


def dir_mode(mode: int | None) -> int | None:
    """A directory gets search (x) permission wherever read is set, as Puppet does."""
    return None if mode is None else mode | ((mode & 0o444) >> 2)


def scan(top: Parent) -> dict[str, Entry]:
    """Everything inside the directory `top` names, by path relative to it; only regular files
    are read. Never descends into or reads through a link (os.fwalk on descriptors)."""
    out: dict[str, Entry] = {}
    walker = os.fwalk(top.name, dir_fd=top.fd, follow_symlinks=False)
    for dirpath, dirnames, filenames, dirfd in walker:
        rel_dir = os.path.relpath(dirpath, top.name)
        for name in dirnames + filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            try:
                st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            kind = kind_of(st)
            data = None
            if kind == "file":  # a fifo is never opened (it would block), a link never read
                data, st = read_file(Parent(dirfd, name, f"{top.path}/{rel}", st, False))
            out[rel] = Entry(kind, data, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    return out


def wanted_tree(p: FileParams, keep: Protected) -> dict[str, bytes | None] | None:
    """What a recursive directory should hold: the source folder's entries (none without a
    source, so purge empties it), less what another resource of the catalog manages (that
    resource wins, as in Puppet) and a file where a managed path needs a directory. A
    sub-directory another resource manages stays (only made when missing: see `light`)."""
    if p.tree is None:
        return {} if p.recurse and p.purge else None
    return {
        rel: data
        for rel, data in p.tree.items()
        if not keep.in_subtree(rel) and not (data is not None and keep.kept(rel))
    }


def light(rel: str, data: bytes | None, keep: Protected) -> bool:
    """A sub-directory of the tree that another resource manages: made when missing, its
    kind and metadata otherwise left to that resource (no tug of war over its mode)."""
    return data is None and rel in keep.exact


def purged(have: dict[str, Entry], tree: dict[str, bytes | None], keep: Protected) -> list[str]:
    """The entries purge removes: neither wanted nor kept for another resource."""
    return sorted(rel for rel in set(have) - set(tree) if not keep.kept(rel))


def tree_changes(
    have: dict[str, Entry],
    p: FileParams,
    mode: int | None,
    uid: int | None,
    gid: int | None,
    redact: bool,
    keep: Protected | None = None,
) -> list[Change]:
    """What differs between the directory's contents and the wanted tree (with purge, extras)."""
    keep = keep or Protected()
    tree = wanted_tree(p, keep)
    assert tree is not None
    changes = []
    for rel, data in sorted(tree.items()):
        entry = have.get(rel)
        kind = entry.kind if entry else None
        if light(rel, data, keep):
            if kind is None:
                changes.append(Change(f"{rel}/", "absent", "directory"))
            continue
        if data is None:
            if kind != "directory":
                changes.append(Change(f"{rel}/", kind or "absent", "directory"))
                continue
        elif kind != "file" or entry is None or entry.data != data:
            if redact:
                changes.append(Change(rel, REDACTED, REDACTED, redacted=True))
            else:
                old = short_digest(entry.data) if kind == "file" and entry else kind or "absent"
                changes.append(Change(rel, old, short_digest(data)))
            continue
        assert entry is not None
        want_mode = dir_mode(mode) if data is None else mode
        if want_mode is not None and entry.mode != want_mode:
            changes.append(Change(f"{rel} mode", f"{entry.mode:04o}", f"{want_mode:04o}"))
        if uid is not None and entry.uid != uid:
            changes.append(Change(f"{rel} owner", user_name(entry.uid), user_name(uid)))
        if gid is not None and entry.gid != gid:
            changes.append(Change(f"{rel} group", group_name(entry.gid), group_name(gid)))
    if p.purge:
        extra = purged(have, tree, keep)
        inside = set(extra)
        for rel in extra:
            # Report an unmanaged directory once, not every file inside it.
            if os.path.dirname(rel) not in inside:
                changes.append(Change(rel, have[rel].kind, "absent (purged)"))
    return changes


def sync_tree(
    top: Parent,
    p: FileParams,
    have: dict[str, Entry],
    mode: int | None,
    uid: int | None,
    gid: int | None,
    backups: BackupStore | None,
    batch: WriteBatch | None = None,
    keep: Protected | None = None,
) -> None:
    """Make the contents of the directory `top` names match the wanted tree; with purge, remove
    what is neither in it nor kept for another resource (`keep`). Every entry is reached from
    `top` without following a link. With `batch`, new contents are staged there (see
    fsutil.WriteBatch)."""
    keep = keep or Protected()
    tree = wanted_tree(p, keep)
    assert tree is not None
    for rel, data in sorted(tree.items()):
        if light(rel, data, keep) and rel in have:
            continue
        with open_inside(top, rel) as at:
            _sync_entry(at, data, have.get(rel), mode, uid, gid, backups, batch)
    if p.purge:
        # Deepest first, so a directory is empty of managed things before it goes.
        for rel in sorted(purged(have, tree, keep), key=lambda r: -r.count("/")):
            try:
                at = open_inside(top, rel)
            except MissingParent:
                continue  # its directory went first
            with at:
                st = at.lstat()
                if st is not None:  # what is there now: a link swapped in is unlinked only
                    remove(at, kind_of(st), True, backups)


def _sync_entry(
    at: Parent,
    data: bytes | None,
    entry: Entry | None,
    mode: int | None,
    uid: int | None,
    gid: int | None,
    backups: BackupStore | None,
    batch: WriteBatch | None,
) -> None:
    kind = entry.kind if entry else None
    if data is None:
        if kind != "directory":
            if kind is not None:
                remove(at, kind, True, backups)
            make_dir(at, dir_mode(mode))
        set_meta(at, dir_mode(mode), uid, gid)
        return
    if kind == "directory":
        remove(at, kind, True, backups)
        kind = None
    if kind == "file" and entry is not None and entry.data == data:
        set_meta(at, mode, uid, gid)
        return
    if kind == "file":
        st = at.lstat()
        if backups is not None and entry is not None and entry.data is not None and st:
            backups.save(at.path, entry.data, st, batch)
    elif kind is not None:
        remove(at, kind, True, backups)  # a link or fifo where a file belongs
    tmp = write_temp(
        at, data, mode=0o644 if mode is None else mode, uid=uid, gid=gid, sync=batch is None
    )
    finish_write(at, tmp, batch)
