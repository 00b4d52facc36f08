"""Pointing at a point of a WebGL (scattergl) trace as a person would: the points are drawn on a
canvas, so the test finds the point's pixel from the plot's axes and moves the real mouse there."""

from __future__ import annotations

from typing import Any

# [x, y] in the viewport of point p of trace c of the plot `id` (scrolled into view first)
POINT_XY = """
const [id, c, p] = arguments;
const gd = document.getElementById(id);
gd.scrollIntoView({block: 'center'});
const fl = gd._fullLayout, xa = fl.xaxis, ya = fl.yaxis, tr = gd.data[c];
const box = gd.getBoundingClientRect();
return [box.left + xa._offset + xa.l2p(tr.x[p]), box.top + ya._offset + ya.l2p(tr.y[p])];
"""

# [c, p] of the first point whose hover text holds the needle (and passes the trace test)
FIND = """
const [id, needle, prefix] = arguments;
const gd = document.getElementById(id);
const ya = gd._fullLayout.yaxis;
const [y0, y1] = ya.range;
for (let c = gd.data.length - 1; c >= 0; c--) {
  const t = gd.data[c];
  if (t.mode !== 'markers' || !(t.name || '').startsWith(prefix)) continue;
  const texts = t.text || [];
  for (let p = 0; p < texts.length; p++) {
    const y = t.y[p];
    if (y < Math.min(y0, y1) || y > Math.max(y0, y1)) continue;
    if (texts[p] && texts[p].includes(needle)) return [c, p];
  }
}
return null;
"""

HOVER_LABEL = """
const [id] = arguments;
const h = document.querySelector('#' + id + ' .hoverlayer .hovertext');
return h ? h.textContent : null;
"""


def find_point(driver: Any, plot: str, needle: str = "", trace_prefix: str = "") -> tuple[int, int] | None:
    got = driver.execute_script(FIND, plot, needle, trace_prefix)
    return (int(got[0]), int(got[1])) if got else None


def move_to_point(driver: Any, plot: str, c: int, p: int, click: bool = False) -> None:
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    x, y = driver.execute_script(POINT_XY, plot, c, p)
    ab = ActionBuilder(driver)
    ab.pointer_action.move_to_location(round(x), round(y))
    ab.pointer_action.pause(0.3)
    if click:
        ab.pointer_action.click()
    ab.perform()


def hover_text(driver: Any, plot: str, needle: str, trace_prefix: str = "") -> str | None:
    """The hover label plotly shows with the mouse on the first point whose text has `needle`."""
    from tests.browser.conftest import wait_for

    found = find_point(driver, plot, needle, trace_prefix)
    assert found is not None, f"no point with {needle!r}"
    move_to_point(driver, plot, *found)
    return str(wait_for(driver, lambda d: d.execute_script(HOVER_LABEL, plot)))
