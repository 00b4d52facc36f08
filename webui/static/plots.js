/* Renders every <div class="plot" data-figure="URL"> with plotly. */
"use strict";

(function () {
  // the mode bar shows while the pointer is over a plot only: it covered titles and legends
  const config = {responsive: true, displaylogo: false, displayModeBar: "hover", modeBarButtonsToRemove: ["sendDataToCloud"]};
  for (const div of document.querySelectorAll("div.plot[data-figure]")) {
    ss.getJSON(div.dataset.figure)
      .then((fig) => Plotly.newPlot(div, fig.data, fig.layout, config))
      .then(() => div.setAttribute("data-ready", "1"))
      .catch((err) => ss.showError(div, err));
  }
})();
