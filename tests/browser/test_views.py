"""Issue #18, the new views in a real browser: the messages pane (rows, keys, side pane, ack links,
binary attachments, hostile text), a connection's packet list (flags, relative seq, info, the
selected layer's bytes, prev/next, follow stream), the hand-off downloads (read back), the
timeline's lanes on zoom, and the new pages at 800 and 1400 px."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Served, console_errors, open_page, wait_for, wait_plots
from tests.conftest import packet_count

pytestmark = pytest.mark.browser

REAL = "sio-python-polling-upgrade.pcap"
FITS = "return [document.documentElement.scrollWidth, window.innerWidth]"


def _pane(driver: Any, url: str) -> None:
    open_page(driver, url)
    wait_for(driver, lambda d: d.find_element("id", "pane-list").get_attribute("data-ready") == "1")


def _rows(driver: Any) -> list[Any]:
    return driver.find_elements("css selector", "#pane-table tbody tr")


def _key(driver: Any, key: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(key).pause(0.05).perform()


def _open_row(driver: Any, rid: int) -> None:
    """Click the pane's row of record `rid` and wait for its side pane."""
    row = driver.find_element("css selector", f"#pane-table tr[data-row='{rid}'] td.label")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", row)
    row.click()
    wait_for(driver, lambda d: d.find_element("id", "pane-list").get_attribute("data-open") == str(rid))


def test_pane_lists_socketio_rows_and_the_keys_move(driver: Any, served: Served) -> None:
    from selenium.webdriver.common.keys import Keys

    console_errors(driver)
    cid = served.capture_id(REAL)
    _pane(driver, f"{served.url}/c/{cid}/pane")
    rows = _rows(driver)
    assert len(rows) > 10
    assert {r.get_attribute("class") for r in rows} == {"layer-socketio"}  # Socket.IO by default
    heads = [h.text for h in driver.find_elements("css selector", "#pane-table thead th")]
    assert heads == ["dir", "time (s)", "Δ (ms)", "length", "event / opcode", "payload"]
    arrows = driver.execute_script(
        "return Array.from(document.querySelectorAll('#pane-table .arrow'))"
        ".map((a) => [a.textContent, getComputedStyle(a).color])"
    )
    colours = {text: colour for text, colour in arrows}
    assert set(colours) == {"↑", "↓"} and colours["↑"] != colours["↓"]  # two arrows, two colours
    labels = [r.find_element("css selector", "td.label").text for r in rows]
    assert "chat" in labels  # the event's name
    # the keyboard: down twice selects the second row, Enter opens it, Esc closes it
    ids = [int(r.get_attribute("data-row")) for r in rows]
    driver.execute_script("document.getElementById('pane-list').focus()")
    _key(driver, Keys.ARROW_DOWN)
    _key(driver, Keys.ARROW_DOWN)
    listing = driver.find_element("id", "pane-list")
    assert listing.get_attribute("data-selected") == str(ids[1])  # the first key selects the first row
    selected = ids[1]
    _key(driver, Keys.ENTER)
    wait_for(driver, lambda d: d.find_element("id", "pane-list").get_attribute("data-open") == str(selected))
    assert driver.find_element("id", "pane-side").is_displayed()
    _key(driver, Keys.ARROW_UP)  # the open side pane follows the selection
    prev = ids[ids.index(selected) - 1]
    wait_for(driver, lambda d: d.find_element("id", "pane-list").get_attribute("data-open") == str(prev))
    _key(driver, Keys.ESCAPE)
    wait_for(driver, lambda d: not d.find_element("id", "pane-side").is_displayed())
    assert console_errors(driver) == []


