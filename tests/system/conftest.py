"""Fixtures of the system tier: the cached Debian image and a booted container per test module.

`container` is module-scoped: one fresh `--volatile=overlay` boot per module (about 0.3 s), thrown
away at the end. Tests in a module share it, so each test installs what it needs itself (see
`installed_units` in test_units.py). Harness timings go to stderr: `pytest -s` shows them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .container import (
    Container,
    ImageBuildError,
    Unavailable,
    ensure_image,
    unavailable_reason,
)


@pytest.fixture(scope="session")
def system_image() -> Path:
    """The root of the cached bookworm image, built on first use (skips where nspawn cannot run)."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"no throwaway systemd on this machine: {reason}")
    try:
        return ensure_image()
    except Unavailable as exc:
        pytest.skip(f"cannot build the test image: {exc}")
    except ImageBuildError as exc:
        # A broken build is a failure, not a skip: it would hide a broken harness.
        pytest.fail(f"building the test image failed: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def container(system_image: Path) -> Iterator[Container]:
    """A booted systemd container for this test module, with the repo and its venv bound in."""
    box = Container(system_image)
    box.start()
    try:
        yield box
    finally:
        box.stop()
