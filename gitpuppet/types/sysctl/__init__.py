"""`sysctl`: a kernel parameter's live value (/proc/sys) and its persistent file

The type itself is in resource.py and is imported only when a run asks for `TYPE`, so that
the pure spec.py can be imported (by the compiler) without it.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    """`TYPE`: the implementation, imported on first use."""
    if name == "TYPE":
        from gitpuppet.types.sysctl.resource import TYPE

        return TYPE
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
