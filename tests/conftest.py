"""Shared fixtures. Tiers are pytest markers: unit, integration, system (see pyproject)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def own_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`gitpuppet apply` takes the run lock: the tests' own (one per worker), not the machine's
    /run/gitpuppet (a real run there would skip the tests, and the tests would skip it)."""
    old = os.environ.get("GITPUPPET_RUN_DIR")
    os.environ["GITPUPPET_RUN_DIR"] = str(tmp_path_factory.mktemp("run"))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("GITPUPPET_RUN_DIR", None)
        else:
            os.environ["GITPUPPET_RUN_DIR"] = old


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A test file's tier follows its folder unless it marks itself.
    for item in items:
        path = str(item.fspath)
        for tier in ("unit", "integration", "system"):
            if f"/tests/{tier}/" in path and not any(item.iter_markers(tier)):
                item.add_marker(getattr(pytest.mark, tier))
