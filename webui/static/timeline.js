/* The timeline: WebGL traces (scattergl) of the lanes active in the visible window. Every zoom
   or pan asks the server again for that window (/api/captures/<id>/timeline?t0=&t1=), which
   answers with its lanes and at most a few thousand points (binned when the window holds more
   rows), so zooming never leaves an empty screen. The time axis sits on top of a plot sized to
   the window, the range slider below it; anomalies are shaded bands on their lanes.
   Timings (Performance API marks) are kept in window.ssTimeline for the browser test. */
"use strict";

(function () {
  const div = document.getElementById("timeline");
  if (!div) return;
  const api = div.dataset.api;
  const status = document.getElementById("timeline-status");
  const config = {responsive: true, displaylogo: false, displayModeBar: "hover", scrollZoom: true};
  const LANE_PX = 26;
  // since the navigation started: this script runs once plotly.js is parsed and run
  const stats = window.ssTimeline = {scriptStart: performance.now(), firstPaint: null, zooms: [], loads: 0, steps: []};
  let span = null;       // [0, duration] of the whole capture
  let shown = null;      // the window the plot shows now
  let pending = null;    // the window asked for while a load runs
  let loading = false;
  let timer = null;

  function plotHeight(lanes) {
    const room = Math.max(420, window.innerHeight - 260);
    return Math.min(room, Math.max(380, 170 + LANE_PX * lanes));
  }

  function layout(ans) {
    const n = Math.max(ans.lanes.length, 1);
    const height = plotHeight(n);
    const fit = Math.max(3, Math.floor((height - 170) / LANE_PX));
    return {
      margin: {l: 20, r: 20, t: 110, b: 30},
      font: {family: "system-ui, sans-serif", size: 12},
      paper_bgcolor: "#ffffff", plot_bgcolor: "#fafafa",
      hoverlabel: {align: "left"}, hovermode: "closest",
      height: height,
      showlegend: true,
      legend: {orientation: "h", x: 0, y: 1, yanchor: "top", yref: "container"},
      xaxis: {
        side: "top", ticksuffix: " s", zeroline: false,
        range: [ans.t0, ans.t1],
        rangeslider: {visible: true, range: ans.span, thickness: 0.08},
      },
      yaxis: {
        tickmode: "array", tickvals: ans.lanes.map((_, i) => i), ticktext: ans.lanes,
        range: [Math.min(n, fit) - 0.5, -0.5], zeroline: false, automargin: true, fixedrange: false,
      },
    };
  }

  async function load(range) {
    loading = true;
    const started = performance.now();
    const q = range ? "?" + new URLSearchParams({t0: range[0], t1: range[1]}).toString() : "";
    try {
      const ans = await ss.getJSON(api + q);
      const fetched = performance.now();
      span = ans.span;
      shown = [ans.t0, ans.t1];
      await Plotly.react(div, ans.traces, layout(ans), config);
      const took = performance.now() - started;
      stats.steps.push({fetch: fetched - started, draw: performance.now() - fetched});
      stats.loads += 1;
      if (stats.firstPaint === null) {
        stats.firstPaint = performance.now();  // since the navigation started
      } else {
        stats.zooms.push(took);
      }
      div.setAttribute("data-ready", "1");
      div.setAttribute("data-binned", ans.meta.binned ? "1" : "0");
      div.setAttribute("data-points", ans.meta.points);
      div.setAttribute("data-rows", ans.meta.rows);
      div.setAttribute("data-lanes", ans.lanes.join("\n"));
      div.setAttribute("data-window", shown.join(","));
      status.textContent = ans.meta.rows
        ? `${ans.meta.rows.toLocaleString()} records in ${ans.meta.lanes_active.toLocaleString()} lanes between ${ans.t0.toFixed(3)} s and ${ans.t1.toFixed(3)} s${ans.meta.binned ? " (binned)" : ""}.`
        : (ans.lanes.length ? "No record in this window: the connections and sessions open across it are shown; zoom out or pan for records."
          : "Nothing in this window: zoom out.");
    } catch (err) {
      ss.showError(div, err);
    } finally {
      loading = false;
    }
    if (pending) {
      const next = pending;
      pending = null;
      await load(next);
    }
  }

  function ask(range) {
    if (loading) { pending = range; return; }
    load(range);
  }

  function onRelayout(ev) {
    if (!ev) return;
    let range = null;
    if (ev["xaxis.autorange"]) {
      range = span;
    } else {
      const whole = ev["xaxis.range"];
      const a = whole ? whole[0] : ev["xaxis.range[0]"];
      const b = whole ? whole[1] : ev["xaxis.range[1]"];
      if (a === undefined || b === undefined) return;
      range = [Number(a), Number(b)];
    }
    if (shown && range && Math.abs(range[0] - shown[0]) < 1e-9 && Math.abs(range[1] - shown[1]) < 1e-9) return;
    clearTimeout(timer);
    timer = setTimeout(() => ask(range), 120);  // a drag of the slider: only where it stops
  }

  load(null).then(() => {
    div.on("plotly_click", (ev) => {
      const pt = ev && ev.points && ev.points[0];
      const c = pt && pt.customdata;
      if (!c) return;
      if (c.row !== undefined) {
        window.location.href = ss.detailUrl(div.dataset.detail, c.row);
      } else if (c.zoom) {
        ask(c.zoom);
      }
    });
    div.on("plotly_relayout", onRelayout);
  });
})();
