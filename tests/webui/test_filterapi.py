"""The filter language and the indexed search over the web UI's JSON API (real captures)."""

from __future__ import annotations

import html
import json
from typing import Any

from flask.testing import FlaskClient

from tests.webui.conftest import capture_id, rows

UPGRADE = "sio-python-polling-upgrade.pcap"


def _doc(real: FlaskClient, cid: str) -> dict[str, Any]:
    r = real.get(f"/api/captures/{cid}/analysis")
    assert r.status_code == 200
    return dict(json.loads(r.get_data(as_text=True)))


def test_filter_keeps_the_rows_the_records_say(real: FlaskClient) -> None:
    cid = capture_id(real, UPGRADE)
    doc = _doc(real, cid)
    sess = doc["engineio_sessions"][0]
    slow = {
        (a["nsp"], a["ack_id"], a["request_direction"])
        for a in sess["socketio"]["acks"]
        if a["latency_ms"] is not None and a["latency_ms"] > 2
    }
    want = sorted(
        p["frame"]
        for p in sess["socketio"]["packets"]
        if p["type"] in ("EVENT", "BINARY_EVENT") and (p["nsp"], p["ack_id"], p["direction"]) in slow
    )
    got = rows(real, cid, filter='sio.type in {"EVENT", "BINARY_EVENT"} && ack.latency_ms > 2')
    assert want and sorted(r["frame"] for r in got) == want
    assert {r["layer"] for r in got} == {"socketio"}


def test_filter_on_every_layer(real: FlaskClient) -> None:
    cid = capture_id(real, UPGRADE)
    doc = _doc(real, cid)
    ws = doc["connections"][0]["websocket"]
    closes = sorted(f["frame"] for f in ws["frames"] if f["opcode"] == 8)
    assert closes and sorted(r["frame"] for r in rows(real, cid, filter="ws.opcode == 8")) == closes
    texts = [m for m in ws["messages"] if m["text"] is not None and "probe" in m["text"]]
    got = rows(real, cid, filter='layer == "websocket" && payload contains "probe"')
    assert texts and sorted(r["frame"] for r in got) == sorted(m["frame"] for m in texts)
    http = rows(real, cid, filter='http.status == 200 && http.method == "GET"')
    assert http and {r["layer"] for r in http} == {"http"}
    assert all(r["type"] in ("request", "response") for r in http)
    tcp = rows(real, cid, filter='tcp.end == "fin" && layer == "tcp"')
    assert {r["type"] for r in tcp} == {"SYN", "SYN-ACK", "ACK", "FIN"}
    matched = rows(real, cid, filter='sio.event matches "^(chat|upl)"')
    assert sorted(r["event"] for r in matched) == ["chat", "upload"]
    everything = rows(real, cid)
    negated = rows(real, cid, filter='!(sio.event matches "^(chat|upl)")')
    assert len(negated) + len(matched) == len(everything)


def test_bad_filter_is_a_400_with_the_column(real: FlaskClient) -> None:
    cid = capture_id(real, UPGRADE)
    r = real.get(
        f"/api/captures/{cid}/messages", query_string={"filter": 'sio.event == "chat" && ws.opcode =='}
    )
    assert r.status_code == 400
    body = r.get_json()
    assert body["column"] == 36
    assert body["error"] == "filter: column 36: expected a value after '==', found the end of the filter"
    r = real.get(f"/api/captures/{cid}/messages", query_string={"filter": 'ws.opcode == "8"'})
    assert r.status_code == 400 and "ws.opcode is a number" in r.get_json()["error"]
    r = real.get("/api/filter", query_string={"filter": "tcp.retransmission || anomaly.severity == 'error'"})
    assert r.status_code == 200 and r.get_json()["fields"] == ["tcp.retransmission", "anomaly.severity"]
    assert r.get_json()["valid"] is True
    r = real.get("/api/filter", query_string={"filter": "tcp.retransmission ||"})
    assert r.status_code == 200
    assert r.get_json() == {
        "valid": False,
        "error": "filter: column 22: expected a field name, found the end of the filter",
        "column": 22,
        "filter": "tcp.retransmission ||",
    }
    names = {f["name"]: f for f in real.get("/api/filter/fields").get_json()["items"]}
    assert names["ack.latency_ms"]["type"] == "number"
    assert names["ack.latency_ms"]["applies_to"] == ["Socket.IO packets"]