def test_pane_side_shows_the_json_tree_and_links_the_ack_both_ways(driver: Any, served: Served) -> None:
    cid = served.capture_id(REAL)
    with served.app.test_client() as c:
        items = c.get(f"/api/captures/{cid}/pane?limit=1000").get_json()["items"]
        asks = []
        for it in items:
            ack = c.get(f"/api/captures/{cid}/messages/{it['id']}?packets=0").get_json()["ack"]
            if ack and ack["role"] == "request" and ack["row"] is not None:
                asks.append((it["id"], ack))
    assert asks
    event, ack = asks[0]
    _pane(driver, f"{served.url}/c/{cid}/pane")
    _open_row(driver, event)
    tree = driver.find_element("id", "pane-json")
    assert tree.find_elements("css selector", "details")  # collapsible
    summary = tree.find_element("css selector", "summary")
    summary.click()  # collapses
    assert tree.find_element("css selector", "details").get_attribute("open") is None
    link = driver.find_element("id", "pane-ack")
    assert f"#{ack['row']}" in link.text and f"{ack['latency_ms']:.3f} ms" in link.text
    packets = driver.find_elements("css selector", "#pane-links a.packet")
    assert packets and all("/packets?frames=" in a.get_attribute("href") for a in packets)
    assert driver.find_elements("css selector", "#pane-links a.pane-eio")  # its Engine.IO packet
    assert driver.find_elements("css selector", "#pane-links a.pane-carrier")  # its frames' message
    link.click()  # the ACK, in the same pane
    wait_for(
        driver, lambda d: d.find_element("id", "pane-list").get_attribute("data-open") == str(ack["row"])
    )
    back = driver.find_element("id", "pane-ack")
    assert back.text.startswith(f"answers #{event}")
    back.click()
    wait_for(driver, lambda d: d.find_element("id", "pane-list").get_attribute("data-open") == str(event))


def test_pane_shows_binary_attachments_in_place(driver: Any, served: Served) -> None:
    cid = served.capture_id("sio-node-v4-default.pcap")
    with served.app.test_client() as c:
        items = c.get(f"/api/captures/{cid}/pane?limit=1000").get_json()["items"]
        binary = [
            it["id"]
            for it in items
            if "$hex"
            in json.dumps(c.get(f"/api/captures/{cid}/messages/{it['id']}?packets=0").get_json()["record"])
        ]
    assert binary
    _pane(driver, f"{served.url}/c/{cid}/pane")
    _open_row(driver, binary[0])
    dumps = driver.find_elements("css selector", "#pane-json details.json-binary pre.hexdump")
    assert dumps and "00000000  " in dumps[0].text  # offset, hex and ASCII, inside the tree


def test_pane_layers_on_request_and_the_filter_holds_for_the_keys(driver: Any, served: Served) -> None:
    from selenium.webdriver.common.keys import Keys

    cid = served.capture_id(REAL)
    _pane(driver, f"{served.url}/c/{cid}/pane")
    for layer in ("tcp", "http"):
        driver.find_element("css selector", f"#pane-filters input[name='layer-{layer}']").click()
    driver.find_element("css selector", "#pane-filters button[type=submit]").click()
    wait_for(driver, lambda d: "layer-tcp=1" in d.current_url)
    wait_for(driver, lambda d: d.find_element("id", "pane-list").get_attribute("data-ready") == "1")
    classes = {r.get_attribute("class") for r in _rows(driver)}
    assert {"layer-tcp", "layer-http", "layer-socketio"} <= classes
    # only client -> server: the keys walk the filtered rows only
    _pane(driver, f"{served.url}/c/{cid}/pane?direction=c2s&layers=socketio")
    n = len(_rows(driver))
    driver.execute_script("document.getElementById('pane-list').focus()")
    seen = set()
    for _ in range(n + 2):
        _key(driver, Keys.ARROW_DOWN)
        seen.add(driver.find_element("id", "pane-list").get_attribute("data-selected"))
    arrows = {r.find_element("css selector", ".arrow").text for r in _rows(driver)}
    assert arrows == {"↑"} and len(seen) == n


def test_pane_keeps_hostile_payloads_as_text(driver: Any, served: Served) -> None:
    from selenium.webdriver.common.keys import Keys

    console_errors(driver)
    cid = served.capture_id("xss-payloads.pcap")
    _pane(driver, f"{served.url}/c/{cid}/pane")
    shown = driver.find_element("id", "pane-table").text
    assert "<script" in shown  # the markup is on the page, as text
    driver.execute_script("document.getElementById('pane-list').focus()")
    _key(driver, Keys.ARROW_DOWN)
    _key(driver, Keys.ENTER)
    for _ in range(len(_rows(driver))):
        _key(driver, Keys.ARROW_DOWN)
        time.sleep(0.15)
    wait_for(driver, lambda d: d.find_element("id", "pane-list").get_attribute("data-open"))
    found = driver.execute_script(
        "return document.querySelectorAll('#pane-split script, #pane-split img, #pane-split iframe,"
        " #pane-split svg, #pane-split b').length"
    )
    assert found == 0
    assert driver.execute_script("return window.__pwned === undefined")
    assert console_errors(driver) == []


