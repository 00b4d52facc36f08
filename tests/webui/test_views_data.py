"""The data of issue #18's views, through the Flask test client and on the bundled captures: the
timeline's answer is bounded and follows the window, the pane's rows and deltas, a connection's
packets read again by the analyzer, follow stream's gap marks, the downloads' refusals."""

from __future__ import annotations

import itertools
from typing import Any

from flask.testing import FlaskClient

from tests.webui.conftest import capture_id, rows

REAL = "sio-python-polling-upgrade.pcap"


def _timeline(client: FlaskClient, cid: str, **q: Any) -> dict[str, Any]:
    r = client.get(f"/api/captures/{cid}/timeline", query_string={k: str(v) for k, v in q.items()})
    assert r.status_code == 200, r.get_data(as_text=True)
    return dict(r.get_json())


def test_timeline_answer_is_bounded_and_binned_past_the_limit(real: FlaskClient, real_app: Any) -> None:
    cid = capture_id(real, "sio-node-v4-default.pcap")
    whole = _timeline(real, cid)
    assert not whole["meta"]["binned"] and whole["meta"]["points"] == whole["meta"]["rows"]
    assert {t["type"] for t in whole["traces"]} == {"scattergl"}
    real_app.config["TIMELINE_MAX_POINTS"] = 40
    try:
        binned = _timeline(real, cid)
    finally:
        real_app.config.pop("TIMELINE_MAX_POINTS")
    assert binned["meta"]["binned"] and 0 < binned["meta"]["points"] <= 40
    names = [t["name"] for t in binned["traces"] if t["mode"] == "markers"]
    assert len(names) == len(set(names))  # a trace per category and direction, all lanes in it
    lanes = {y for t in binned["traces"] if t["mode"] == "markers" for y in t["y"]}
    assert len({round(y) for y in lanes}) > 1
    zooms = [c["zoom"] for t in binned["traces"] for c in t.get("customdata", []) if "zoom" in c]
    assert zooms and all(a < b for a, b in zooms)


