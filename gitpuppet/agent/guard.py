"""What every command that converges the machine honours first: the run lock, then `disable`.

`gitpuppet run` and `gitpuppet apply` (on the agent's checkout or on a directory) go through
here, so both skip with exit 3 and the same reason (SPEC §7.2).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from gitpuppet.agent.disable import RunDisabled, disabled
from gitpuppet.agent.lock import run_lock


def refuse_if_disabled(*state_dirs: str | os.PathLike[str]) -> None:
    """Raise RunDisabled (exit 3, with the reason) when runs are disabled in any of them."""
    for state_dir in dict.fromkeys(str(d) for d in state_dirs):
        off = disabled(state_dir)
        if off is not None:
            raise RunDisabled(f"runs are {off.describe()}", "`gitpuppet enable` allows them again")


@contextmanager
def converge_guard(
    lock_file: str | os.PathLike[str], *state_dirs: str | os.PathLike[str]
) -> Iterator[None]:
    """Hold the run lock (LockHeld, exit 3, when taken) and refuse a disabled machine."""
    with run_lock(lock_file):
        refuse_if_disabled(*state_dirs)
        yield