def test_connection_packets_as_wireshark_lists_them(driver: Any, served: Served) -> None:
    cid = served.capture_id(REAL)
    open_page(driver, f"{served.url}/c/{cid}/")
    driver.find_element("css selector", "a.conn-packets-link").click()  # from the overview
    wait_for(driver, lambda d: d.current_url.endswith("/connections/0/packets"))
    rows = driver.find_elements("css selector", "#conn-packets tbody tr")
    assert len(rows) > 20
    cells = [[td.text for td in r.find_elements("css selector", "td")] for r in rows]
    assert [c[4] for c in cells[:3]] == ["S", "SA", "A"]  # flags as letters: the handshake
    assert [c[5] for c in cells[:3]] == ["0", "0", "1"]  # relative seq
    assert [c[3] for c in cells[:3]] == ["→", "←", "→"]
    infos = [c[8] for c in cells]
    assert any(i.startswith("HTTP GET /socket.io/") for i in infos)
    assert any(i.startswith("WS text ") and i.endswith(" B") for i in infos)
    links = rows[0].find_elements("css selector", "td.packet a")
    assert links and links[0].get_attribute("href").endswith("/packets?frames=" + cells[0][0])
    # a packet with data: its bytes, the IP header highlighted on request, prev/next in the connection
    k = next(i for i, c in enumerate(cells) if c[8].startswith("HTTP GET"))
    rows[k].find_element("css selector", "a.select").click()
    wait_for(driver, lambda d: d.find_elements("id", "selected-dump"))
    payload = "".join(m.text for m in driver.find_elements("css selector", "#selected-dump mark"))
    assert "47 45 54" in payload  # "GET": the payload is highlighted first
    driver.find_element("css selector", "#layer-pick a[data-layer='network']").click()
    wait_for(driver, lambda d: "layer=network" in d.current_url)
    marks = driver.find_elements("css selector", "#selected-dump mark")
    assert marks[0].text.startswith("45")  # IPv4, header length 20 (RFC 791 §3.1)
    frame = driver.find_element("css selector", "#conn-packets tr.selected").get_attribute("data-frame")
    driver.find_element("id", "next-packet").click()
    wait_for(
        driver,
        lambda d: (
            d.find_element("css selector", "#conn-packets tr.selected").get_attribute("data-frame")
            == cells[k + 1][0]
        ),
    )
    driver.find_element("id", "prev-packet").click()
    wait_for(
        driver,
        lambda d: (
            d.find_element("css selector", "#conn-packets tr.selected").get_attribute("data-frame") == frame
        ),
    )


def test_follow_stream_shows_both_directions(driver: Any, served: Served) -> None:
    cid = served.capture_id(REAL)
    open_page(driver, f"{served.url}/c/{cid}/connections/0/packets")
    driver.find_element("id", "follow-stream").click()
    wait_for(driver, lambda d: d.find_elements("id", "stream-text"))
    c2s = " ".join(e.text for e in driver.find_elements("css selector", "#stream-text .c2s"))
    s2c = " ".join(e.text for e in driver.find_elements("css selector", "#stream-text .s2c"))
    assert c2s.startswith("GET /socket.io/") and "HTTP/1.1 101" in s2c
    colours = driver.execute_script(
        "return ['c2s', 's2c']"
        ".map((k) => getComputedStyle(document.querySelector('#stream-text .' + k)).color)"
    )
    assert colours[0] != colours[1]
    driver.find_element("id", "as-hex").click()
    wait_for(driver, lambda d: "mode=hex" in d.current_url)
    first = driver.find_element("css selector", "#stream-text .c2s").text
    assert first.startswith("47 45 54 20")  # "GET "


def _downloads(driver: Any, folder: Path) -> None:
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})


def _downloaded(folder: Path, suffix: str) -> Path:
    def done() -> Path | None:
        found = [p for p in folder.iterdir() if p.name.endswith(suffix)]
        return found[0] if found and found[0].stat().st_size > 0 else None

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = done()
        if got is not None:
            return got
        time.sleep(0.2)
    raise AssertionError(f"no {suffix} in {sorted(os.listdir(folder))}")


