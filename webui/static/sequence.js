/* Sequence diagram: client and server columns, one arrow per record down the page,
   labelled with what was sent. Built with SVG DOM calls and textContent only. */
"use strict";

(function () {
  const box = document.getElementById("sequence");
  if (!box) return;
  const pick = document.getElementById("seq-pick");
  const status = document.getElementById("seq-status");
  const prev = document.getElementById("seq-prev");
  const next = document.getElementById("seq-next");
  const PAGE = 400;
  const ROW = 26, TOP = 56, LEFT = 110, MIN_WIDTH = 480, CHAR = 7.3;
  const COLOURS = {tcp: "#7f7f7f", http: "#1f77b4", websocket: "#2ca02c", engineio: "#ff7f0e", socketio: "#d62728"};
  let offset = 0;
  let shown = null;  // the data drawn, drawn again when the box changes width

  function layers() {
    return Array.from(document.querySelectorAll(".layer-toggle")).filter((x) => x.checked).map((x) => x.value);
  }

  function clip(text, n) {
    text = String(text);
    return text.length > n ? text.slice(0, n - 1) + "\u2026" : text;
  }

  /* Drawn as wide as its box: both lifelines in view at any window width (the viewBox scales
     it with the window until the next draw). */
  function draw(data) {
    shown = data;
    const items = data.items;
    const width = Math.max(MIN_WIDTH, Math.floor(box.clientWidth));
    const height = TOP + ROW * items.length + 30;
    const clientX = LEFT + 40, serverX = width - 60;
    const chars = Math.max(16, Math.floor((serverX - clientX - 16) / CHAR));
    const root = ss.svg("svg", {viewBox: "0 0 " + width + " " + height, width: "100%",
                                preserveAspectRatio: "xMinYMin meet", "class": "seq-svg", role: "img"});
    root.appendChild(ss.svg("title", null, data.title));
    const defs = ss.svg("defs");
    for (const [layer, colour] of Object.entries(COLOURS)) {
      const m = ss.svg("marker", {id: "arrow-" + layer, viewBox: "0 0 10 10", refX: 10, refY: 5,
                                  markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse"});
      m.appendChild(ss.svg("path", {d: "M 0 0 L 10 5 L 0 10 z", fill: colour}));
      defs.appendChild(m);
    }
    root.appendChild(defs);
    root.appendChild(ss.svg("text", {x: clientX, y: 20, "class": "seq-head", "text-anchor": "middle"}, "client"));
    root.appendChild(ss.svg("text", {x: serverX, y: 20, "class": "seq-head", "text-anchor": "middle"}, "server"));
    root.appendChild(ss.svg("text", {x: clientX, y: 38, "class": "seq-sub", "text-anchor": "middle"}, data.client || ""));
    root.appendChild(ss.svg("text", {x: serverX, y: 38, "class": "seq-sub", "text-anchor": "middle"}, data.server || ""));
    root.appendChild(ss.svg("line", {x1: clientX, y1: TOP - 8, x2: clientX, y2: height - 10, "class": "seq-life"}));
    root.appendChild(ss.svg("line", {x1: serverX, y1: TOP - 8, x2: serverX, y2: height - 10, "class": "seq-life"}));
    items.forEach((it, i) => {
      const y = TOP + ROW * i + 16;
      const c2s = it.direction !== "s2c";
      const colour = COLOURS[it.layer] || "#000";
      /* an HTTP/2 RST_STREAM or GOAWAY mark (webui/h2view.py) is no row: no link, a dashed arrow */
      const link = it.mark ? ss.svg("g", {"class": "seq-arrow seq-h2-mark layer-" + it.layer})
                           : ss.svg("a", {href: ss.detailUrl(box.dataset.detail, it.id), "class": "seq-arrow layer-" + it.layer});
      if (it.mark) link.setAttribute("data-mark", it.mark); else link.setAttribute("data-row", it.id);
      link.appendChild(ss.svg("title", null,
        (it.mark ? "packet " + it.frame : "#" + it.id) + " " + it.layer + " " + it.type + " (" + (it.direction || "?") + ")\n" + (it.label || it.summary)));
      link.appendChild(ss.svg("text", {x: LEFT - 8, y: y + 4, "class": "seq-time", "text-anchor": "end"},
        "+" + Number(it.t).toFixed(6)));
      link.appendChild(ss.svg("line", {x1: c2s ? clientX : serverX, y1: y, x2: c2s ? serverX : clientX, y2: y,
        stroke: colour, "stroke-width": 1.6, "marker-end": "url(#arrow-" + it.layer + ")",
        "stroke-dasharray": it.mark ? "5 3" : "none"}));
      let label = it.label || it.summary;  /* HTTP/2: "stream 3 GET /path", "stream 3 200 (1.2 kB)" */
      if (it.layer === "websocket") label = it.type + ": " + label;
      if (it.layer === "socketio" || it.layer === "engineio") label = (it.layer === "socketio" ? "SIO " : "EIO ") + label;
      if (it.connection !== null && data.session !== undefined) label = "[#" + it.connection + "] " + label;
      link.appendChild(ss.svg("text", {x: (clientX + serverX) / 2, y: y - 4, "class": "seq-label",
        "text-anchor": "middle", fill: colour}, clip(label, chars)));
      root.appendChild(link);
    });
    box.replaceChildren(root);
  }

  async function load() {
    const [kind, ident] = (pick && pick.value ? pick.value : ":").split(":");
    if (!kind) return;
    const q = new URLSearchParams({layers: layers().join(","), offset: offset, limit: PAGE});
    q.set(kind, ident);
    try {
      const data = await ss.getJSON(box.dataset.api + "?" + q.toString());
      if (kind === "session") data.session = Number(ident);
      draw(data);
      const end = Math.min(data.offset + data.items.length, data.total);
      status.textContent = data.total ? (data.title + ": records " + (data.offset + 1) + "\u2013" + end + " of " + data.total)
                                      : data.title + ": nothing on the chosen layers";
      prev.disabled = data.offset === 0;
      next.disabled = end >= data.total;
      box.setAttribute("data-ready", "1");
    } catch (err) {
      ss.showError(box, err);
    }
  }

  function titlePick() {
    if (pick && pick.selectedIndex >= 0) pick.title = pick.options[pick.selectedIndex].text;
  }

  let resizing = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => { if (shown) draw(shown); }, 150);
  });
  if (pick) pick.addEventListener("change", () => { offset = 0; titlePick(); load(); });
  titlePick();
  for (const t of document.querySelectorAll(".layer-toggle")) t.addEventListener("change", () => { offset = 0; load(); });
  prev.addEventListener("click", () => { offset = Math.max(0, offset - PAGE); load(); });
  next.addEventListener("click", () => { offset += PAGE; load(); });
  load();
})();
