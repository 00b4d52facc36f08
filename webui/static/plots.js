/* Renders every <div class="plot" data-figure="URL"> with plotly. */
"use strict";

(function () {
  const config = {responsive: true, displaylogo: false, modeBarButtonsToRemove: ["sendDataToCloud"]};
  for (const div of document.querySelectorAll("div.plot[data-figure]")) {
    ss.getJSON(div.dataset.figure)
      .then((fig) => Plotly.newPlot(div, fig.data, fig.layout, config))
      .then(() => div.setAttribute("data-ready", "1"))
      .catch((err) => ss.showError(div, err));
  }
})();