@pytest.mark.parametrize("fmt", ["har", "jsonl", "csv", "pcapng"])
def test_downloads_are_what_the_view_shows(driver: Any, served: Served, tmp_path: Path, fmt: str) -> None:

    cid = served.capture_id(REAL)
    with served.app.test_client() as c:
        conns = c.get(f"/api/captures/{cid}/connections").get_json()["items"]
    conn = conns[0]
    _downloads(driver, tmp_path)
    open_page(driver, f"{served.url}/c/{cid}/connections/{conn['id']}/packets")
    driver.find_element("css selector", f"#downloads a[data-format='{fmt}']").click()
    path = _downloaded(tmp_path, {"har": ".har", "jsonl": ".jsonl", "csv": ".csv", "pcapng": ".pcapng"}[fmt])
    if fmt == "har":
        entries = json.loads(path.read_text(encoding="utf-8"))["log"]["entries"]
        assert entries and {e["_socketscope"]["connection"] for e in entries} == {conn["id"]}
        assert all(e["request"]["url"].startswith(("http://", "ws://")) for e in entries)
    elif fmt == "jsonl":
        lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
        assert lines and {x["connection"] for x in lines if "connection" in x} == {conn["id"]}
    elif fmt == "csv":  # the connection view lists every layer: its top one, Socket.IO
        table = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
        assert table and {r["connection"] for r in table} == {str(conn["id"])}
    else:
        n = packet_count(path)
        tcp = conn["tcp"]["packets"]
        assert n == tcp["c2s"] + tcp["s2c"]


def test_pane_download_keeps_the_connection_scope(driver: Any, served: Served, tmp_path: Path) -> None:
    cid = served.capture_id("sio-node-v4-default.pcap")
    with served.app.test_client() as c:
        conns = c.get(f"/api/captures/{cid}/connections").get_json()["items"]
        resp = c.get(f"/c/{cid}/download?format=jsonl")
        whole = resp.get_data(as_text=True).splitlines()
        resp.close()
    ws = [x["id"] for x in conns if x.get("websocket")]
    assert len(conns) > 1 and ws
    _downloads(driver, tmp_path)
    _pane(driver, f"{served.url}/c/{cid}/pane?connection={ws[0]}")
    driver.find_element("css selector", "#downloads a[data-format='jsonl']").click()
    path = _downloaded(tmp_path, ".jsonl")
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert lines and {x["connection"] for x in lines if "connection" in x} == {ws[0]}
    assert len(lines) < len(whole)


LANES = "return document.getElementById('timeline').getAttribute('data-lanes').split('\\n')"


def test_timeline_lanes_follow_the_window(driver: Any, served: Served) -> None:
    console_errors(driver)
    cid = served.capture_id("sio-node-v4-default.pcap")
    open_page(driver, f"{served.url}/c/{cid}/timeline")
    wait_plots(driver)
    assert driver.find_elements("css selector", "#timeline .rangeslider-container")
    everything = driver.execute_script(LANES)
    assert len(everything) > 3
    with served.app.test_client() as c:
        rows = c.get(f"/api/captures/{cid}/messages?limit=1000").get_json()["items"]
    t = rows[len(rows) // 2]["t"]
    driver.execute_script(
        "Plotly.relayout(document.getElementById('timeline'), {'xaxis.range': arguments[0]})",
        [t - 0.0005, t + 0.0005],
    )
    tl = driver.find_element("id", "timeline")
    wait_for(driver, lambda d: d.execute_script(LANES) != everything)
    assert int(tl.get_attribute("data-rows")) > 0 and int(tl.get_attribute("data-points")) > 0
    assert 0 < len(driver.execute_script(LANES)) < len(everything)  # only the lanes active there
    assert console_errors(driver) == []


NEW_PAGES = [
    "pane",
    "connections/0/packets?select=12",
    "connections/0/stream",
    "connections/0/stream?mode=hex",
]


@pytest.mark.parametrize("width", [800, 1400])
def test_new_views_fit_the_window(driver: Any, served: Served, width: int) -> None:
    driver.set_window_size(width, 1000)
    try:
        wait_for(driver, lambda d: abs(d.execute_script("return window.innerWidth") - width) < 20)
        cid = served.capture_id(REAL)
        for path in NEW_PAGES:
            open_page(driver, f"{served.url}/c/{cid}/{path}")
            if path == "pane":
                wait_for(
                    driver, lambda d: d.find_element("id", "pane-list").get_attribute("data-ready") == "1"
                )
            scroll, inner = driver.execute_script(FITS)
            assert scroll <= inner, f"{path} at {width} px: {scroll} px wide"
    finally:
        driver.set_window_size(1400, 1000)


def test_empty_views_say_so_in_one_line(driver: Any, served: Served) -> None:
    cid = served.capture_id("ws-python-websockets.pcap")
    _pane(driver, f"{served.url}/c/{cid}/pane?layers=engineio")
    note = driver.find_element("id", "pane-empty")
    assert note.is_displayed() and "no Engine.IO rows" in note.text
    assert note.size["height"] < 40
