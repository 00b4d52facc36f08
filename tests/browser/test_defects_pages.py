"""Issue #18, the defects seen in the layout and the navigation, each checked in a real browser:
pages fit an 800 px window, the detail's prev/next keep the filter and the page, events and
their acks link each other, every packet number is a link, the packet page, past-the-end
offsets."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.conftest import Served, console_errors, open_page, wait_for, wait_plots

pytestmark = pytest.mark.browser

REAL = "sio-python-polling-upgrade.pcap"
PAGES = [
    "",
    "timeline",
    "sequence",
    "messages",
    "messages/30",
    "packets",
    "packets?frames=24",
    "latency",
    "anomalies",
]
FITS = "return [document.documentElement.scrollWidth, window.innerWidth]"
LIFELINES = """
const lines = Array.from(document.querySelectorAll('#sequence line.seq-life'));
const svg = document.querySelector('#sequence svg').getBoundingClientRect();
return {lines: lines.map((l) => l.getBoundingClientRect().right), svg: svg.right, width: window.innerWidth};
"""


@pytest.fixture
def window(driver: Any) -> Any:
    """Sets the browser window's width for one test, then puts it back."""

    def resize(width: int) -> None:
        driver.set_window_size(width, 1000)
        wait_for(driver, lambda d: abs(d.execute_script("return window.innerWidth") - width) < 20)

    yield resize
    driver.set_window_size(1400, 1000)


@pytest.mark.parametrize("width", [800, 1400])
def test_pages_fit_the_window(driver: Any, served: Served, window: Any, width: int) -> None:
    window(width)
    cid = served.capture_id(REAL)
    for path in PAGES:
        open_page(driver, f"{served.url}/c/{cid}/{path}")
        wait_plots(driver)
        scroll, inner = driver.execute_script(FITS)
        assert scroll <= inner, f"{path or 'overview'} at {width} px: {scroll} px wide"
    open_page(driver, f"{served.url}/c/{cid}/sequence?connection=0")
    wait_plots(driver)
    got = driver.execute_script(LIFELINES)
    assert len(got["lines"]) == 2 and max(got["lines"]) <= got["width"] and got["svg"] <= got["width"], got
    open_page(driver, f"{served.url}/c/{cid}/messages")
    scroller = driver.execute_script(
        "const t = document.getElementById('messages'); const s = t.closest('.table-scroll');"
        "return s && [s.scrollWidth, s.clientWidth, s.closest('.card').getBoundingClientRect().right];"
    )
    assert scroller, "the messages table scrolls inside its card"
    assert scroller[2] <= width


def test_offset_past_the_end_says_so(driver: Any, served: Served, served_synthetic: Served) -> None:
    cid = served.capture_id(REAL)
    total = len(_ids(served, cid))
    open_page(driver, f"{served.url}/c/{cid}/messages?offset=5000")
    count = driver.find_element("id", "count").text
    assert "no rows at this offset" in count and "5001" not in count, count
    driver.find_element("id", "last-page").click()
    wait_for(driver, lambda d: d.find_elements("css selector", "#messages a.detail"))
    last = total - (total - 1) % 100
    assert f"{last}\u2013{total} shown" in driver.find_element("id", "count").text
    s = served_synthetic
    cid = s.capture_id("sio-python-websocket-only.pcap")
    open_page(driver, f"{s.url}/c/{cid}/anomalies?offset=5000")
    assert "no rows at this offset" in driver.find_element("id", "count").text
    driver.find_element("id", "last-page").click()
    wait_for(driver, lambda d: d.find_elements("css selector", "#anomalies td.message"))


def _ids(served: Served, cid: str, **query: Any) -> list[int]:
    with served.app.test_client() as c:
        body = c.get(f"/api/captures/{cid}/messages", query_string={"limit": 1000, **query}).get_json()
    return [r["id"] for r in body["items"]]


def _rid(url: str) -> int:
    m = re.search(r"/messages/(\d+)", url)
    assert m, url
    return int(m.group(1))


def test_detail_prev_next_keep_the_filter_and_the_page(driver: Any, served: Served) -> None:
    cid = served.capture_id(REAL)
    sio = _ids(served, cid, layer="socketio")
    open_page(driver, f"{served.url}/c/{cid}/messages?layer=socketio&limit=5&offset=5")
    driver.find_elements("css selector", "#messages a.detail")[0].click()
    wait_for(driver, lambda d: _rid(d.current_url) == sio[5])
    assert _rid(driver.find_element("id", "prev").get_attribute("href")) == sio[4]
    assert _rid(driver.find_element("id", "next").get_attribute("href")) == sio[6]
    back = urlsplit(driver.find_element("id", "all-messages").get_attribute("href"))
    q = parse_qs(back.query)
    assert q["layer"] == ["socketio"] and q["offset"] == ["5"] and q["limit"] == ["5"], back
    driver.find_element("id", "next").click()
    wait_for(driver, lambda d: _rid(d.current_url) == sio[6])
    assert "Socket.IO" in driver.find_element("id", "detail-title").text
    assert _rid(driver.find_element("id", "next").get_attribute("href")) == sio[7]
    driver.find_element("id", "all-messages").click()
    wait_for(driver, lambda d: "/messages?" in d.current_url)
    shown = [int(a.text) for a in driver.find_elements("css selector", "#messages a.detail")]
    assert shown == sio[5:10]
    # the row's page, whatever page it was opened from
    open_page(driver, f"{served.url}/c/{cid}/messages/{sio[12]}?layer=socketio&limit=5")
    q = parse_qs(urlsplit(driver.find_element("id", "all-messages").get_attribute("href")).query)
    assert q["offset"] == ["10"]


