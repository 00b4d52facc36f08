/* The messages pane: rows as DevTools lists WebSocket messages (arrows, time, delta, length,
   event or opcode, the full payload on one line), a page at a time; a selected row opens the side pane (JSON tree or
   hex + ASCII, binary attachments in place, links to the ack, the Engine.IO packet, the frames
   and the packets). Keys: up/down select, Enter opens the side pane, Esc closes it. Captured text
   goes into the DOM with textContent only (ss.el). */
"use strict";

(function () {
  const list = document.getElementById("pane-list");
  if (!list) return;
  const tbody = list.querySelector("tbody");
  const side = document.getElementById("pane-side");
  const body = document.getElementById("pane-body");
  const links = document.getElementById("pane-links");
  const title = document.getElementById("pane-title");
  const more = document.getElementById("pane-more");
  const count = document.getElementById("pane-count");
  const empty = document.getElementById("pane-empty");
  const MAX_HEX = 65536;
  const detailQuery = list.dataset.detailQuery || "";  /* the pane's filter: the detail page's prev/next stay in it */
  function detail(id) {
    return ss.detailUrl(list.dataset.detail, id) + (detailQuery ? "?" + detailQuery : "");
  }
  let rows = [];
  let total = 0;
  let selected = -1;
  let loading = null;
  let shownId = null;

  function fmt(x, digits) { return x === null || x === undefined ? "" : Number(x).toFixed(digits); }

  function rowElement(r, k) {
    const tr = ss.el("tr", {"class": "layer-" + r.layer, "data-row": r.id, "data-k": k});
    const arrow = ss.el("td", {"class": "dir"});
    arrow.append(ss.el("span", {"class": "arrow " + (r.direction || ""), "title": r.direction === "c2s" ? "client \u2192 server" : r.direction === "s2c" ? "server \u2192 client" : ""}, r.arrow));
    tr.append(arrow);
    tr.append(ss.el("td", {"class": "num"}, fmt(r.t, 6)));
    tr.append(ss.el("td", {"class": "num"}, r.delta === null ? "" : fmt(r.delta * 1000, 3)));
    tr.append(ss.el("td", {"class": "num len"}, r.length === null ? "" : r.length));
    tr.append(ss.el("td", {"class": "label", "title": r.label}, r.label));
    tr.append(payloadCell(r, k));
    tr.addEventListener("click", () => { select(k); open(); });
    return tr;
  }

  /* The whole payload on one line (CSS cuts it with an ellipsis; the title holds it too), as the
     server sends it: its first 4 KiB, then a link to the side pane and the detail page for the
     bytes left out (webui/pane.py, PAYLOAD_BYTES). */
  function payloadCell(r, k) {
    const td = ss.el("td", {"class": "payload" + (r.binary ? " binary" : ""), "title": r.payload});
    const line = ss.el("div", {"class": "payload-line"});
    line.append(ss.el("span", {"class": "payload-text"}, r.payload));
    if (r.payload_more > 0) {
      const a = link(detail(r.id), `\u2026 ${Number(r.payload_more).toLocaleString()} more bytes`, {"class": "payload-more", "title": "the whole payload"});
      a.addEventListener("click", (ev) => { ev.preventDefault(); ev.stopPropagation(); select(k); open(); });
      line.append(a);
    }
    td.append(line);
    return td;
  }

  async function loadMore() {
    if (loading) return loading;
    if (rows.length && rows.length >= total) return null;
    const url = list.dataset.api + (list.dataset.api.includes("?") ? "&" : "?") + "offset=" + rows.length;
    loading = (async () => {
      try {
        const ans = await ss.getJSON(url);
        total = ans.total;
        for (const r of ans.items) {
          tbody.append(rowElement(r, rows.length));
          rows.push(r);
        }
        count.textContent = total ? `1\u2013${rows.length.toLocaleString()} of ${total.toLocaleString()}` : "";
        more.hidden = rows.length >= total;
        empty.hidden = total > 0;
        list.setAttribute("data-loaded", rows.length);
      } catch (err) {
        ss.showError(body, err);
      } finally {
        loading = null;
      }
    })();
    return loading;
  }

  function select(k) {
    if (k < 0 || k >= rows.length) return;
    const old = tbody.querySelector("tr.selected");
    if (old) old.classList.remove("selected");
    selected = k;
    const tr = tbody.children[k];
    tr.classList.add("selected");
    tr.scrollIntoView({block: "nearest"});
    list.setAttribute("data-selected", rows[k].id);
    if (!side.hidden) open();
  }

  async function move(step) {
    let k = selected < 0 ? 0 : selected + step;
    if (k >= rows.length && rows.length < total) { await loadMore(); }
    k = Math.max(0, Math.min(k, rows.length - 1));
    select(k);
  }

  function close() {
    side.hidden = true;
    shownId = null;
    list.setAttribute("data-open", "");
    list.focus();
  }

  function link(href, text, attrs) {
    return ss.el("a", Object.assign({"href": href}, attrs || {}), text);
  }

  function hexDump(hex) {
    const clean = String(hex).slice(0, MAX_HEX * 2);
    const lines = [];
    for (let off = 0; off < clean.length / 2; off += 16) {
      const bytes = [];
      let ascii = "";
      for (let j = off; j < Math.min(off + 16, clean.length / 2); j++) {
        const b = parseInt(clean.substr(j * 2, 2), 16);
        bytes.push(clean.substr(j * 2, 2));
        ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".";
      }
      lines.push(off.toString(16).padStart(8, "0") + "  " + bytes.join(" ").padEnd(47, " ") + "  " + ascii);
    }
    if (hex.length > clean.length) lines.push(`\u2026 ${(hex.length / 2 - MAX_HEX).toLocaleString()} more bytes`);
    return ss.el("pre", {"class": "hexdump"}, lines.join("\n"));
  }

  function jsonNode(value, key, depth) {
    const li = ss.el("li");
    const keyEl = key === null ? null : ss.el("span", {"class": "json-key"}, JSON.stringify(key) + ": ");
    if (value !== null && typeof value === "object" && typeof value.$hex === "string" && Object.keys(value).length === 1) {
      const det = ss.el("details", {"open": "", "class": "json-binary"});
      const sum = ss.el("summary");
      if (keyEl) sum.append(keyEl);
      sum.append(ss.el("span", {"class": "json-literal"}, `binary, ${(value.$hex.length / 2).toLocaleString()} bytes`));
      det.append(sum, hexDump(value.$hex));
      li.append(det);
      return li;
    }
    if (value !== null && typeof value === "object") {
      const isArray = Array.isArray(value);
      const entries = isArray ? value.map((v, i) => [i, v]) : Object.entries(value);
      const det = ss.el("details", depth < 3 ? {"open": ""} : {});
      const sum = ss.el("summary");
      if (keyEl) sum.append(keyEl);
      sum.append(ss.el("span", {"class": "muted"}, isArray ? `[${entries.length}]` : `{${entries.length}}`));
      const ul = ss.el("ul");
      for (const [k, v] of entries.slice(0, 2000)) ul.append(jsonNode(v, isArray ? null : k, depth + 1));
      if (entries.length > 2000) ul.append(ss.el("li", {"class": "muted"}, `\u2026 ${entries.length - 2000} more`));
      det.append(sum, ul);
      li.append(det);
      return li;
    }
    if (keyEl) li.append(keyEl);
    const cls = typeof value === "string" ? "json-string" : typeof value === "number" ? "json-number" : "json-literal";
    li.append(ss.el("span", {"class": cls}, JSON.stringify(value)));
    return li;
  }

  function jsonTree(value) {
    const ul = ss.el("ul", {"class": "json-tree", "id": "pane-json"});
    ul.append(jsonNode(value, null, 0));
    return ul;
  }

  function content(d) {
    const rec = d.record || {};
    const row = d.row;
    const out = [];
    if (row.layer === "socketio" || row.layer === "engineio") {
      if (rec.data !== undefined && rec.data !== null && !(row.layer === "engineio" && rec.binary)) {
        let v = rec.data;
        if (row.layer === "engineio" && typeof v === "string") { try { v = JSON.parse(v); } catch (e) { /* text */ } }
        out.push(ss.el("h3", null, "data"), jsonTree(v));
      } else if (rec.data_hex) {
        out.push(ss.el("h3", null, "data (binary)"), hexDump(rec.data_hex));
      }
    } else if (row.layer === "websocket") {
      if (typeof rec.text === "string") {
        let parsed;
        try { parsed = JSON.parse(rec.text); } catch (e) { parsed = undefined; }
        if (parsed !== undefined && typeof parsed === "object") out.push(ss.el("h3", null, "text (JSON)"), jsonTree(parsed));
        else out.push(ss.el("h3", null, "text"), ss.el("pre", {"class": "payload"}, rec.text));
      }
      const hex = rec.data_hex || rec.payload_hex;
      if (hex) out.push(ss.el("h3", null, "payload (hex)"), hexDump(hex));
    }
    for (const s of d.sections || []) {
      if (s.layer !== row.layer || out.length) continue;
      const dl = ss.el("dl", {"class": "fields"});
      for (const [k, v] of s.fields) { dl.append(ss.el("dt", null, k), ss.el("dd", null, v)); }
      out.push(dl);
      for (const dump of s.dumps || []) out.push(ss.el("h3", null, dump.title), ss.el("pre", {"class": "hexdump"}, dump.lines.join("\n")));
    }
    if (!out.length) out.push(ss.el("p", {"class": "muted"}, "No payload."));
    return out;
  }

  function linkLine(d) {
    const row = d.row;
    const parts = [link(detail(row.id), "whole stack \u2192", {"id": "pane-detail-link"})];
    const ack = d.ack;
    if (ack && ack.row !== null && ack.row !== undefined) {
      const ms = ack.latency_ms === null || ack.latency_ms === undefined ? "" : `, ${Number(ack.latency_ms).toFixed(3)} ms`;
      const text = ack.role === "request" ? `ACK #${ack.row}${ms}` : `answers #${ack.row}${ms}`;
      const a = link(ss.detailUrl(list.dataset.detail, ack.row), text, {"id": "pane-ack", "data-row": ack.row});
      a.addEventListener("click", (ev) => {
        const k = rows.findIndex((r) => r.id === ack.row);
        if (k >= 0) { ev.preventDefault(); select(k); open(); }
      });
      parts.push(a);
    } else if (ack) {
      parts.push(ss.el("span", {"class": "muted"}, `ack id ${ack.ack_id}: no partner in the capture`));
    }
    for (const s of d.sections || []) {
      if (s.layer === "engineio" && s.row_id !== undefined && s.row_id !== row.id) {
        parts.push(link(ss.detailUrl(list.dataset.detail, s.row_id), `Engine.IO #${s.row_id}`, {"class": "pane-eio"}));
      }
    }
    for (const c of d.carriers || []) {
      parts.push(link(ss.detailUrl(list.dataset.detail, c.id), `${c.layer === "websocket" ? "WebSocket" : "HTTP"} ${c.type} #${c.id}`, {"class": "pane-carrier"}));
    }
    const frames = d.frames || [];
    if (frames.length) {
      parts.push(ss.el("span", {"class": "muted"}, "packets"));
      for (const f of frames.slice(0, 40)) {
        parts.push(link(list.dataset.packets + "?frames=" + encodeURIComponent(f), String(f), {"class": "packet"}));
      }
      if (frames.length > 40) parts.push(ss.el("span", {"class": "muted"}, `+${frames.length - 40}`));
    }
    if (row.connection !== null && row.connection !== undefined) {
      const href = list.dataset.connPackets.replace(/\/0\/packets$/, "/" + encodeURIComponent(String(row.connection)) + "/packets");
      parts.push(link(href, `TCP #${row.connection} packets`, {"class": "pane-conn"}));
    }
    return parts;
  }

  async function open() {
    if (selected < 0) return;
    const r = rows[selected];
    side.hidden = false;
    if (shownId === r.id) return;
    shownId = r.id;
    title.textContent = `#${r.id} ${r.arrow} ${r.layer} ${r.label}`;
    links.replaceChildren();
    body.replaceChildren(ss.el("p", {"class": "muted"}, "loading\u2026"));
    try {
      const d = await ss.getJSON(ss.detailUrl(list.dataset.detailApi, r.id) + "?packets=0");
      if (shownId !== r.id) return;
      links.replaceChildren(...linkLine(d));
      body.replaceChildren(...content(d));
      list.setAttribute("data-open", r.id);
    } catch (err) {
      ss.showError(body, err);
    }
  }

  list.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowDown") { ev.preventDefault(); move(1); }
    else if (ev.key === "ArrowUp") { ev.preventDefault(); move(-1); }
    else if (ev.key === "Enter") { ev.preventDefault(); open(); }
    else if (ev.key === "Escape") { ev.preventDefault(); close(); }
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !side.hidden) close();
  });
  document.getElementById("pane-close").addEventListener("click", close);
  more.addEventListener("click", () => loadMore());
  list.addEventListener("scroll", () => {
    if (list.scrollTop + list.clientHeight >= list.scrollHeight - 40) loadMore();
  });
  loadMore().then(() => { list.setAttribute("data-ready", "1"); });
})();
