"""The timeline at any size, in headless Chromium: the first paint, zooms and a pan, timed with
the browser's Performance API (marks kept by static/timeline.js, a PerformanceObserver of
`longtask` entries installed before the page's scripts; what a long task is made of:
tests/browser/trace_timeline.py, a Chrome trace). The test asserts behaviour only (the
window's lanes change on zoom, no zoom leaves an empty plot); the times are recorded, not
asserted (house rule), printed and written to $SOCKETSCOPE_UI_TIMINGS when it names a file.

The bundled capture runs always. A big capture runs when $SOCKETSCOPE_UI_CAPTURE names one
(docs/benchmarks.md: `python benchmarks/generate.py --size-mb 80 -o /tmp/ui-big.pcap`, then
`--from /tmp/ui-big.pcap --scale 200` for 217,832 packets):

    SOCKETSCOPE_UI_CAPTURE=/tmp/ui-big-200mb.pcap SOCKETSCOPE_UI_TIMINGS=/tmp/ui.json \\
        SOCKETSCOPE_UI_RUNS=3 python -m pytest -q -s tests/browser/test_timeline_scale.py

$SOCKETSCOPE_UI_RUNS (default 1) opens the page that many times in fresh browsers against one
server (the capture is analysed once); each run records the load average before it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import CAPTURES, Served, console_errors, make_driver, quit_driver, wait_for

pytestmark = pytest.mark.browser

LONGTASKS = """
window.__longtasks = [];
try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longtasks.push([e.startTime, e.duration]);
  }).observe({type: 'longtask', buffered: true});
} catch (e) { window.__longtasks = null; }
"""

# Zoom (or pan) to [a, b] and resolve with the milliseconds until the plot shows that window.
ZOOM = """
const [a, b, done] = arguments;
const div = document.getElementById('timeline');
const before = window.ssTimeline.loads;
const t = performance.now();
const check = () => {
  if (window.ssTimeline.loads > before) {
    requestAnimationFrame(() => done(performance.now() - t));
  } else {
    setTimeout(check, 10);
  }
};
Plotly.relayout(div, {'xaxis.range': [a, b]}).then(check);
"""

STATE = """
const div = document.getElementById('timeline');
return {
  lanes: (div.getAttribute('data-lanes') || '').split('\\n').filter((x) => x),
  rows: Number(div.getAttribute('data-rows')),
  points: Number(div.getAttribute('data-points')),
  window: (div.getAttribute('data-window') || '').split(',').map(Number),
  first_paint: window.ssTimeline.firstPaint,
  canvases: div.querySelectorAll('canvas').length,
  // the range slider's preview: the SVG trace of rows per time bin drawn in the slider
  preview: Array.from(div.querySelectorAll('.rangeslider-rangeplot path.js-fill'))
    .map((p) => (p.getAttribute('d') || '').length),
};
"""

GL_RATIO = """
const c = document.querySelector('#timeline canvas.gl-canvas-context');
return [c.width / c.clientWidth, window.devicePixelRatio];
"""


def _captures() -> list[str]:
    out = [str(CAPTURES / "sio-node-v4-default.pcap")]
    big = os.environ.get("SOCKETSCOPE_UI_CAPTURE")
    if big:
        out.append(big)
    return out


@pytest.fixture(params=_captures(), ids=lambda p: Path(p).name)
def timeline_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    from webui import create_app

    app = create_app(
        captures=[request.param],
        folders=[],
        upload_dir=str(tmp_path_factory.mktemp("uploads-scale")),
        config={"ANALYSIS_WAIT": 1},
    )
    s = Served(app)
    try:
        cid = s.capture_id(Path(request.param).name)
        deadline = time.monotonic() + 1800  # a 200 MB capture is analysed in well under that
        with app.test_client() as c:
            while c.get(f"/api/captures/{cid}/timeline").status_code == 202:
                assert time.monotonic() < deadline, "the analysis did not finish"
                time.sleep(1)
        yield s
    finally:
        s.stop()


def _loadavg() -> float | None:
    try:
        with open("/proc/loadavg", encoding="ascii") as fh:
            return float(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def test_timeline_first_paint_and_zooms(timeline_server: Served) -> None:
    s = timeline_server
    name = s.app.extensions["socketscope.store"].entries()[0].name
    cid = s.capture_id(name)
    with s.app.test_client() as c:  # the middle record: the zooms centre on a busy time
        total = c.get(f"/api/captures/{cid}/messages?limit=1").get_json()["total"]
        mid = c.get(f"/api/captures/{cid}/messages?limit=1&offset={total // 2}").get_json()["items"][0]["t"]
        packets = c.get(f"/api/captures/{cid}/overview").get_json()["capture"]["packets"]
    runs = max(1, min(int(os.environ.get("SOCKETSCOPE_UI_RUNS") or 1), 10))
    for run in range(runs):
        load = _loadavg()
        timings: dict[str, Any] = {"capture": name, "packets": packets, "run": run + 1, "loadavg": load}
        timings.update(_measure(s, cid, mid))
        print("\ntimeline timings:", json.dumps(timings))
        out = os.environ.get("SOCKETSCOPE_UI_TIMINGS")
        if out:
            with open(out, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(timings) + "\n")


def _measure(s: Served, cid: str, mid: float) -> dict[str, Any]:
    """One visit in a fresh browser: behaviour asserted, times returned."""
    driver = make_driver(1400, 1000)
    try:
        console_errors(driver)
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": LONGTASKS})
        driver.get(f"{s.url}/c/{cid}/timeline")
        wait_for(
            driver, lambda d: d.execute_script("return !!(window.ssTimeline && window.ssTimeline.loads)")
        )
        first: dict[str, Any] = driver.execute_script(STATE)
        assert first["rows"] > 0 and first["points"] > 0 and first["lanes"] and first["canvases"]
        assert first["preview"] and max(first["preview"]) > 20, first["preview"]  # the slider's preview
        # the WebGL canvases at the screen's pixel ratio (plotly's default, 2, is 4 times the pixels
        # that Chromium's CPU renderer fills and reads back at each draw on a ratio-1 screen)
        ratio, dpr = driver.execute_script(GL_RATIO)
        assert abs(ratio - min(2.0, max(1.0, dpr))) < 0.01, (ratio, dpr)
        t0, t1 = first["window"]
        span = t1 - t0
        windows = [
            (mid - span / 20, mid + span / 20),  # 1/10
            (mid - span / 200, mid + span / 200),  # 1/100
            (mid - span / 300, mid + span / 600),  # a pan
            (t0 + span / 4, t0 + span / 2),  # out again
        ]
        zooms = []
        states = [first]
        for a, b in windows:
            ms = driver.execute_async_script(ZOOM, a, b)
            st = driver.execute_script(STATE)
            assert st["lanes"], (a, b, st)  # never an empty screen
            assert st["rows"] > 0 and st["points"] > 0, (a, b, st)  # each window holds the middle record
            assert st["preview"] and max(st["preview"]) > 20, st["preview"]  # still there
            zooms.append(round(float(ms), 1))
            states.append(st)
        assert any(st["lanes"] != first["lanes"] for st in states[1:])  # lanes follow the window
        assert not console_errors(driver)
        long = driver.execute_script("return window.__longtasks")
        assert long is not None, "this Chromium has no longtask entries"
        marks = driver.execute_script("return window.ssTimeline")
        return {
            "rows_whole": first["rows"],
            "lanes_whole": len(first["lanes"]),
            "points_whole": first["points"],
            "frame_paint_ms": round(float(marks["framePaint"]), 1),
            "first_paint_ms": round(float(first["first_paint"]), 1),
            "plotly_ready_ms": round(float(marks["plotlyReady"]), 1),
            # the first load's steps, each its own task (static/timeline.js, firstLoad)
            "first_load_steps_ms": {k: marks.get(k) for k in ("frame", "contexts", "warm", "glSetup")},
            "fetch_draw_ms": [[round(x["fetch"], 1), round(x["draw"], 1)] for x in marks["steps"]],
            "zoom_ms": zooms,
            "rows_per_zoom": [st["rows"] for st in states[1:]],
            "lanes_per_zoom": [len(st["lanes"]) for st in states[1:]],
            "longtasks_over_200ms": [round(d, 1) for _, d in long if d > 200],
            "longtasks_over_200ms_at_ms": [round(t) for t, d in long if d > 200],
            "longest_task_ms": round(max((d for _, d in long), default=0.0), 1),
        }
    finally:
        quit_driver(driver)
