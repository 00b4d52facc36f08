"""Issue #18's last gaps in a real browser: the messages pane shows each row's full payload on one
line (cut by CSS, at most webui/pane.py's PAYLOAD_BYTES sent, a link for the rest that opens the
side pane with the whole message), and the timeline shows the anomalies of no connection or
session on a "capture" lane at the top (crafted captures of tests/crafted_captures.py whose only
anomaly is capture.truncated, without a packet, or capture.snaplen-truncated, at packet 1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Served, console_errors, open_page, wait_for, wait_plots
from tests.browser.test_views import _pane

pytestmark = pytest.mark.browser

BIG = "ws-python-websockets.pcap"  # a 70,000-byte text message and a 100,000-byte binary one
SMALL = "ws-node-ws.pcapng"  # text messages of 2,280 bytes


def _api(served: Served, url: str) -> Any:
    with served.app.test_client() as c:
        return c.get(url).get_json()


def test_pane_row_shows_the_full_payload_bounded(driver: Any, served: Served) -> None:
    from webui.pane import PAYLOAD_BYTES

    console_errors(driver)
    cid = served.capture_id(BIG)
    items = _api(served, f"/api/captures/{cid}/pane?layers=websocket&limit=1000")["items"]
    text = next(r for r in items if r["type"] == "text" and r["length"] == 70000)
    binary = next(r for r in items if r["type"] == "binary" and r["length"] == 100000)
    # what is sent: the first PAYLOAD_BYTES (of binary, the hex of half as many bytes), the rest counted
    assert len(text["payload"].encode()) == PAYLOAD_BYTES and text["payload_more"] == 70000 - PAYLOAD_BYTES
    assert len(binary["payload"]) == PAYLOAD_BYTES and binary["payload_more"] == 100000 - PAYLOAD_BYTES // 2
    assert binary["binary"] and not text["binary"]
    small_cid = served.capture_id(SMALL)
    items = _api(served, f"/api/captures/{small_cid}/pane?layers=websocket&limit=1000")["items"]
    small = next(r for r in items if r["type"] == "text" and 200 < r["length"] < PAYLOAD_BYTES)
    assert small["payload_more"] == 0 and len(small["payload"]) == small["length"]  # whole, not 160 chars

    _pane(driver, f"{served.url}/c/{small_cid}/pane?layers=websocket")
    cell = f"#pane-table tr[data-row='{small['id']}'] td.payload"
    got = driver.execute_script(
        "const td = document.querySelector(arguments[0]); const s = td.querySelector('.payload-text');"
        "const st = getComputedStyle(s);"
        "return [s.textContent, td.title, st.textOverflow, st.whiteSpace, s.scrollWidth > s.clientWidth,"
        " td.getBoundingClientRect().height, parseFloat(getComputedStyle(td).lineHeight) || 20,"
        " td.querySelectorAll('.payload-more').length]",
        cell,
    )
    shown, title, overflow, wrap, cut, height, line, links = got
    assert shown == small["payload"] and title == small["payload"]  # all of it, in the cell and its title
    assert (overflow, wrap, cut) == ("ellipsis", "nowrap", True)  # one line, cut by CSS
    assert height < 2.5 * line and links == 0

    _pane(driver, f"{served.url}/c/{cid}/pane?layers=websocket")
    row = f"#pane-table tr[data-row='{text['id']}']"
    more = driver.find_element("css selector", f"{row} .payload-more")
    assert more.text == f"… {text['payload_more']:,} more bytes"
    assert more.get_attribute("href").endswith(f"/messages/{text['id']}")  # the detail page
    assert driver.execute_script(
        "return document.querySelector(arguments[0] + ' .payload-text').textContent.length", row
    ) == len(text["payload"])
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", more)
    more.click()  # the side pane, with the whole message
    wait_for(
        driver, lambda d: d.find_element("id", "pane-list").get_attribute("data-open") == str(text["id"])
    )
    whole = driver.execute_script("return document.querySelector('#pane-body pre.payload').textContent")
    assert len(whole) == 70000 and whole.startswith(text["payload"])
    brow = f"#pane-table tr[data-row='{binary['id']}'] .payload-more"
    assert driver.find_element("css selector", brow).text == f"… {binary['payload_more']:,} more bytes"
    assert console_errors(driver) == []


@pytest.fixture(scope="module")
def served_crafted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from tests.crafted_captures import CRAFTED
    from webui import create_app

    folder = tmp_path_factory.mktemp("crafted")
    paths = []
    for name in ("capture-truncated", "capture-snaplen"):
        p = Path(folder, name + ".pcap")
        p.write_bytes(CRAFTED[name].build())
        paths.append(str(p))
    app = create_app(
        captures=paths,
        folders=[],
        upload_dir=str(tmp_path_factory.mktemp("uploads-crafted")),
        config={"ANALYSIS_WAIT": 60},
    )
    s = Served(app)
    yield s
    s.stop()


@pytest.mark.parametrize(
    ("name", "code", "when"),
    [
        ("capture-truncated.pcap", "capture.truncated", "no packet"),
        ("capture-snaplen.pcap", "capture.snaplen-truncated", "t = 0.000"),
    ],
)
def test_timeline_shows_capture_anomalies_on_a_top_lane(
    driver: Any, served_crafted: Served, name: str, code: str, when: str
) -> None:
    console_errors(driver)
    cid = served_crafted.capture_id(name)
    anomalies = _api(served_crafted, f"/api/captures/{cid}/anomalies?limit=100")["items"]
    assert [a["code"] for a in anomalies] == [code] and anomalies[0].get("connection") is None
    open_page(driver, f"{served_crafted.url}/c/{cid}/timeline")
    wait_plots(driver)
    lanes = driver.execute_script("return document.getElementById('timeline').getAttribute('data-lanes')")
    assert lanes.split("\n")[0] == "capture" and len(lanes.split("\n")) == 2  # and the one connection
    bands = driver.execute_script(
        "return document.getElementById('timeline').data.filter((t) => t.legendgroup === 'anomalies')"
        ".map((t) => [t.name, t.y, t.text, t.x])"
    )
    assert len(bands) == 1
    band_name, ys, texts, xs = bands[0]
    assert band_name.startswith("anomalies (") and ys[:2] == [0, 0]  # on the top lane
    assert code in texts[0] and when in texts[0]
    span = _api(served_crafted, f"/api/captures/{cid}/timeline")["span"]
    if when == "no packet":  # across the whole window
        assert xs[:2] == [round(span[0], 6), round(span[1], 6)]
    ticks = driver.execute_script(
        "return Array.from(document.querySelectorAll('#timeline .ytick text'))"
        ".map((t) => [t.textContent, t.getBoundingClientRect().top])"
    )
    top = min(ticks, key=lambda t: t[1])
    assert top[0] == "capture"  # drawn at the top
    assert console_errors(driver) == []
