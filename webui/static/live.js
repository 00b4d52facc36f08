/* The live page: start / stop a capture, follow its events (server-sent events), grow the
   message table and the timeline. Captured strings go into the DOM through textContent
   only, and are HTML-escaped before plotly sees them (its hover text understands tags). */
"use strict";

(function () {
  const form = document.getElementById("live-form");
  if (!form) return;
  const startBtn = document.getElementById("live-start");
  const stopBtn = document.getElementById("live-stop");
  const errorP = document.getElementById("live-error");
  const resultP = document.getElementById("live-result");
  const statusBox = document.getElementById("live-status");
  const tbody = document.querySelector("#live-messages tbody");
  const rowCount = document.getElementById("live-count-rows");
  const plot = document.getElementById("live-timeline");
  const csrf = form.querySelector("input[name=csrf_token]").value;

  const MAX_ROWS = 1000;
  const MAX_POINTS = 5000;
  const LAYERS = [
    ["tcp", "TCP"], ["http", "HTTP"], ["websocket", "WebSocket"],
    ["engineio", "Engine.IO"], ["socketio", "Socket.IO"], ["anomaly", "anomaly"],
  ];
  const LAYER_OF = {
    tcp_open: "tcp", tcp_close: "tcp", http: "http", ws_upgrade: "websocket", ws_message: "websocket",
    eio_packet: "engineio", sio_packet: "socketio", anomaly: "anomaly",
  };
  const COLORS = ["#7f7f7f", "#1f77b4", "#2ca02c", "#ff7f0e", "#d62728", "#e31a1c"];

  let source = null;
  let t0 = null;
  let rows = 0;
  let removed = 0;
  let pending = LAYERS.map(() => ({x: [], y: [], text: []}));
  let plotted = false;
  let lastId = 0;

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
  }

  function setText(id, value) {
    const node = document.getElementById(id);
    if (node) node.textContent = String(value);
  }

  function setRunning(running) {
    startBtn.disabled = running;
    stopBtn.disabled = !running;
    for (const input of form.querySelectorAll("select, input[type=search]")) input.disabled = running;
  }

  function showStatus(st) {
    statusBox.setAttribute("data-state", st.state);
    setText("st-state", st.state);
    setText("st-packets", (st.packets || 0).toLocaleString());
    setText("st-bytes", (st.bytes || 0).toLocaleString());
    setText("st-drops", st.kernel_dropped === null || st.kernel_dropped === undefined ? "–" : st.kernel_dropped);
    setText("st-elapsed", Number(st.elapsed || 0).toFixed(1));
    setText("st-events", (st.events || 0).toLocaleString());
    if (st.error) errorP.textContent = st.error;
    const running = st.state === "running" || st.state === "starting" || st.state === "stopping";
    setRunning(running);
    if (st.state === "done" || st.state === "error") showResult(st);
  }

  function showResult(st) {
    resultP.replaceChildren();
    const parts = [];
    if (st.note) parts.push(st.note + ". ");
    resultP.append(ss.el("span", null, parts.join("")));
    if (st.overview) {
      resultP.append(ss.el("span", null, "Kept as a capture: "));
      resultP.append(ss.el("a", {href: st.overview, id: "live-overview"}, "open its overview"));
      resultP.append(ss.el("span", null, " (also in the Captures list)."));
    } else if (st.state === "error") {
      resultP.append(ss.el("span", null, "Nothing was kept."));
    }
  }

  function addRow(ev) {
    const layer = LAYER_OF[ev.type];
    if (!layer) return;
    if (t0 === null && typeof ev.ts === "number") t0 = ev.ts;
    const t = typeof ev.ts === "number" && t0 !== null ? ev.ts - t0 : null;
    const tr = ss.el("tr", {"class": "layer-" + layer + (ev.severity ? " sev-" + ev.severity : ""), "data-type": ev.type});
    tr.append(
      ss.el("td", {"class": "num"}, t === null ? "" : t.toFixed(6)),
      ss.el("td", {"class": "num"}, ev.connection === null || ev.connection === undefined ? "" : "#" + ev.connection),
      ss.el("td", {"class": "dir"}, ev.direction === "c2s" ? "▶" : ev.direction === "s2c" ? "◀" : ""),
      ss.el("td", null, layer),
      ss.el("td", null, ev.packet || ev.opcode || ev.code || ev.type),
      ss.el("td", {"class": "summary", title: ev.text || ""}, ev.text || ""),
      ss.el("td", {"class": "num"}, typeof ev.latency_ms === "number" ? ev.latency_ms.toFixed(3) : ""),
    );
    tbody.append(tr);
    rows += 1;
    while (tbody.childElementCount > MAX_ROWS) {
      tbody.firstElementChild.remove();
      removed += 1;
    }
    if (t !== null) {
      const i = LAYERS.findIndex((l) => l[0] === layer);
      pending[i].x.push(t);
      pending[i].y.push(LAYERS[i][1]);
      pending[i].text.push(escapeHtml(ev.text || ev.type));
    }
  }

  function flushPlot() {
    if (typeof Plotly === "undefined") return;
    const idx = [];
    const upd = {x: [], y: [], text: []};
    pending.forEach((p, i) => {
      if (p.x.length) { idx.push(i); upd.x.push(p.x); upd.y.push(p.y); upd.text.push(p.text); }
    });
    if (!plotted) {
      const data = LAYERS.map((l, i) => ({
        type: "scatter", mode: "markers", name: l[1], x: pending[i].x, y: pending[i].y, text: pending[i].text,
        hoverinfo: "text+x", marker: {color: COLORS[i], size: 7, symbol: l[0] === "anomaly" ? "x" : "circle"},
      }));
      const layout = {
        margin: {l: 90, r: 20, t: 10, b: 40}, height: 320, showlegend: false,
        xaxis: {title: {text: "seconds since the first event"}, zeroline: false},
        yaxis: {type: "category", categoryorder: "array", categoryarray: LAYERS.map((l) => l[1])},
      };
      Plotly.newPlot(plot, data, layout, {responsive: true, displaylogo: false});
      plotted = true;
      plot.setAttribute("data-ready", "1");
    } else if (idx.length) {
      Plotly.extendTraces(plot, upd, idx, MAX_POINTS);
    }
    pending = LAYERS.map(() => ({x: [], y: [], text: []}));
    plot.setAttribute("data-points", String(rows));
  }

  function onBatch(msg) {
    const data = JSON.parse(msg.data);
    for (const ev of data.events || []) addRow(ev);
    setText("st-missed", (Number(getMissed()) + (data.missed || 0)).toLocaleString());
    rowCount.textContent = rows.toLocaleString() + " rows" + (removed ? " (the oldest " + removed.toLocaleString() + " no longer shown)" : "");
    if (msg.lastEventId) lastId = Number(msg.lastEventId) || lastId;
  }

  function getMissed() {
    return (document.getElementById("st-missed").textContent || "0").replace(/\D/g, "") || "0";
  }

  function follow() {
    if (source) source.close();
    const url = form.dataset.events + (lastId ? "?after=" + encodeURIComponent(String(lastId)) : "");
    source = new EventSource(url);
    source.addEventListener("batch", onBatch);
    source.addEventListener("status", (msg) => showStatus(JSON.parse(msg.data)));
    source.addEventListener("done", (msg) => {
      showStatus(JSON.parse(msg.data));
      source.close();
      source = null;
      flushPlot();
    });
  }

  async function post(url, body) {
    const resp = await fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: {"X-CSRF-Token": csrf, "Accept": "application/json"},
    });
    let data = {};
    try { data = await resp.json(); } catch (e) { data = {error: resp.status + " " + resp.statusText}; }
    if (!resp.ok) throw new Error(data.error || resp.status + " " + resp.statusText);
    return data;
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    errorP.textContent = "";
    resultP.replaceChildren();
    tbody.replaceChildren();
    rows = 0; removed = 0; t0 = null; lastId = 0;
    setText("st-missed", "0");
    if (plotted) { Plotly.purge(plot); plotted = false; }
    pending = LAYERS.map(() => ({x: [], y: [], text: []}));
    const body = new FormData(form);
    setRunning(true);
    try {
      showStatus(await post(form.dataset.start, body));
      flushPlot();
      follow();
    } catch (err) {
      errorP.textContent = err.message;
      setRunning(false);
    }
  });

  stopBtn.addEventListener("click", async () => {
    stopBtn.disabled = true;
    try {
      showStatus(await post(form.dataset.stop, new FormData()));
    } catch (err) {
      errorP.textContent = err.message;
    }
  });

  setInterval(flushPlot, 500);
  const initial = statusBox.getAttribute("data-state");
  if (initial === "running" || initial === "starting" || initial === "stopping") {
    setRunning(true);
    flushPlot();
    follow();
  } else if (initial === "done" || initial === "error") {
    ss.getJSON(form.dataset.status).then(showStatus).catch(() => {});
  }
})();
