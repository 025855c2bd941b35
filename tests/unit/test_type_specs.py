"""Every type's spec is pure: it imports with pwd, grp and pygit2 unavailable, and the one
registry finds every folder of gitpuppet/types/ (a new type needs nothing but its folder)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import gitpuppet.types
from gitpuppet.types import get_type, schemas

pytestmark = pytest.mark.unit

TYPES_DIR = Path(gitpuppet.types.__file__).parent
FOLDERS = sorted(p.parent.name for p in TYPES_DIR.glob("*/spec.py"))

_BLOCKED = """
import sys
for name in ("pwd", "grp", "pygit2"):
    sys.modules[name] = None  # any import of it now raises ImportError
import importlib
importlib.import_module("gitpuppet.types.%s.spec")
from gitpuppet.types import schemas
import gitpuppet.compile.compiler  # the compiler, which imports every spec
assert "%s" in schemas()
leaked = sorted(m for m in sys.modules if m.startswith("gitpuppet.types.") and m.endswith(".type"))
assert not leaked, leaked
"""


def test_the_ten_types_are_folders() -> None:
    assert {
        "cron",
        "exec",
        "file",
        "git",
        "group",
        "host",
        "line",
        "package",
        "service",
        "user",
    } <= set(FOLDERS)


@pytest.mark.parametrize("name", FOLDERS)
def test_a_spec_imports_without_pwd_grp_or_pygit2(name: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _BLOCKED % (name, name)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr


def test_a_blocked_module_really_fails_the_check() -> None:
    """The harness can fail: a type's implementation needs pwd (through the file helpers)."""
    script = _BLOCKED % ("file", "file") + "\nimport gitpuppet.types.file.type\n"
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0 and "halted; None in sys.modules" in proc.stderr


@pytest.mark.parametrize("name", FOLDERS)
def test_the_registry_finds_every_folder(name: str) -> None:
    spec = schemas()[name]
    assert spec.type_name == name
    found = get_type(name)
    assert found is not None and found.name == name
