"""Issue #18, filters and search in a real browser: the messages page's filter box is checked
by the JSON API while it is typed (the error's column under it), keeps the filter across paging,
the detail pages and back, and the text search box answers from the index."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.conftest import Served, console_errors, open_page, wait_for

pytestmark = pytest.mark.browser

REAL = "sio-python-polling-upgrade.pcap"
FILTER = 'sio.type in {"EVENT", "BINARY_EVENT", "ACK"} || ws.opcode == 8'


def _ids(served: Served, cid: str, **query: Any) -> list[int]:
    with served.app.test_client() as c:
        r = c.get(f"/api/captures/{cid}/messages", query_string={"limit": "1000", **query})
        assert r.status_code == 200, r.get_data(as_text=True)
        return [int(x["id"]) for x in r.get_json()["items"]]


def _shown(driver: Any) -> list[int]:
    return [int(a.text) for a in driver.find_elements("css selector", "#messages a.detail")]


def _rid(url: str) -> int:
    m = re.search(r"/messages/(\d+)", url)
    assert m, url
    return int(m.group(1))


def test_filter_box_checks_pages_and_keeps_the_filter(driver: Any, served: Served) -> None:
    cid = served.capture_id(REAL)
    want = _ids(served, cid, filter=FILTER)
    assert len(want) > 10
    open_page(driver, f"{served.url}/c/{cid}/messages?limit=5")
    box = driver.find_element("id", "filter-box")
    box.send_keys('sio.type in {"EVENT", ')
    check = wait_for(
        driver,
        lambda d: (
            d.find_element("id", "filter-check").is_displayed() and d.find_element("id", "filter-check")
        ),
    )
    lines = check.text.split("\n")
    assert lines[0] == "filter: column 23: expected a value after ',', found the end of the filter"
    assert lines[2].index("^") == 2 + 22
    assert box.get_attribute("aria-invalid") == "true"
    box.send_keys('"BINARY_EVENT", "ACK"} || ws.opcode == 8')
    wait_for(driver, lambda d: not d.find_element("id", "filter-check").is_displayed())
    assert box.get_attribute("aria-invalid") is None
    driver.find_element("css selector", "#filters button[type=submit]").click()
    wait_for(driver, lambda d: "filter=" in d.current_url)
    assert _shown(driver) == want[:5]
    assert driver.find_element("id", "filter-box").get_attribute("value") == FILTER
    driver.find_element("id", "next").click()
    wait_for(driver, lambda d: "offset=5" in d.current_url)
    assert _shown(driver) == want[5:10]
    # a detail page's prev/next stay inside the filter, and "all messages" comes back to its page
    driver.find_elements("css selector", "#messages a.detail")[1].click()
    wait_for(driver, lambda d: "/messages/" in d.current_url)
    assert _rid(driver.current_url) == want[6]
    assert _rid(driver.find_element("id", "prev").get_attribute("href")) == want[5]
    driver.find_element("id", "next").click()
    wait_for(driver, lambda d: _rid(d.current_url) == want[7])
    assert _rid(driver.find_element("id", "next").get_attribute("href")) == want[8]
    back = parse_qs(urlsplit(driver.find_element("id", "all-messages").get_attribute("href")).query)
    assert back["filter"] == [FILTER] and back["offset"] == ["5"]
    driver.find_element("id", "all-messages").click()
    wait_for(driver, lambda d: "/messages?" in d.current_url)
    assert _shown(driver) == want[5:10]
    assert not console_errors(driver)


def test_bad_filter_sent_shows_the_error_and_keeps_the_text(driver: Any, served: Served) -> None:
    cid = served.capture_id(REAL)
    open_page(driver, f"{served.url}/c/{cid}/messages")
    box = driver.find_element("id", "filter-box")
    box.send_keys("ws.opcode == '8'")
    driver.find_element("css selector", "#filters button[type=submit]").click()
    err = wait_for(driver, lambda d: d.find_elements("id", "filter-error"))[0]
    assert "filter: column 14: ws.opcode is a number, not a string" in err.text
    assert driver.find_element("id", "filter-box").get_attribute("value") == "ws.opcode == '8'"
    assert _shown(driver) == []


def test_search_box_answers_from_the_index(driver: Any, served: Served) -> None:
    cid = served.capture_id(REAL)
    with served.app.test_client() as c:
        body = c.get(f"/api/captures/{cid}/search", query_string={"q": "hello", "limit": "1000"}).get_json()
    assert body["index"] is not None and body["total"] > 0  # answered by the FTS5 index
    open_page(driver, f"{served.url}/c/{cid}/messages?limit=1000")
    driver.find_element("id", "search-box").send_keys("hello")
    driver.find_element("css selector", "#filters button[type=submit]").click()
    wait_for(driver, lambda d: "q=hello" in d.current_url)
    assert _shown(driver) == [x["id"] for x in body["items"]]
    for summary in driver.find_elements("css selector", "#messages td.summary"):
        assert summary.text  # a hit may be in the record's text, not its summary: every row has one
