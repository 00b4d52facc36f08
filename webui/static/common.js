/* socketscope: helpers shared by the pages. Captured strings go into the DOM through
   textContent only; nothing is ever parsed as HTML. */
"use strict";

window.ss = (function () {
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v !== null && v !== undefined) node.setAttribute(k, String(v));
      }
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v !== null && v !== undefined) node.setAttribute(k, String(v));
      }
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  async function getJSON(url) {
    const resp = await fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"});
    if (resp.status === 202) {
      await new Promise((r) => setTimeout(r, 500));
      return getJSON(url);
    }
    if (!resp.ok) {
      let msg = resp.status + " " + resp.statusText;
      try { msg = (await resp.json()).error || msg; } catch (e) { /* not JSON */ }
      throw new Error(msg);
    }
    return resp.json();
  }

  /* The detail URL of row `id`, from a template URL that ends in /0. */
  function detailUrl(template, id) {
    return template.replace(/\/0$/, "/" + encodeURIComponent(String(id)));
  }

  function showError(container, err) {
    container.replaceChildren(el("p", {"class": "error-text"}, "Could not load: " + err.message));
  }

  return {el, svg, getJSON, detailUrl, showError};
})();