def test_filter_kept_in_the_pages_links(real: FlaskClient) -> None:
    cid = capture_id(real, UPGRADE)
    page = real.get(f"/c/{cid}/messages", query_string={"filter": "connection == 0", "limit": "10"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="filter-box" value="connection == 0"' in text
    assert "filter=connection+%3D%3D+0" in text  # the next page and the detail links carry it
    bad = real.get(f"/c/{cid}/messages", query_string={"filter": "sio.event =="})
    assert bad.status_code == 200
    shown = html.unescape(bad.get_data(as_text=True))
    assert "filter: column 13: expected a value after '=='" in shown
    assert 'id="filter-box" value="sio.event =="' in shown


def test_indexed_search_answers_as_the_scan(real: FlaskClient) -> None:
    from webui.index import Filters, Index

    cid = capture_id(real, UPGRADE)
    r = real.get(f"/api/captures/{cid}/search", query_string={"q": "Hello", "limit": "1000"})
    body = r.get_json()
    assert r.status_code == 200 and body["index"]["rows"] > 100
    doc = _doc(real, cid)
    scan = Index(doc)  # no search index: every row's text is read
    assert scan.search is None
    for needle in ("hello", "chat", "ack:", "probe", 'n":4', "no-such-text", "sid", "CONNECT"):
        want = [x.id for x in scan.filter(Filters(text=needle))]
        got = real.get(f"/api/captures/{cid}/search", query_string={"q": needle, "limit": "1000"}).get_json()
        assert [x["id"] for x in got["items"]] == want, needle
        assert got["total"] == len(want)
    assert [x["id"] for x in body["items"]] == [x.id for x in scan.filter(Filters(text="hello"))]
    both = rows(real, cid, q="hello", filter='layer == "socketio"')
    assert both and all(x["layer"] == "socketio" for x in both)
    assert real.get(f"/api/captures/{cid}/search").status_code == 400


def test_indexed_search_reads_cut_rows_again() -> None:
    """The index holds the first ROW_CHARS characters of a row's text (docs/filters.md, "Search")."""
    from webui import search
    from webui.index import Filters, Index

    long_text = "".join(f"w{k:05d} " for k in range(3000))  # 21,000 characters, each word once
    doc = {
        "capture": {"first_ts": 1.0},
        "connections": [
            {
                "id": 0,
                "client": {"ip": "10.0.0.1", "port": 5000},
                "server": {"ip": "10.0.0.2", "port": 80},
                "tcp": {},
                "http": [],
                "websocket": {
                    "handshake": None,
                    "frames": [],
                    "messages": [
                        {"direction": "c2s", "ts": 1.0 + k, "frame": k + 1, "opcode": "text", "length": 5,
                         "text": long_text if k == 7 else f"short {k} w00001x"}
                        for k in range(20)
                    ],
                },
            }
        ],
    }  # fmt: skip
    ix = Index(doc)
    ix.build_search()
    assert ix.search is not None and ix.search.stats["rows_cut"] == 1
    row = next(r for r in ix.rows if r.frame == 8)
    head = search.row_text(ix, row.id)
    assert len(head) == search.ROW_CHARS
    early, late = long_text[100:120], long_text[search.ROW_CHARS + 10 : search.ROW_CHARS + 30]
    assert [r.id for r in ix.filter(Filters(text=early))] == [row.id]
    assert [r.id for r in ix.filter(Filters(text=late))] == [row.id]  # past the bound: read again
    many = [r.id for r in ix.filter(Filters(text="w00001"))]  # the long row once, and the short ones
    assert len(many) == 20 and len(set(many)) == 20
