"""Issue #18, the defects seen in the plots and the pages' frame, each checked in a real browser:
hover texts, the mode bar, the latency bars, empty views, long lists, page titles, the sequence
picker, plotly.min.js served compressed and cached, anomalies on the timeline."""

from __future__ import annotations

import re
import time
import urllib.request
from typing import Any

import pytest

from tests.browser.conftest import Served, console_errors, open_page, wait_for, wait_plots
from tests.browser.plotpoint import hover_text

pytestmark = pytest.mark.browser

REAL = "sio-python-polling-upgrade.pcap"
TABS = ["", "timeline", "sequence", "messages", "latency", "anomalies"]


@pytest.mark.parametrize("path", [*TABS, "messages/3", "packets?frames=1", "packets"])
def test_titles_name_the_product_once(driver: Any, served: Served, path: str) -> None:
    cid = served.capture_id(REAL)
    open_page(driver, f"{served.url}/c/{cid}/{path}")
    title = driver.title
    assert title.count("socketscope") == 1, title
    assert REAL in title
    open_page(driver, served.url + "/")
    assert driver.title.count("socketscope") == 1, driver.title


SELECT_FITS = """
const s = document.getElementById('seq-pick');
const probe = document.createElement('span');
probe.style.font = getComputedStyle(s).font;
probe.style.whiteSpace = 'pre';
probe.textContent = s.options[s.selectedIndex].text;
document.body.appendChild(probe);
const need = probe.getBoundingClientRect().width;
probe.remove();
return {need: need, have: s.clientWidth, title: s.title, text: s.options[s.selectedIndex].text};
"""


def test_sequence_picker_shows_the_whole_label(driver: Any, served: Served) -> None:
    from selenium.webdriver.support.ui import Select

    cid = served.capture_id(REAL)
    open_page(driver, f"{served.url}/c/{cid}/sequence")
    wait_plots(driver)
    for value in ("session:0", "connection:0"):
        Select(driver.find_element("id", "seq-pick")).select_by_value(value)
        got = driver.execute_script(SELECT_FITS)
        assert got["need"] + 24 <= got["have"], got  # the text and the arrow
        assert got["title"] == got["text"], got


def _hover_text(driver: Any, needle: str) -> str:
    """The timeline's hover label with the mouse on the first point whose text has `needle`."""
    return str(hover_text(driver, "timeline", needle))


def test_timeline_hover_shows_json_quotes_as_quotes(driver: Any, served: Served) -> None:
    cid = served.capture_id(REAL)
    open_page(driver, f"{served.url}/c/{cid}/timeline")
    wait_plots(driver)
    texts = driver.execute_script(
        "return document.getElementById('timeline').data.flatMap((t) => t.text || [])"
    )
    assert any('{"' in t for t in texts)
    assert not [t for t in texts if "&quot;" in t or "&#x27;" in t or "&#39;" in t]
    label = _hover_text(driver, '{"')
    assert '"' in label and "&quot;" not in label and "&amp;" not in label


def test_timeline_hover_keeps_hostile_payloads_inert(driver: Any, served: Served) -> None:
    console_errors(driver)
    cid = served.capture_id("xss-payloads.pcap")
    open_page(driver, f"{served.url}/c/{cid}/timeline")
    wait_plots(driver)
    label = _hover_text(driver, "&lt;script")
    assert "<script" in label  # shown as text
    found = driver.execute_script(
        "return document.querySelectorAll('#timeline script, #timeline img, #timeline iframe, "
        "#timeline .hoverlayer a, #timeline .hoverlayer b').length"
    )
    assert found == 0
    assert driver.execute_script("return window.__pwned === undefined")
    assert console_errors(driver) == []


MODEBAR_OPACITY = """
const [sel] = arguments;
return Array.from(document.querySelectorAll(sel + ' .modebar-group')).map((g) => getComputedStyle(g).opacity);
"""


