"""`validate:` of the types that write a file (file, line): the command checks the new content
in its temp file before that replaces the old."""

from __future__ import annotations

import os
import shlex

from gitpuppet.command import run_command
from gitpuppet.errors import ApplyError
from gitpuppet.resources.safepath import Parent

VALIDATE_TIMEOUT = 120


def temp_path(at: Parent, tmp: str) -> str:
    """A path for the command to read the temp file by: through our descriptor of the
    directory when a user could swap the directory's path for a link meanwhile."""
    if at.guarded:
        return os.path.join(at.dir_path, tmp)
    return f"/proc/{os.getpid()}/fd/{at.fd}/{tmp}"


def validate_temp(command: str, at: Parent, tmp: str, path: str) -> None:
    """Run `command` (no shell; `%` is the temp file's path); ApplyError when it fails."""
    argv = [part.replace("%", temp_path(at, tmp)) for part in shlex.split(command)]
    result = run_command(argv, timeout=VALIDATE_TIMEOUT)
    if result.returncode != 0:
        raise ApplyError(
            f"validate command rejected the new content of {path} (exit {result.returncode}); "
            "the old content is kept",
            output=result.output,
        )
