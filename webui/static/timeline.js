/* The timeline: plotly scatter, one lane per connection / Engine.IO session.
   Zooming re-fetches the visible time range (binned when it holds many records);
   a click on a marker opens its detail, on a bin zooms into it. */
"use strict";

(function () {
  const div = document.getElementById("timeline");
  if (!div) return;
  const base = div.dataset.figure;
  const config = {responsive: true, displaylogo: false, displayModeBar: "hover", scrollZoom: true};
  let busy = false;
  let fullRange = null;

  function urlFor(range) {
    if (!range) return base;
    const q = new URLSearchParams({t0: range[0], t1: range[1]});
    return base + "?" + q.toString();
  }

  async function load(range) {
    busy = true;
    try {
      const fig = await ss.getJSON(urlFor(range));
      if (range) fig.layout.xaxis.range = range;
      await Plotly.react(div, fig.data, fig.layout, config);
      div.setAttribute("data-ready", "1");
      div.setAttribute("data-binned", fig.meta && fig.meta.binned ? "1" : "0");
      div.setAttribute("data-points", fig.meta ? fig.meta.points : 0);
    } catch (err) {
      ss.showError(div, err);
    } finally {
      busy = false;
    }
  }

  load(null).then(() => {
    div.on("plotly_click", (ev) => {
      const pt = ev && ev.points && ev.points[0];
      const c = pt && pt.customdata;
      if (!c) return;
      if (c.row !== undefined) {
        window.location.href = ss.detailUrl(div.dataset.detail, c.row);
      } else if (c.zoom) {
        load(c.zoom);
      } else if (c.frames && c.frames.length) {
        window.location.href = div.dataset.packets + "?frames=" + c.frames.map(Number).join(",");
      }
    });
    div.on("plotly_relayout", (ev) => {
      if (busy || !ev) return;
      if (ev["xaxis.autorange"]) {
        if (fullRange !== null) { fullRange = null; load(null); }
        return;
      }
      const whole = ev["xaxis.range"];
      const a = whole ? whole[0] : ev["xaxis.range[0]"];
      const b = whole ? whole[1] : ev["xaxis.range[1]"];
      if (a === undefined || b === undefined) return;
      if (div.getAttribute("data-binned") === "1" || fullRange !== null) {
        fullRange = [a, b];
        load([Number(a), Number(b)]);
      }
    });
  });
})();