def test_timeline_lanes_are_those_of_the_window(real: FlaskClient) -> None:
    cid = capture_id(real, "sio-node-v4-default.pcap")
    whole = _timeline(real, cid)
    items = rows(real, cid)
    t = items[len(items) // 2]["t"]
    narrow = _timeline(real, cid, t0=t - 0.0005, t1=t + 0.0005)
    assert 0 < len(narrow["lanes"]) < len(whole["lanes"])
    assert set(narrow["lanes"]) <= set(whole["lanes"])
    # every point of the narrow window is inside it and on one of its lanes
    for tr in narrow["traces"]:
        if tr["mode"] == "markers":
            assert all(t - 0.0005 <= x <= t + 0.0005 for x in tr["x"])
            assert all(-0.5 < y < len(narrow["lanes"]) - 0.5 for y in tr["y"])
    # a window with no record still shows the lanes open across it
    gaps = [(a["t"], b["t"]) for a, b in itertools.pairwise(items) if b["t"] - a["t"] > 0.05]
    assert gaps
    a, b = gaps[0]
    quiet = _timeline(real, cid, t0=a + 0.01, t1=b - 0.01)
    assert quiet["meta"]["rows"] == 0 and quiet["meta"]["quiet"] and quiet["lanes"]


def test_timeline_anomalies_are_bands_on_lanes(real: FlaskClient) -> None:
    cid = capture_id(real, "sio-node-v4-default.pcap")
    ans = _timeline(real, cid)
    bands = [t for t in ans["traces"] if t["name"].startswith("anomalies")]
    assert bands and all(t["mode"] == "lines" for t in bands)
    ys = [y for t in bands for y in t["y"] if y is not None]
    assert ys and all(isinstance(y, int) and 0 <= y < len(ans["lanes"]) for y in ys)


def test_pane_rows_default_to_socketio_with_deltas(real: FlaskClient) -> None:
    cid = capture_id(real, REAL)
    page = real.get(f"/api/captures/{cid}/pane?limit=1000").get_json()
    assert page["layers"] == ["socketio"] and page["total"] == len(page["items"]) > 10
    assert {r["layer"] for r in page["items"]} == {"socketio"}
    items = page["items"]
    assert items[0]["delta"] is None
    for a, b in itertools.pairwise(items):
        assert abs(b["delta"] - (b["t"] - a["t"])) < 2e-6
    assert {r["arrow"] for r in items} == {"↑", "↓"}
    # the second page's first delta is from the first page's last row
    second = real.get(f"/api/captures/{cid}/pane?limit=5&offset=5").get_json()["items"][0]
    assert abs(second["delta"] - (items[5]["t"] - items[4]["t"])) < 2e-6
    everything = real.get(f"/api/captures/{cid}/pane?layers=all&limit=1000").get_json()
    assert {r["layer"] for r in everything["items"]} == {"tcp", "http", "websocket", "engineio", "socketio"}
    ws = real.get(f"/api/captures/{capture_id(real, 'ws-python-websockets.pcap')}/pane").get_json()
    assert ws["layers"] == ["websocket"] and any("(opcode 1)" in r["label"] for r in ws["items"])


def test_connection_packets_are_the_connections(real: FlaskClient, real_app: Any) -> None:
    from analyzer.pipeline.access import connection_packets
    from webui.connview import conn_ends

    cid = capture_id(real, REAL)
    conn = real.get(f"/api/captures/{cid}/connections").get_json()["items"][0]
    store = real_app.extensions["socketscope.store"]
    entry = store.get(cid)
    _, ix = store.index(entry, 60)
    ends = conn_ends(ix, conn["id"])
    pkts, total = connection_packets(entry.path, ends, 0, 1000, ix.capture_marks)
    assert total == len(pkts) == conn["tcp"]["packets"]["c2s"] + conn["tcp"]["packets"]["s2c"]
    page, more = connection_packets(entry.path, ends, 10, 5, ix.capture_marks)
    assert [p["frame"] for p in page] == [p["frame"] for p in pkts[10:15]] and more is None
    assert sum(p["c2s"] for p in pkts) == conn["tcp"]["packets"]["c2s"]
    assert conn_ends(ix, 10_000) is None


def test_follow_stream_marks_a_missing_segment_as_a_gap(real: FlaskClient, real_app: Any) -> None:
    from analyzer.pipeline.access import connection_stream
    from webui.connview import conn_ends, follow_stream

    cid = capture_id(real, REAL)
    store = real_app.extensions["socketscope.store"]
    entry = store.get(cid)
    _, ix = store.index(entry, 60)
    pieces, cut = connection_stream(entry.path, conn_ends(ix, 0), ix.capture_marks)
    assert pieces and not cut
    whole = follow_stream(pieces, hex_mode=False)
    assert not [c for c in whole if "gap" in c]
    assert "".join(c["text"] for c in whole if c["c2s"]).startswith("GET /socket.io/")
    # the capture without one client segment: its bytes are a gap of exactly that size
    k = next(i for i, p in enumerate(pieces) if p.c2s and i > 2)
    lost = pieces[k]
    shown = follow_stream(pieces[:k] + pieces[k + 1 :], hex_mode=False)
    gaps = [c for c in shown if "gap" in c]
    assert len(gaps) == 1 and gaps[0]["gap"] == len(lost.payload) and gaps[0]["c2s"]
    # a retransmission shows once
    again = follow_stream([*pieces[: k + 1], lost, *pieces[k + 1 :]], hex_mode=False)
    assert [c["text"] for c in again] == [c["text"] for c in whole]
    hexed = follow_stream(pieces, hex_mode=True)
    assert hexed[0]["text"].startswith("47 45 54 20")


def test_downloads_refuse_what_they_cannot_do(real: FlaskClient) -> None:
    cid = capture_id(real, REAL)
    assert real.get(f"/c/{cid}/download?format=exe").status_code == 400
    assert real.get("/c/nope/download?format=har").status_code == 404
    assert real.get(f"/c/{cid}/connections/999/packets").status_code == 404
    assert real.get(f"/c/{cid}/connections/999/stream").status_code == 404
    r = real.get(f"/c/{cid}/download?format=csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"  # the pane's top layer: Socket.IO
    assert r.get_data(as_text=True).startswith("sid,connection,transport,direction")
    r.close()
    r = real.get(f"/c/{cid}/download?format=csv&layers=all&table=nothing")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    r.close()
