/* socketscope: the messages page's filter box. While a filter is typed it is checked by the JSON
   API (GET /api/filter?filter=..., `valid`): a filter that is not one shows the API's sentence and a caret
   under its column (as text, never HTML), and the box is marked invalid. The form itself is a
   plain GET form: the filter goes in the URL, so paging and detail links keep it. */
"use strict";

(function () {
  const box = document.getElementById("filter-box");
  const note = document.getElementById("filter-check");
  if (!box || !note) return;
  let timer = null;
  let asked = 0;

  async function check() {
    const text = box.value;  // as typed: the error's column counts from its first character
    const mine = ++asked;
    if (!text.trim()) {
      show(null);
      return;
    }
    try {
      const resp = await fetch("/api/filter?filter=" + encodeURIComponent(text),
        {headers: {"Accept": "application/json"}, credentials: "same-origin"});
      const body = await resp.json();
      if (mine !== asked) return;  // an older answer: the box has changed since
      show(resp.ok && body.valid === false ? body : null);
    } catch (e) {
      /* the check is a help only: the server says it again when the form is sent */
    }
  }

  function show(err) {
    if (!err) {
      box.removeAttribute("aria-invalid");
      note.replaceChildren();
      note.hidden = true;
      return;
    }
    box.setAttribute("aria-invalid", "true");
    const lines = [err.error || "not a filter"];
    if (typeof err.column === "number" && typeof err.filter === "string") {
      lines.push("  " + err.filter.slice(0, 200));
      lines.push("  " + " ".repeat(Math.max(0, Math.min(err.column, 201) - 1)) + "^");
    }
    const pre = document.createElement("pre");
    pre.textContent = lines.join("\n");
    note.replaceChildren(pre);
    note.hidden = false;
  }

  box.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  });
})();
