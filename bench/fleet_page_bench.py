"""The fleet page in Debian's chromium (Playwright): first render, a sort and a filter.

Each time is taken inside the page, from just before the action to the frame after it (a
requestAnimationFrame, then a task: style, layout and paint of the change are included).

    python bench/fleet_page_bench.py PAGE.html
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
NEXT_FRAME = "() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)))"
ACTION = """async ([kind, arg]) => {
  const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  await frame();
  const t = performance.now();
  if (kind === "sort") document.querySelector(`#nodes th[data-key=${arg}]`).click();
  else {
    const f = document.getElementById("filter");
    f.value = arg;
    f.dispatchEvent(new Event("input"));
  }
  await frame();
  return performance.now() - t;
}"""
SORTS = ["age", "failed", "node", "commit", "result"]
FILTERS = ["node-01", "", "10.0.3.", "", "failed", ""]


def time_page(path: Path, repeats: int = 3) -> dict[str, Any]:
    """Milliseconds: first render (navigation start to the first frame with rows), each sort
    and filter (median of `repeats`), and how many rows the page holds and shows."""
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {"page_mb": round(path.stat().st_size / 2**20, 1)}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            loads = []
            for _ in range(repeats):
                page = browser.new_page(viewport={"width": 1200, "height": 800})
                began = time.perf_counter()
                page.goto(path.as_uri(), wait_until="load")
                page.evaluate(NEXT_FRAME)
                loads.append((page.evaluate("performance.now()"), time.perf_counter() - began))
                if _ != repeats - 1:
                    page.close()
            out["first_render_ms"] = round(statistics.median(x[0] for x in loads))
            out["first_render_wall_ms"] = round(statistics.median(x[1] for x in loads) * 1000)
            out["rows_in_dom"] = page.evaluate("document.querySelectorAll('#nodes tr').length")
            out["shown_text"] = page.text_content("#shown")
            for key in SORTS:
                ms = [page.evaluate(ACTION, ["sort", key]) for _ in range(repeats)]
                out[f"sort_{key}_ms"] = round(statistics.median(ms))
            out["first_filter_ms"] = round(page.evaluate(ACTION, ["filter", "eth0"]))  # + index
            page.evaluate(ACTION, ["filter", ""])
            for text in FILTERS:
                ms = [page.evaluate(ACTION, ["filter", text]) for _ in range(repeats)]
                out[f"filter_{text or 'clear'}_ms"] = round(statistics.median(ms))
            out["heap_mb"] = round(page.evaluate("performance.memory.usedJSHeapSize") / 2**20)
        finally:
            browser.close()
    return out


if __name__ == "__main__":
    print(json.dumps(time_page(Path(sys.argv[1])), indent=1))