@pytest.mark.parametrize(
    ("tab", "plot"), [("latency", "#latency-heartbeat"), ("timeline", "#timeline"), ("", "#osi-plot")]
)
def test_mode_bar_shows_on_hover_only(driver: Any, served: Served, tab: str, plot: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    cid = served.capture_id(REAL)
    open_page(driver, f"{served.url}/c/{cid}/{tab}")
    wait_plots(driver)
    ActionChains(driver).move_to_element(driver.find_element("css selector", "header.nav")).perform()
    time.sleep(0.6)  # the fade
    shown = driver.execute_script(MODEBAR_OPACITY, "main")
    assert shown and set(shown) == {"0"}, shown
    ActionChains(driver).move_to_element(driver.find_element("css selector", plot)).perform()
    wait_for(driver, lambda d: set(d.execute_script(MODEBAR_OPACITY, plot)) == {"1"})


def test_plotly_is_compressed_cached_and_hashed(driver: Any, served: Served) -> None:
    cid = served.capture_id(REAL)
    open_page(driver, f"{served.url}/c/{cid}/latency")
    wait_plots(driver)
    src = driver.execute_script("return document.querySelector('script[src*=plotly]').src")
    assert re.search(r"/vendor/plotly\.[0-9a-f]{12,}\.min\.js$", src), src
    sizes = driver.execute_script(
        "const e = performance.getEntriesByName(arguments[0])[0];"
        " return [e.encodedBodySize, e.decodedBodySize]",
        src,
    )
    assert 0 < sizes[0] < sizes[1] / 2, sizes
    req = urllib.request.Request(src, headers={"Accept-Encoding": "gzip", "Host": "127.0.0.1"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.headers["Content-Encoding"] == "gzip"
        assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert "Accept-Encoding" in resp.headers.get("Vary", "")
        gz = len(resp.read())
    with urllib.request.urlopen(urllib.request.Request(src, headers={"Accept-Encoding": "identity"})) as resp:
        assert resp.headers.get("Content-Encoding") in (None, "identity")
        assert len(resp.read()) == sizes[1] > gz


def test_anomaly_text_is_shown_as_written(driver: Any, served: Served, served_synthetic: Served) -> None:
    import json

    cid = served.capture_id("sio-python-polling-only.pcap")
    with served.app.test_client() as c:
        want = [a["message"] for a in c.get(f"/api/captures/{cid}/anomalies").get_json()["items"]]
    open_page(driver, f"{served.url}/c/{cid}/anomalies")
    shown = [e.text for e in driver.find_elements("css selector", "#anomalies td.message .text")]
    assert shown == want
    s = served_synthetic
    cid = s.capture_id("sio-python-websocket-only.pcap")
    with s.app.test_client() as c:
        items = c.get(f"/api/captures/{cid}/anomalies").get_json()["items"]
    as_dict = [a for a in items if isinstance(a["message"], dict)]
    assert as_dict  # tests/webui/synthetic.py has one
    open_page(driver, f"{s.url}/c/{cid}/anomalies")
    shown = [e.text for e in driver.find_elements("css selector", "#anomalies td.message .text")]
    assert json.dumps(as_dict[0]["message"], ensure_ascii=False, sort_keys=True) in shown
    assert not [t for t in shown if "{'" in t]


LANES = """
const gd = document.getElementById('timeline');
const y = gd.layout.yaxis;
const marks = gd.data.filter((t) => (t.name || '').startsWith('anomalies'))
  .flatMap((t) => t.y).filter((y) => y !== null);
return {marks: marks, vals: y.tickvals, labels: y.ticktext};
"""


@pytest.mark.parametrize(
    ("name", "lane"), [("sio-node-v4-default.pcap", "EIO #"), ("ws-node-ws.pcapng", "TCP #")]
)
def test_anomaly_marker_sits_on_its_lane(driver: Any, served: Served, name: str, lane: str) -> None:
    cid = served.capture_id(name)
    open_page(driver, f"{served.url}/c/{cid}/timeline")
    wait_plots(driver)
    got = driver.execute_script(LANES)
    assert got["marks"], got
    for y in got["marks"]:
        assert y in got["vals"], got  # on a lane, not between two
        assert got["labels"][got["vals"].index(y)].startswith(lane), got


TICKS = """
const [sel] = arguments;
const div = document.querySelector(sel);
const ticks = Array.from(div.querySelectorAll('.xtick text, .ytick text'));
const area = div.querySelector('.nsewdrag').getBoundingClientRect();
return {
  rotated: ticks.filter((t) => (t.getAttribute('transform') || '').includes('rotate'))
    .map((t) => t.textContent),
  smallest: Math.min(...ticks.map((t) => parseFloat(getComputedStyle(t).fontSize))),
  area: [area.width, area.height],
  ticks: ticks.length,
};
"""


@pytest.mark.parametrize("which", ["tcp_handshake", "upgrades"])
def test_latency_bars_have_readable_labels(
    driver: Any, served: Served, served_many: Served, which: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webui import latencies

    many = "sio-python-websocket-only.pcap"
    # 120 connections: a histogram; then a bar each (the server runs in this process); then 1 or 2
    for srv, name, bars in ((served_many, many, None), (served_many, many, 200), (served, REAL, None)):
        if bars:
            monkeypatch.setattr(latencies, "MAX_BARS", bars)
        open_page(driver, f"{srv.url}/c/{srv.capture_id(name)}/latency")
        wait_plots(driver)
        got = driver.execute_script(TICKS, f"#latency-{which}")
        assert got["ticks"] > 1 and got["rotated"] == [], (name, got)
        assert got["smallest"] >= 10, (name, got)
        assert got["area"][0] >= 200 and got["area"][1] >= 120, (name, got)


def test_latency_views_without_data_take_one_line(driver: Any, served: Served) -> None:
    cid = served.capture_id("ws-python-websockets.pcap")
    open_page(driver, f"{served.url}/c/{cid}/latency")
    wait_plots(driver)
    notes = driver.find_elements("css selector", "#latency-views .empty-view")
    assert {n.get_attribute("data-view") for n in notes} >= {"heartbeat", "acks"}
    for n in notes:
        assert n.size["height"] < 40 and "no " in n.text.lower()
    assert driver.find_elements("css selector", "#latency-tcp_handshake.plot")  # the one with data
    empty = driver.execute_script(
        "return Array.from(document.querySelectorAll('.plot')).filter((p) => (p.layout &&"
        " p.layout.annotations || []).some((a) => String(a.text).includes('nothing to show')))"
        ".map((p) => p.id)"
    )
    assert empty == []


def test_long_lists_are_paged(driver: Any, served_many: Served) -> None:
    from tests.browser.conftest import MANY

    s = served_many
    cid = s.capture_id("sio-python-websocket-only.pcap")
    open_page(driver, f"{s.url}/c/{cid}/")
    wait_plots(driver)
    for table in ("connections", "sessions"):
        assert len(driver.find_elements("css selector", f"#{table} tbody tr")) == 50
        assert f"1\u201350 of {MANY}" in driver.find_element("id", f"{table}-pager").text
    assert driver.execute_script("return document.documentElement.scrollHeight") < 9000
    driver.find_element("css selector", "#connections-pager a.next").click()
    wait_for(driver, lambda d: "conn_offset=50" in d.current_url)
    first = driver.find_element("css selector", "#connections tbody tr td").text
    assert first.startswith("TCP #50 ")
    assert "51\u2013100 of" in driver.find_element("id", "connections-pager").text
    assert driver.find_elements("css selector", "#connections-pager a.prev")
    open_page(driver, f"{s.url}/c/{cid}/latency")
    wait_plots(driver)
    assert len(driver.find_elements("css selector", "#upgrades tbody tr")) == 50
    assert driver.find_elements("css selector", "#upgrades-pager a.next")
    assert driver.execute_script("return document.documentElement.scrollHeight") < 6000
