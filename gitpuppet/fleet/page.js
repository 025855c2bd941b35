"use strict";
// The fleet page: builds the table from the embedded JSON with textContent only (never innerHTML).
(function () {
  const data = JSON.parse(document.getElementById("fleet-data").textContent);
  const nodes = data.nodes;
  const columns = [
    ["node", "Node", (n) => n.node],
    ["last_run", "Last run", (n) => n.last_run],
    ["age", "Age", (n) => n.age_seconds],
    ["commit", "Commit", (n) => n.commit || ""],
    ["wave", "Wave", (n) => (n.wave === null ? -1 : n.wave)],
    ["result", "Result", (n) => n.result],
    ["changed", "Changed", (n) => n.counts.changed || 0],
    ["failed", "Failed", (n) => n.counts.failed || 0],
    ["total", "Total", (n) => n.counts.total || 0],
    ["notes", "Notes", (n) => flags(n).join(" ")],
  ];
  const statuses = ["all", "failed", "stale", "behind", "changed", "unchanged", "skipped", "disabled", "drift"];
  const state = { sort: "node", desc: false, status: "all", text: "", open: new Set() };
  // Only the first rows of the sorted, filtered list are in the table; more are added as the
  // last one scrolls into view (a 10,000-row table takes seconds to lay out on each change).
  const PAGE = 200;
  let shown = [], drawn = 0;
  const rows = new Map(); // node name -> its <tr>, made once

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function age(s) {
    for (const [u, n] of [["d", 86400], ["h", 3600], ["m", 60]]) if (s >= n) return Math.floor(s / n) + u;
    return s + "s";
  }
  function flags(n) {
    const f = [];
    if (n.stale) f.push("stale");
    if (n.behind) f.push("behind");
    if (n.disabled !== null) f.push("disabled");
    if (n.pending_changes > 0) f.push("drift");
    if (n.held) f.push("held");
    if (n.noop) f.push("noop");
    return f;
  }
  function hasStatus(n, s) {
    if (s === "all") return true;
    if (s === "stale") return n.stale;
    if (s === "behind") return n.behind;
    if (s === "disabled") return n.disabled !== null;
    if (s === "drift") return n.pending_changes > 0;
    return n.result === s;
  }
  function haystack(n) {
    const parts = [n.node, n.commit || "", n.environment || "", n.result, n.disabled || "", n.held || ""];
    for (const m of n.messages) parts.push(m);
    for (const f of n.failures) parts.push(f.ref, f.message);
    for (const [k, v] of Object.entries(n.facts)) parts.push(k + "=" + (typeof v === "string" ? v : JSON.stringify(v)));
    return parts.join("\n").toLowerCase();
  }
  // Built on the first text filter, not at load: 10,000 nodes' facts take a while to flatten.
  let hay = null;
  function matches(n) {
    if (!state.text) return true;
    if (hay === null) hay = new Map(nodes.map((x) => [x, haystack(x)]));
    return hay.get(n).includes(state.text);
  }

  function header() {
    const tr = document.querySelector("#nodes thead tr");
    for (const [key, label] of columns) {
      const th = el("th", label);
      th.dataset.key = key;
      th.addEventListener("click", () => {
        state.desc = state.sort === key ? !state.desc : false;
        state.sort = key;
        draw();
      });
      tr.appendChild(th);
    }
    const box = document.getElementById("statuses");
    for (const s of statuses) {
      const b = el("button", s);
      b.type = "button";
      b.dataset.status = s;
      b.addEventListener("click", () => { state.status = s; draw(); });
      box.appendChild(b);
    }
    document.getElementById("filter").addEventListener("input", (e) => {
      state.text = e.target.value.trim().toLowerCase();
      draw();
    });
  }

  function cell(tr, label, value, cls) {
    const td = el("td", value, cls);
    td.dataset.label = label;
    tr.appendChild(td);
    return td;
  }

  function nodeRow(n) {
    const tr = el("tr", null, "node");
    tr.dataset.node = n.node;
    cell(tr, "Node", n.node);
    cell(tr, "Last run", n.last_run.replace("T", " "));
    cell(tr, "Age", age(n.age_seconds), "num");
    const c = cell(tr, "Commit", "");
    c.appendChild(el("code", n.commit ? n.commit.slice(0, 10) : "none"));
    cell(tr, "Wave", n.wave === null ? "-" : n.wave, "num");
    cell(tr, "Result", n.result, "result-" + n.result);
    cell(tr, "Changed", n.counts.changed || 0, "num");
    cell(tr, "Failed", n.counts.failed || 0, "num");
    cell(tr, "Total", n.counts.total || 0, "num");
    const notes = cell(tr, "Notes", "");
    for (const f of flags(n)) notes.appendChild(el("span", f, "flag " + f));
    tr.addEventListener("click", () => {
      if (state.open.has(n.node)) {
        state.open.delete(n.node);
        const d = tr.nextElementSibling;
        if (d && d.dataset.detail === n.node) d.remove();
      } else {
        state.open.add(n.node);
        tr.after(detailRow(n));
      }
    });
    return tr;
  }

  function section(box, title, items) {
    if (!items.length) return;
    box.appendChild(el("h3", title));
    const ul = el("ul");
    for (const i of items) ul.appendChild(el("li", i));
    box.appendChild(ul);
  }

  function detailRow(n) {
    const tr = el("tr", null, "detail");
    tr.dataset.detail = n.node;
    const td = el("td");
    td.colSpan = columns.length;
    const box = el("div", null, "detail");
    const facts = [
      "environment: " + (n.environment || "-"),
      "commit: " + (n.commit || "none") + (n.behind ? " (behind " + (n.newest_head || n.head || "") + ")" : ""),
      "exit code " + n.exit_code + ", " + n.duration.toFixed(1) + " s, interval " + Math.round(n.interval) + " s",
    ];
    if (n.disabled !== null) facts.push("disabled: " + n.disabled);
    if (n.held) facts.push("held: " + n.held);
    if (n.pending_changes) facts.push("pending changes (noop): " + n.pending_changes);
    section(box, "Run", facts);
    section(box, "Failed resources", n.failures.map((f) =>
      f.ref + ": " + f.message + (f.file ? " (" + f.file + ":" + f.line + ")" : "")));
    section(box, "Messages", n.messages);
    box.appendChild(el("h3", "Facts"));
    box.appendChild(el("pre", n.facts_note || JSON.stringify(n.facts, null, 2)));
    td.appendChild(box);
    tr.appendChild(td);
    return tr;
  }

  function rowOf(n) {
    let tr = rows.get(n.node);
    if (!tr) { tr = nodeRow(n); rows.set(n.node, tr); }
    return tr;
  }

  const moreRow = el("tr", null, "more");
  const moreCell = el("td");
  moreCell.colSpan = columns.length;
  const moreButton = el("button");
  moreButton.type = "button";
  moreButton.addEventListener("click", () => drawMore());
  moreCell.appendChild(moreButton);
  moreRow.appendChild(moreCell);
  const watcher = new IntersectionObserver((seen) => {
    if (seen.some((e) => e.isIntersecting)) drawMore();
  }, { rootMargin: "600px" });
  watcher.observe(moreRow);

  function drawMore() {
    const body = document.querySelector("#nodes tbody");
    const part = document.createDocumentFragment();
    const end = Math.min(shown.length, drawn + PAGE);
    for (; drawn < end; drawn++) {
      const n = shown[drawn];
      part.appendChild(rowOf(n));
      if (state.open.has(n.node)) part.appendChild(detailRow(n));
    }
    body.insertBefore(part, moreRow);
    const left = shown.length - drawn;
    moreRow.hidden = left === 0;
    moreButton.textContent = "show " + Math.min(left, PAGE) + " more (" + left + " not shown yet)";
  }

  function draw() {
    const get = columns.find((c) => c[0] === state.sort)[2];
    shown = nodes.filter((n) => hasStatus(n, state.status) && matches(n));
    shown.sort((a, b) => {
      const x = get(a), y = get(b);
      const r = x < y ? -1 : x > y ? 1 : a.node < b.node ? -1 : 1;
      return state.desc ? -r : r;
    });
    const body = document.querySelector("#nodes tbody");
    body.replaceChildren(moreRow);
    drawn = 0;
    drawMore();
    for (const th of document.querySelectorAll("#nodes th")) {
      th.className = th.dataset.key === state.sort ? (state.desc ? "desc" : "asc") : "";
    }
    for (const b of document.querySelectorAll("#statuses button")) {
      b.className = b.dataset.status === state.status ? "on" : "";
    }
    document.getElementById("shown").textContent = shown.length + " of " + nodes.length + " nodes shown";
  }

  document.getElementById("summary").textContent = data.summary;
  document.getElementById("generated").textContent = "generated " + data.generated.replace("T", " ");
  const warn = document.getElementById("warnings");
  for (const w of data.warnings) warn.appendChild(el("li", w));
  header();
  draw();
})();
