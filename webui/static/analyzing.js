/* Polls the analysis status and reloads the page when it is done. */
"use strict";

(function () {
  const id = document.body.dataset.capture;
  const bar = document.getElementById("progress");
  const text = document.getElementById("progress-text");
  async function poll() {
    try {
      const st = await ss.getJSON("/api/captures/" + encodeURIComponent(id) + "/status");
      if (bar) { bar.max = st.size || 1; bar.value = st.bytes_read; }
      if (text) text.textContent = st.packets.toLocaleString() + " packets";
      if (st.state !== "running") { window.location.reload(); return; }
    } catch (e) { /* try again */ }
    setTimeout(poll, 700);
  }
  setTimeout(poll, 500);
})();
