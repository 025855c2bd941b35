"""The fleet page in real headless Chromium (Debian's `chromium`, driven by Playwright).

The table renders, sorting and filtering work, a node's detail opens, hostile node text stays
text (no script of it runs), the page fetches nothing, and it fits a phone's width. A screenshot
is saved in the test's folder (and to $FLEET_SCREENSHOT when set, e.g. docs/fleet.png).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gitpuppet.fleet.page import render_page
from gitpuppet.fleet.summary import Failure
from gitpuppet.fleet.view import build_view
from tests.unit.test_fleet_view import report

CHROMIUM = "/usr/bin/chromium"
XSS = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (tests/run installs it)"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def page_file(tmp_path: Path) -> Path:
    new, old = "b" * 40, "a" * 40
    reports = [
        report("web01", 0, commit=new, head=new, ago=300),
        report("web02", 2, commit=new, head=new, ago=120, counts={"total": 40, "changed": 3}),
        report(
            "db01",
            4,
            commit=new,
            head=new,
            ago=200,
            counts={"total": 30, "failed": 2},
            failures=[Failure("service:postgresql", "exit status 1: " + XSS, "classes/db.yaml", 7)],
            messages=[XSS],
            facts={"os": {"family": "debian"}, "kernel": XSS},
        ),
        report("cache01", 0, commit=old, head=old, ago=400, wave=2),
        report("old01", 0, commit=new, head=new, ago=3 * 3600),
        report("lb01", 3, commit=new, head=new, ago=60, disabled="maintenance " + XSS),
    ]
    out = tmp_path / "fleet.html"
    out.write_text(render_page(build_view(reports, NOW), NOW))
    return out


def names(page: Any) -> list[str]:
    return page.eval_on_selector_all("#nodes tbody tr.node", "rs => rs.map(r => r.dataset.node)")


def test_table_sorts_filters_and_opens_a_node(browser: Any, tmp_path: Path) -> None:
    out = page_file(tmp_path)
    page = browser.new_page(viewport={"width": 1200, "height": 700})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(out.as_uri())
    assert names(page) == ["cache01", "db01", "lb01", "old01", "web01", "web02"]
    assert page.text_content("#summary") == "6 nodes: 1 failed, 1 stale, 1 behind, 1 disabled"

    page.click("#nodes th[data-key=node]")  # sorted by name already: now descending
    assert names(page) == ["web02", "web01", "old01", "lb01", "db01", "cache01"]
    page.click("#nodes th[data-key=age]")
    assert names(page)[0] == "lb01" and names(page)[-1] == "old01"
    page.click("#nodes th[data-key=failed]")
    page.click("#nodes th[data-key=failed]")
    assert names(page)[0] == "db01"

    page.click("#statuses button[data-status=failed]")
    assert names(page) == ["db01"]
    page.click("#statuses button[data-status=stale]")
    assert names(page) == ["old01"]
    page.click("#statuses button[data-status=all]")
    page.fill("#filter", "web")
    assert sorted(names(page)) == ["web01", "web02"]
    page.fill("#filter", "debian")  # a fact's value
    assert names(page) == ["db01"]
    page.fill("#filter", "")
    assert len(names(page)) == 6

    page.click("#nodes tr.node[data-node=db01]")
    detail = page.text_content("#nodes tr.detail[data-detail=db01]") or ""
    assert "service:postgresql: exit status 1: " + XSS + " (classes/db.yaml:7)" in detail
    assert '"family": "debian"' in detail
    assert page.evaluate("window.pwned") is None
    assert (
        page.query_selector("#nodes img") is None and page.query_selector("#nodes script") is None
    )
    assert requests == [out.as_uri()] and errors == []

    shot = tmp_path / "fleet.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("FLEET_SCREENSHOT"):
        shutil.copy(shot, os.environ["FLEET_SCREENSHOT"])
    page.close()


def test_page_fits_a_phone(browser: Any, tmp_path: Path) -> None:
    out = page_file(tmp_path)
    page = browser.new_page(viewport={"width": 375, "height": 740}, device_scale_factor=2)
    page.goto(out.as_uri())
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.is_hidden("#nodes thead")  # rows become cards, each cell labelled
    label = page.evaluate(
        "getComputedStyle(document.querySelector('#nodes td'), '::before').content"
    )
    assert label == '"Node" ": "' or "Node" in label
    page.screenshot(path=str(tmp_path / "fleet-phone.png"))
    page.close()


def big_page(tmp_path: Path, count: int = 10_000) -> Path:
    reports = [
        report(
            f"n{i:05d}",
            4 if i % 997 == 5 else 0,
            ago=60 + i % 500,
            counts={"total": 20, "failed": 1 if i % 997 == 5 else 0},
            facts={"ip": f"10.0.{i // 256}.{i % 256}"},
        )
        for i in range(count)
    ]
    out = tmp_path / "big.html"
    out.write_text(render_page(build_view(reports, NOW), NOW))
    return out


def test_ten_thousand_rows_sort_and_filter_over_all_with_few_in_the_table(
    browser: Any, tmp_path: Path
) -> None:
    """At 10,000 nodes only a page of rows is in the table (more as the last scrolls into
    view, or on the button), while sort and filter still work over every node."""
    page = browser.new_page(viewport={"width": 1200, "height": 700})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(big_page(tmp_path).as_uri())
    first = names(page)
    assert first[:2] == ["n00000", "n00001"] and len(first) <= 200
    assert page.text_content("#shown") == "10000 of 10000 nodes shown"
    page.click("#nodes th[data-key=failed]")
    page.click("#nodes th[data-key=failed]")  # most failures first: found past the first page
    failing = [f"n{i:05d}" for i in range(10_000) if i % 997 == 5]
    assert names(page)[:11] == sorted(failing, reverse=True)
    page.fill("#filter", "10.0.39.15")  # a fact of node 9999: far past the first page
    assert names(page) == ["n09999"]
    page.fill("#filter", "")
    page.click("#nodes th[data-key=node]")
    before = len(names(page))
    page.click("#nodes tr.more button")
    assert len(names(page)) == before + 200
    page.evaluate("document.querySelector('#nodes tr.more').scrollIntoView()")
    # Polled from here: the page's CSP forbids the eval that wait_for_function's polling uses.
    count = "document.querySelectorAll('#nodes tr.node').length"
    deadline = time.monotonic() + 10
    while page.evaluate(count) <= before + 200 and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert page.evaluate(count) > before + 200  # scrolling the last row into view added more
    page.click("#nodes tr.node[data-node=n00003]")
    assert "10.0.0.3" in (page.text_content("#nodes tr.detail[data-detail=n00003]") or "")
    assert errors == []
    page.close()