def test_event_and_its_ack_link_each_other_with_the_latency(driver: Any, served: Served) -> None:
    cid = served.capture_id(REAL)
    with served.app.test_client() as c:
        sess = c.get(f"/api/captures/{cid}/sessions").get_json()["items"][0]
        rows = c.get(
            f"/api/captures/{cid}/messages", query_string={"layer": "socketio", "limit": 1000}
        ).get_json()
    ack = sess["socketio"]["acks"][0]
    event = next(
        r["id"] for r in rows["items"] if r["frame"] == ack["request_frame"] and "EVENT" in r["type"]
    )
    answer = next(
        r["id"] for r in rows["items"] if r["frame"] == ack["response_frame"] and "ACK" in r["type"]
    )
    ms = f"{ack['latency_ms']:.3f} ms"
    open_page(driver, f"{served.url}/c/{cid}/messages/{event}")
    link = driver.find_element("id", "ack-link")
    assert _rid(link.get_attribute("href")) == answer and ms in link.text, link.text
    link.click()
    wait_for(driver, lambda d: _rid(d.current_url) == answer)
    back = driver.find_element("id", "ack-link")
    assert _rid(back.get_attribute("href")) == event and ms in back.text, back.text


def _frames_of(href: str) -> str:
    return parse_qs(urlsplit(href).query)["frames"][0]


def test_packet_numbers_are_links(driver: Any, served: Served) -> None:
    cid = served.capture_id(REAL)
    open_page(driver, f"{served.url}/c/{cid}/messages")
    cells = driver.find_elements("css selector", "#messages td.packet")
    assert cells
    for cell in cells:
        if cell.text:
            link = cell.find_element("css selector", "a")
            assert _frames_of(link.get_attribute("href")) == cell.text
    # the detail: the packets line and the frames table of a WebSocket message
    ws = _ids(served, cid, layer="websocket", type="text")
    open_page(driver, f"{served.url}/c/{cid}/messages/{ws[3]}")
    nums = driver.find_elements("css selector", "#packets-line a.packet")
    assert nums and all(_frames_of(a.get_attribute("href")) == a.text for a in nums)
    cells = driver.find_elements("css selector", "#stack table.frames td.packet")
    assert cells and all(
        _frames_of(c.find_element("css selector", "a").get_attribute("href")) == c.text for c in cells
    )
    fields = driver.find_elements("css selector", "#stack dd.packet a")
    assert fields and all(_frames_of(a.get_attribute("href")) == a.text for a in fields)
    # the anomalies: one link per packet
    cid = served.capture_id("sio-python-polling-only.pcap")
    open_page(driver, f"{served.url}/c/{cid}/anomalies")
    nums = driver.find_elements("css selector", "#anomalies a.packet")
    assert nums and all(_frames_of(a.get_attribute("href")) == a.text for a in nums)


def _field(driver: Any, section: str, name: str) -> str:
    for dt in driver.find_elements("css selector", f"{section} dt"):
        if dt.text == name:
            return str(dt.find_element("xpath", "following-sibling::dd[1]").text)
    raise AssertionError(f"no field {name!r} in {section}")


def test_packet_page_reads_as_wireshark_does(driver: Any, served: Served) -> None:
    console_errors(driver)
    cid = served.capture_id(REAL)
    open_page(driver, f"{served.url}/c/{cid}/packets?frames=2")
    groups = [h.text for h in driver.find_elements("css selector", "#packet-2 .proto h3")]
    assert len(groups) == 3 and groups[0].startswith("Ethernet") and groups[1].startswith("IPv4"), groups
    assert groups[2].startswith("TCP"), groups
    tcp = "#packet-2 .proto-transport"
    assert _field(driver, tcp, "flags") == "SYN, ACK"
    assert _field(driver, tcp, "seq").startswith("0") and _field(driver, tcp, "ack").startswith("1")
    assert int(_field(driver, tcp, "seq (raw)")) > 1000
    assert _frames_of(driver.find_element("id", "prev-packet").get_attribute("href")) == "1"
    assert _frames_of(driver.find_element("id", "next-packet").get_attribute("href")) == "3"
    driver.find_element("id", "next-packet").click()
    wait_for(driver, lambda d: d.find_elements("id", "packet-3"))
    assert _field(driver, "#packet-3 .proto-transport", "seq").startswith("1")
    assert _field(driver, "#packet-3 .proto-transport", "flags") == "ACK"
    # the list: every packet of the capture, paged, each a link
    driver.find_element("id", "all-packets").click()
    wait_for(driver, lambda d: d.find_elements("id", "packet-list"))
    rows = driver.find_elements("css selector", "#packet-list tbody tr")
    assert len(rows) == 50
    first = rows[0].find_element("css selector", "a")
    assert first.text == "1" and _frames_of(first.get_attribute("href")) == "1"
    assert "SYN" in rows[0].text and "Seq=0" in rows[0].text
    driver.find_element("css selector", "#packet-pager a.next").click()
    wait_for(driver, lambda d: "offset=50" in d.current_url)
    assert driver.find_element("css selector", "#packet-list tbody tr a").text == "51"
    assert console_errors(driver) == []
