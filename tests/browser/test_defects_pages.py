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


def test_offset_past_the_end_says_so(driver: Any, served: Served, served_synthetic: Served) -> None:
    cid = served.capture_id(REAL)
    total = len(_ids(served, cid))
    open_page(driver, f"{served.url}/c/{cid}/messages?offset=5000")
    count = driver.find_element("id", "count").text
    assert "no rows at this offset" in count and "5001" not in count, count
    driver.find_element("id", "last-page").click()
    wait_for(driver, lambda d: d.find_elements("css selector", "#messages a.detail"))
    last = total - (total - 1) % 100
    assert f"{last}–{total} shown" in driver.find_element("id", "count").text
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
        rows = c.get(f"/api/captures/{cid}/messages", query_string={"layer": "socketio", "limit": 1000}).get_json()
    ack = sess["socketio"]["acks"][0]
    event = next(r["id"] for r in rows["items"] if r["frame"] == ack["request_frame"] and "EVENT" in r["type"])
    answer = next(r["id"] for r in rows["items"] if r["frame"] == ack["response_frame"] and "ACK" in r["type"])
    ms = f"{ack['latency_ms']:.3f} ms"
    open_page(driver, f"{served.url}/c/{cid}/messages/{event}")
    link = driver.find_element("id", "ack-link")
    assert _rid(link.get_attribute("href")) == answer and ms in link.text, link.text
    link.click()
    wait_for(driver, lambda d: _rid(d.current_url) == answer)
    back = driver.find_element("id", "ack-link")
    assert _rid(back.get_attribute("href")) == event and ms in back.text, back.text
