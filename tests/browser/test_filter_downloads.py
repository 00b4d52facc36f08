"""Hand-off downloads of what is on screen with the current filter (issue #18): a filter typed in
the messages page's or the pane's box goes into the download links, and the file a real Chromium
saves holds only the records the filter keeps (re-read and compared with the unfiltered export)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.browser.conftest import Served, open_page, wait_for
from tests.browser.test_views import _downloaded, _downloads, _open_row, _pane, _rows
from tests.conftest import packet_count

NODE = "sio-node-v4-default.pcap"  # polling and WebSocket, acks, binary events
EVENTS = 'sio.type == "EVENT"'
SENT_TEXT = 'ws.opcode == 1 && direction == "c2s"'
SUFFIX = {"har": ".har", "jsonl": ".jsonl", "csv": ".csv", "pcapng": ".pcapng"}


def _get(served: Served, url: str) -> bytes:
    with served.app.test_client() as c:
        resp = c.get(url)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        data = resp.get_data()
        resp.close()
    return data


def _type_filter(driver: Any, text: str) -> None:
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element("id", "filter-box")
    box.clear()
    box.send_keys(text)
    old = driver.find_element("tag name", "html")
    box.send_keys(Keys.ENTER)
    wait_for(driver, lambda d: old != d.find_element("tag name", "html"))  # the form's GET answered


def _ws_messages(har: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for e in har["log"]["entries"] for m in e.get("_webSocketMessages", [])]


@pytest.mark.parametrize("fmt", ["har", "jsonl", "csv", "pcapng"])
def test_messages_page_downloads_what_the_filter_keeps(
    driver: Any, served: Served, tmp_path: Path, fmt: str
) -> None:
    cid = served.capture_id(NODE)
    flt = SENT_TEXT if fmt == "har" else EVENTS
    _downloads(driver, tmp_path)
    open_page(driver, f"{served.url}/c/{cid}/messages")
    _type_filter(driver, flt)
    assert driver.find_element("id", "filter-box").get_attribute("value") == flt
    link = driver.find_element("css selector", f"#downloads a[data-format='{fmt}']")
    assert "filter=" in (link.get_attribute("href") or "")
    link.click()
    path = _downloaded(tmp_path, SUFFIX[fmt])
    whole = _get(served, f"/c/{cid}/download?format={fmt}")
    if fmt == "har":
        got = json.loads(path.read_text(encoding="utf-8"))
        want = [m for m in _ws_messages(json.loads(whole)) if m["type"] == "send" and m["opcode"] == 1]
        assert want and _ws_messages(got) == want
    elif fmt == "jsonl":
        lines = path.read_text(encoding="utf-8").splitlines()
        want = [x for x in whole.decode("utf-8").splitlines() if json.loads(x)["type"] == "EVENT"]
        assert want and lines == want and len(lines) < len(whole.splitlines())
    elif fmt == "csv":  # the messages page lists Socket.IO: its table
        got = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
        every = list(csv.DictReader(io.StringIO(whole.decode("utf-8"))))
        want = [r for r in every if r["type"] == "EVENT"]
        assert want and got == want and len(got) < len(every)
    else:
        kept = _get(served, f"/c/{cid}/download?format=jsonl&filter={quote(flt)}").decode("utf-8")
        frames = {f for x in kept.splitlines() for f in json.loads(x)["packets"]}
        (tmp_path / "whole.pcapng").write_bytes(whole)
        assert frames and packet_count(path) == len(frames) < packet_count(tmp_path / "whole.pcapng")


def test_pane_filter_box_lists_and_downloads_what_it_keeps(
    driver: Any, served: Served, tmp_path: Path
) -> None:
    cid = served.capture_id(NODE)
    _downloads(driver, tmp_path)
    _pane(driver, f"{served.url}/c/{cid}/pane")
    everything = len(_rows(driver))
    _type_filter(driver, EVENTS)
    wait_for(driver, lambda d: d.find_element("id", "pane-list").get_attribute("data-ready") == "1")
    rows = _rows(driver)
    api = json.loads(_get(served, f"/api/captures/{cid}/pane?filter={quote(EVENTS)}"))
    assert 0 < len(rows) == api["total"] < everything
    assert {it["type"] for it in api["items"]} == {"EVENT"}
    driver.find_element("css selector", "#downloads a[data-format='jsonl']").click()
    lines = [json.loads(x) for x in _downloaded(tmp_path, ".jsonl").read_text(encoding="utf-8").splitlines()]
    assert [x["frame"] for x in lines] == [it["frame"] for it in api["items"]]
    ids = [it["id"] for it in api["items"]]
    _open_row(driver, ids[1])
    driver.find_element("id", "pane-detail-link").click()  # the detail page: prev/next inside the filter
    wait_for(driver, lambda d: d.find_elements("id", "next"))
    assert driver.find_element("id", "next").text.startswith(f"#{ids[2]} ")
    assert driver.find_element("id", "prev").text.endswith(f"#{ids[0]}")


def test_a_bad_filter_is_a_400_naming_the_column(driver: Any, served: Served) -> None:
    cid = served.capture_id(NODE)
    with served.app.test_client() as c:
        for fmt in SUFFIX:
            resp = c.get(f"/c/{cid}/download?format={fmt}&filter={quote('sio.event ==')}")
            assert resp.status_code == 400
            assert "column 13" in resp.get_data(as_text=True)
        api = c.get(f"/api/captures/{cid}/pane?filter={quote('ws.opcode >')}")
        assert api.status_code == 400 and api.get_json()["column"] == 12
    open_page(driver, f"{served.url}/c/{cid}/pane?filter={quote('sio.event ==')}")
    assert "column 13" in driver.find_element("id", "filter-error").text
    assert not driver.find_elements("id", "downloads") and not driver.find_elements("id", "pane-list")


POLLING = "sio-python-polling-only.pcap"  # 1 warn, 11 chat anomalies


def test_anomalies_page_and_api_take_a_filter(driver: Any, served: Served) -> None:
    cid = served.capture_id(POLLING)
    every = json.loads(_get(served, f"/api/captures/{cid}/anomalies?limit=1000"))["items"]
    flt = 'anomaly.severity == "warn" || anomaly.code matches "ping"'
    want = [a for a in every if a["severity"] == "warn" or "ping" in a["code"]]
    assert 0 < len(want) < len(every)
    got = json.loads(_get(served, f"/api/captures/{cid}/anomalies?limit=1000&filter={quote(flt)}"))
    assert got["items"] == want and got["total"] == len(want)
    open_page(driver, f"{served.url}/c/{cid}/anomalies")
    _type_filter(driver, flt)
    codes = [e.text for e in driver.find_elements("css selector", "#anomalies tbody td.mono")]
    assert codes == [a["code"] for a in want]
    sev = driver.find_element("css selector", "a.sev-warn")
    assert "filter=" in (sev.get_attribute("href") or "")  # the severity links keep the filter
    with served.app.test_client() as c:
        fatal = quote('anomaly.severity == "fatal"')  # not one of its values
        bad = c.get(f"/api/captures/{cid}/anomalies?filter={fatal}")
        assert bad.status_code == 400 and bad.get_json()["column"] == 21
    _type_filter(driver, "anomaly.code ==")
    assert "column 16" in driver.find_element("id", "filter-error").text
    assert not driver.find_elements("css selector", "#anomalies tbody td.mono")
