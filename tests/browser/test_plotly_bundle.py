"""The partial plotly.js bundle (webui/plotlyjs/, scripts/build_plotly_bundle.sh) has every trace
type the pages draw: plotly.js does not fail on a type it lacks (it drops the trace with a log
line), so the types are checked against the bundle's registered ones, in a real Chromium. The
types: those of every figure and timeline answer of the bundled captures, and every trace type
written in webui's Python and JavaScript sources (the dataset and live pages build theirs)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import ROOT, Served, console_errors, open_page, wait_plots

pytestmark = pytest.mark.browser

AXIS_TYPES = {"-", "linear", "log", "date", "category", "multicategory"}
FIGURES = ["figures/osi", "figures/timeline", "timeline"] + [
    f"figures/latency-{k}" for k in ("tcp_handshake", "upgrades", "ws_ping", "heartbeat", "acks")
]


def _types(fig: Any) -> set[str]:
    traces = fig.get("data") or fig.get("traces") or []
    return {str(t.get("type") or "scatter") for t in traces}


def _source_types() -> set[str]:
    found: set[str] = set()
    for path in [*(ROOT / "webui").glob("*.py"), *(ROOT / "webui" / "static").glob("*.js")]:
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r"""["']?type["']?\s*:\s*["']([a-z0-9]+)["']""", text))
    return found - AXIS_TYPES


def test_every_trace_type_drawn_is_in_the_bundle(driver: Any, served: Served) -> None:
    wanted = _source_types()
    assert {"scattergl", "scatter", "bar"} <= wanted  # the scan finds them
    with served.app.test_client() as c:
        for entry in served.app.extensions["socketscope.store"].entries():
            cid = served.capture_id(entry.name)
            for name in FIGURES:
                r = c.get(f"/api/captures/{cid}/{name}")
                if r.status_code == 200:
                    wanted |= _types(r.get_json())
    console_errors(driver)
    cid = served.capture_id("sio-python-polling-upgrade.pcap")
    open_page(driver, f"{served.url}/c/{cid}/latency")
    wait_plots(driver)
    registered = set(driver.execute_script("return Object.keys(Plotly.PlotSchema.get().traces)"))
    assert wanted <= registered, wanted - registered
    assert "scatter3d" not in registered  # the partial bundle, not the full one
    drawn = driver.execute_script(
        "return Array.from(document.querySelectorAll('.js-plotly-plot'))"
        ".flatMap((d) => d._fullData.map((t) => [t.type, t.visible]))"
    )
    assert drawn and all(v is not False for _, v in drawn), drawn
    assert not console_errors(driver)
