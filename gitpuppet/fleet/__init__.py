"""The fleet view (SPEC §11): read every node's report branch from the reports repo, show it.

Layers: `fetch` (pygit2: bring the `nodes/*` branches into a local cache), `summary` (one
branch tip's files, untrusted, checked and capped into a `NodeReport`), `view` (stale, behind,
filters, the summary line), `text` and `page` (terminal lines and the self-contained HTML page).
"""
