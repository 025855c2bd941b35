"""How a path's kind and content are named in reports (shared by the file-writing types)."""

from __future__ import annotations

import hashlib
import os
import stat


def kind_of(st: os.stat_result) -> str:
    """file, directory, link or other, from an lstat result."""
    if stat.S_ISLNK(st.st_mode):
        return "link"
    if stat.S_ISDIR(st.st_mode):
        return "directory"
    if stat.S_ISREG(st.st_mode):
        return "file"
    return "other"


def short_digest(data: bytes | None) -> str | None:
    """A short content digest for reports (only computed when a change is reported)."""
    return None if data is None else "sha256:" + hashlib.sha256(data).hexdigest()[:16]
