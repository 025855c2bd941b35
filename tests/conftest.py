"""Shared fixtures. Tiers are pytest markers: unit, integration, system (see pyproject)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A test file's tier follows its folder unless it marks itself.
    for item in items:
        path = str(item.fspath)
        for tier in ("unit", "integration", "system"):
            if f"/tests/{tier}/" in path and not any(item.iter_markers(tier)):
                item.add_marker(getattr(pytest.mark, tier))
