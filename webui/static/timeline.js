/* The timeline: WebGL traces (scattergl) of the lanes active in the visible window. Every zoom
   or pan asks the server again for that window (/api/captures/<id>/timeline?t0=&t1=), which
   answers with its lanes and at most a few thousand points (binned when the window holds more
   rows), so zooming never leaves an empty screen. The time axis sits on top of a plot sized to
   the window, the range slider below it with a preview (rows per time bin of the whole capture,
   a light SVG trace: plotly draws no WebGL trace in a range slider); anomalies are shaded bands
   on their lanes.
   The main thread is kept free in short tasks (issue #18: none over 200 ms): this script runs
   before plotly.js (both deferred) and asks for the first answer at once, so the server works
   while plotly.js is parsed; the first answer is drawn in steps, each its own task (firstLoad):
   the frame (axes, lanes' labels, range slider), the WebGL contexts, a warm-up of the WebGL
   code on a hidden plot, regl's set-up, the points. docs/benchmarks.md has the trace that
   shows why (the GPU process's work waited for in one task, then plotly's and regl's JS).
   Timings (Performance API marks) are kept in window.ssTimeline for the browser test. */
(function () {
  const div = document.getElementById("timeline");
  if (!div) return;
  const api = div.dataset.api;
  const status = document.getElementById("timeline-status");
  // plotGlPixelRatio: the WebGL canvases at the screen's pixel ratio, not plotly's default of 2
  // (4 times the pixels on a common screen, which a CPU renderer fills and reads back at every draw)
  const config = {
    responsive: true, displaylogo: false, displayModeBar: "hover", scrollZoom: true,
    plotGlPixelRatio: Math.min(2, Math.max(1, window.devicePixelRatio || 1)),
  };
  const LANE_PX = 26;
  // since the navigation started: this script runs once plotly.js is parsed and run
  const stats = window.ssTimeline = {
    scriptStart: performance.now(), plotlyReady: null, framePaint: null, glReady: null, firstPaint: null, zooms: [], loads: 0, steps: [], frame: [], contexts: [], warm: [], glSetup: [],
  };
  // asked for now: the server answers while plotly.js (the next deferred script) is parsed and run
  const firstAnswer = ss.getJSON(api);
  firstAnswer.catch(() => null);  // handled where it is awaited
  const plotlyLoaded = new Promise((resolve) => {
    if (window.Plotly) resolve();
    // deferred scripts run before DOMContentLoaded (readyState is "interactive" already)
    document.addEventListener("DOMContentLoaded", () => resolve(), {once: true});
    window.addEventListener("load", () => resolve(), {once: true});
  });
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
      // the preview's axis: a hairline at the foot of the plot, the full height of the slider
      yaxis2: {domain: [0, 0.0005], visible: false, fixedrange: true, rangemode: "tozero"},
    };
  }

  // The range slider's preview: rows per time bin of the whole capture, on yaxis2.
  function preview(ans) {
    const d = ans.density || {x: [], y: []};
    return {
      type: "scatter", mode: "lines", x: d.x, y: d.y, yaxis: "y2", name: "rows per time bin",
      line: {color: "#7a8599", width: 1, shape: "hvh"}, fill: "tozeroy", fillcolor: "rgba(122,133,153,0.35)",
      hoverinfo: "skip", showlegend: false,
    };
  }

  // a trace with its first two points only (markers' sizes likewise)
  function headOf(tr) {
    const out = {...tr};
    for (const k of ["x", "y", "text", "customdata"]) {
      if (Array.isArray(tr[k])) out[k] = tr[k].slice(0, 2);
    }
    if (tr.marker && Array.isArray(tr.marker.size)) out.marker = {...tr.marker, size: tr.marker.size.slice(0, 2)};
    return out;
  }

  // the next task, after the browser had a chance to paint
  function nextTask() {
    return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  }

  // The kinds of WebGL trace an answer holds: markers of each symbol, lines.
  function glKinds(traces) {
    const kinds = new Map();
    for (const tr of traces) {
      const key = tr.mode === "lines" ? "lines" : "markers " + ((tr.marker && tr.marker.symbol) || "circle");
      if (!kinds.has(key)) kinds.set(key, tr);
    }
    return [...kinds.values()];
  }

  // A WebGL trace with no point, hidden: with it plotly makes its WebGL canvases (empty, no
  // context yet) while it draws the SVG frame, and keeps them through answers with no trace.
  const GL_PLACEHOLDER = {
    type: "scattergl", mode: "markers", name: "(WebGL canvases)", x: [], y: [], visible: "legendonly", showlegend: false,
    hoverinfo: "skip",
  };

  // The WebGL contexts of plotly's canvases in el, made in a task of their own: getContext
  // waits for the GPU process (a synchronous call); plotly's regl then finds them made
  // (getContext returns a canvas's context). The attributes are those plotly asks for.
  function makeContexts(el) {
    for (const c of el.querySelectorAll("canvas.gl-canvas")) {
      if (c.classList.contains("gl-canvas-pick")) continue;  // parcoords only
      c.getContext("webgl", {antialias: true, preserveDrawingBuffer: true});
    }
  }

  // The one-off JavaScript set-up of WebGL traces, on a hidden 40 px plot, one more kind of trace
  // per task: V8 compiles plotly's and regl's code for WebGL, plotly computes each marker
  // symbol's distance field once for the page, the GPU process caches the shader programs. The
  // real plot's own set-up is then short.
  async function warmUp(ans) {
    const kinds = glKinds(ans.traces);
    if (!kinds.length) return;
    const ghost = document.createElement("div");
    ghost.setAttribute("aria-hidden", "true");
    Object.assign(ghost.style, {position: "absolute", left: "-10000px", top: "0", width: "40px", height: "40px"});
    document.body.appendChild(ghost);
    const lay = {
      width: 40, height: 40, margin: {l: 0, r: 0, t: 0, b: 0}, showlegend: false,
      xaxis: {visible: false}, yaxis: {visible: false},
    };
    const cfg = {staticPlot: true, plotGlPixelRatio: config.plotGlPixelRatio};
    const shown = [GL_PLACEHOLDER];
    try {
      await step("warm", () => Plotly.react(ghost, shown.slice(), lay, cfg));
      await step("warm", () => makeContexts(ghost));
      for (const tr of kinds) {
        shown.push({...headOf(tr), hoverinfo: "skip"});
        await step("warm", () => Plotly.react(ghost, shown.slice(), lay, cfg));
      }
    } finally {
      Plotly.purge(ghost);
      ghost.remove();
    }
  }

  // The one-off JavaScript set-up of the frame (axes, lanes' labels, legend, range slider with
  // its preview), on a hidden plot of two lanes: V8 compiles plotly's code for them here, in a
  // task of its own, and the real frame's draw is then short.
  async function warmFrame(ans) {
    const ghost = document.createElement("div");
    ghost.setAttribute("aria-hidden", "true");
    Object.assign(ghost.style, {position: "absolute", left: "-10000px", top: "0", width: "300px", height: "200px"});
    document.body.appendChild(ghost);
    const mini = {...ans, lanes: ans.lanes.slice(0, 2), density: {x: [0, 1], y: [1, 1]}};
    try {
      await step("warm", () => Plotly.react(ghost, [preview(mini)], {...layout(mini), width: 300, height: 200}, config));
    } finally {
      Plotly.purge(ghost);
      ghost.remove();
    }
  }

  // one step of the first load, timed into stats[name], then the next task
  async function step(name, fn) {
    const t = performance.now();
    await fn();
    stats[name].push(Math.round(performance.now() - t));
    await nextTask();
  }

  async function firstLoad() {
    loading = true;
    const started = performance.now();
    try {
      const ans = await firstAnswer;
      const fetched = performance.now();
      await plotlyLoaded;
      stats.plotlyReady = performance.now();
      if (!window.Plotly) throw new Error("plotly.js did not load");
      await nextTask();  // plotly.js ran in the task that ends here: the frame in the next one
      span = ans.span;
      shown = [ans.t0, ans.t1];
      const lay = layout(ans);
      const points = [preview(ans), GL_PLACEHOLDER, ...ans.traces];
      // The first answer in short tasks: the frame (axis, lanes' labels, range slider: SVG, and
      // plotly's WebGL canvases, empty); the canvases' WebGL contexts; the warm-up on a hidden
      // plot; the real traces with two points each (regl's set-up); the points.
      await warmFrame(ans);
      await step("frame", async () => {
        await Plotly.react(div, [preview(ans), GL_PLACEHOLDER], lay, config);
        stats.framePaint = performance.now();
      });
      await step("contexts", () => makeContexts(div));
      await warmUp(ans);
      // regl's set-up of the real traces in two halves (each draw redraws the frame as well)
      const heads = ans.traces.map(headOf);
      const half = Math.ceil(heads.length / 2);
      if (heads.length > 8) await step("glSetup", () => Plotly.react(div, [preview(ans), GL_PLACEHOLDER, ...heads.slice(0, half)], lay, config));
      await step("glSetup", () => Plotly.react(div, [preview(ans), GL_PLACEHOLDER, ...heads], lay, config));
      stats.glReady = performance.now();
      const t = performance.now();
      await Plotly.react(div, points, lay, config);  // the WebGL traces
      stats.steps.push({fetch: fetched - started, draw: performance.now() - t});
      stats.loads += 1;
      stats.firstPaint = performance.now();  // since the navigation started
      shownAnswer(ans);
    } catch (err) {
      ss.showError(div, err);
      loading = false;
      return false;
    }
    loading = false;
    if (pending) {
      const next = pending;
      pending = null;
      await load(next);
    }
    return true;
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
      await Plotly.react(div, [preview(ans), GL_PLACEHOLDER, ...ans.traces], layout(ans), config);
      const took = performance.now() - started;
      stats.steps.push({fetch: fetched - started, draw: performance.now() - fetched});
      stats.loads += 1;
      stats.zooms.push(took);
      shownAnswer(ans);
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

  function shownAnswer(ans) {
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

  firstLoad().then((ok) => {
    if (!ok) return;
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
