"""The fleet view as one self-contained HTML page (no CDN, no request of any kind).

Everything from the nodes travels as JSON inside a `<script type="application/json">` with `<`,
`>` and `&` escaped, and the page's own script builds the table with `textContent` only, so a
node name or message holding markup is shown as text. A Content-Security-Policy with a fresh
nonce allows only the page's own style and script and forbids every fetch, so even markup that
got in some other way could neither run nor call out.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from importlib import resources

from gitpuppet.fleet.view import FleetView, iso, row_json

_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def embed_json(data: object) -> str:
    """JSON that can sit inside a <script> element: no `</script>`, `<!--` or `&` in it."""
    text = json.dumps(data, ensure_ascii=False, default=str)
    for char, escape in _ESCAPES.items():  # str.replace: C speed, not a loop over characters
        text = text.replace(char, escape)
    return text


def embedded_data(view: FleetView, now: datetime, out: bytearray) -> None:
    """The page's data as UTF-8 script-safe JSON, made a node at a time (the same text as
    `embed_json` of the whole, appended to `out`: no second copy of 30 MB at 10,000 nodes)."""
    head = embed_json(
        {"generated": iso(now), "summary": view.summary_line(), "warnings": view.warnings[:100]}
    )
    out += head[:-1].encode("utf-8") + b', "nodes": ['

    for i, row in enumerate(view.rows):
        if i:
            out += b", "
        out += embed_json(row_json(row)).encode("utf-8")
    out += b"]}"


def render_page(view: FleetView, now: datetime | None = None) -> str:
    """The whole page for `view`, as text."""
    return page_bytes(view, now).decode("utf-8")


def page_bytes(view: FleetView, now: datetime | None = None) -> bytearray:
    """The whole page for `view`, UTF-8 (what `--html` writes)."""
    now = now or datetime.now(UTC)
    nonce = secrets.token_urlsafe(18)
    assets = resources.files("gitpuppet.fleet")
    css = assets.joinpath("page.css").read_text(encoding="utf-8")
    js = assets.joinpath("page.js").read_text(encoding="utf-8")
    csp = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
        "img-src 'none'; connect-src 'none'; form-action 'none'; base-uri 'none'"
    )
    head, _, tail = _TEMPLATE.format(csp=csp, nonce=nonce, css=css, js=js).partition(_DATA)
    page = bytearray(head.encode("utf-8"))
    embedded_data(view, now, page)
    page += tail.encode("utf-8")
    return page


_DATA = "\x00data\x00"
_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>gitpuppet fleet</title>
<style nonce="{nonce}">{css}</style>
</head>
<body>
<header>
<h1>gitpuppet fleet</h1>
<p id="summary"></p>
<p id="generated"></p>
<div class="controls">
<input id="filter" type="search" placeholder="filter: node, commit, message, fact" autocomplete="off">
<div id="statuses" role="group" aria-label="status"></div>
</div>
<ul id="warnings"></ul>
</header>
<main>
<table id="nodes">
<thead><tr></tr></thead>
<tbody></tbody>
</table>
<p id="shown"></p>
</main>
<script id="fleet-data" type="application/json">\x00data\x00</script>
<script nonce="{nonce}">{js}</script>
</body>
</html>
"""
