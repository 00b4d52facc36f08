"""Figures: timeline lanes and markers, binning of large captures, escaping, latency pairing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.webui.conftest import synthetic_index
from tests.webui.synthetic import T0, synthetic_doc
from webui import figures, latencies
from webui.index import Index


def test_timeline_lanes_and_markers() -> None:
    ix = synthetic_index()
    fig = figures.timeline_figure(ix)
    ticks = fig["layout"]["yaxis"]["ticktext"]
    assert ticks[0].startswith("TCP #0") and ticks[1].startswith("TCP #1") and ticks[2].startswith("EIO #0")
    names = {t["name"] for t in fig["data"]}
    assert {
        "TCP client \u2192 server",
        "Socket.IO server \u2192 client",
        "WebSocket control server \u2192 client",
        "anomaly",
    } <= names
    rows = [c["row"] for t in fig["data"] if t["name"] != "anomaly" for c in t["customdata"]]
    assert sorted(rows) == list(range(len(ix.rows)))
    # Engine.IO and Socket.IO rows sit on the session lane (2), the rest on their connection's lane.
    for t in fig["data"]:
        if t["name"].startswith(("Engine.IO", "Socket.IO")):
            assert all(round(y) == 2 for y in t["y"])
        elif t["name"].startswith("TCP"):
            assert all(round(y) in (0, 1) for y in t["y"])


def test_timeline_escapes_captured_text() -> None:
    text = json.dumps(figures.timeline_figure(synthetic_index()))
    assert "<script" not in text and "<svg" not in text and "<img" not in text
    assert "&lt;svg onload=alert(3)&gt;" in text and "&lt;script&gt;" in text


def _many_rows_doc(n: int) -> dict[str, Any]:
    doc = synthetic_doc()
    msgs = doc["connections"][1]["websocket"]["messages"]
    base = msgs[0]
    msgs[:] = [dict(base, ts=T0 + i * 1e-4, frame=17) for i in range(n)]
    return doc


def test_timeline_bins_large_captures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(figures, "MAX_POINTS", 500)
    ix = Index(_many_rows_doc(2000))
    fig = figures.timeline_figure(ix)
    assert fig["meta"]["binned"] is True
    markers = sum(len(t["x"]) for t in fig["data"] if t["name"] != "anomaly")
    assert markers <= 5 * figures.BINS  # bins per (lane, category, direction), not one per record
    counted = 0
    for t in fig["data"]:
        for text, c in zip(t["text"], t["customdata"], strict=True):
            if "zoom" in c:
                counted += int(text.split(" ")[0])
    assert counted == len(ix.rows)
    # Zooming into a short range gives single records again.
    zoomed = figures.timeline_figure(ix, 0.0, 0.01)
    assert zoomed["meta"]["binned"] is False and zoomed["meta"]["points"] <= 500


def test_latency_pairs() -> None:
    ix = synthetic_index()
    t = latencies.latency_tables(ix)
    # Frames are 10 ms apart in the synthetic capture.
    assert [(p["direction"], p["ms"]) for p in t["ws_ping"]] == [("s2c", 10.0)]  # Ping 23 -> Pong 24
    assert [(p["direction"], p["ms"]) for p in t["heartbeat"]] == [("s2c", 10.0)]  # EIO v4: server pings
    assert [(u["what"], u["ms"]) for u in t["upgrades"]] == [
        ("WebSocket handshake", 10.0),  # request 15 -> 101 at 16
        ("Engine.IO upgrade (2probe \u2192 5)", 20.0),  # 2probe at 17 -> 5 at 19
    ]
    assert [(a["event"], a["ms"]) for a in t["acks"]] == [("chat", 10.0), ("hello", None)]
    assert t["ack_summary"]["chat"]["n"] == 1


def test_latency_shows_the_pairs_of_the_analysis() -> None:
    """The analysis pairs pings, heartbeats, acks and upgrades (its records say which packets):
    the figures show those pairs, with the rows of their packets, and pair nothing themselves."""
    ix = synthetic_index()
    rows = {(r.layer, r.kind, r.frame): r.id for r in ix.rows}
    (ping,) = latencies.ws_ping_rtts(ix)
    assert (ping["ping_row"], ping["pong_row"]) == (
        rows["websocket", "ping", 23],
        rows["websocket", "pong", 24],
    )
    (beat,) = latencies.heartbeat_rtts(ix)
    assert (beat["ping_row"], beat["pong_row"]) == (
        rows["engineio", "ping", 25],
        rows["engineio", "pong", 26],
    )
    doc = synthetic_doc()
    ws = doc["connections"][1]["websocket"]
    ws["pings"][0].update(pong_frame=None, pong_ts=None, rtt_ms=None)  # the Pong had other data
    doc["engineio_sessions"][0]["heartbeat"]["pairs"] = []
    doc["engineio_sessions"][0]["upgrade"]["attempts"][0].update(outcome="failed", upgrade_ms=None)
    doc["engineio_sessions"][0]["socketio"]["acks"][0]["event"] = None
    t = latencies.latency_tables(Index(doc))
    assert t["ws_ping"] == [] and t["heartbeat"] == []
    assert [u["what"] for u in t["upgrades"]] == ["WebSocket handshake"]
    assert [a["event"] for a in t["acks"]] == ["?", "hello"]


def test_osi_layers() -> None:
    layers = figures.osi_layers(synthetic_index())
    assert [x["layer"] for x in layers] == [
        "Link",
        "IP",
        "TCP",
        "HTTP",
        "WebSocket framing",
        "Engine.IO",
        "Socket.IO payload",
    ]
    by = {x["layer"]: x for x in layers}
    assert by["Link"]["bytes"] == 840 and by["TCP"]["packets"] == 60
    # 16 frames with 2-byte headers, plus a 4-byte mask key on the 9 client frames
    # (packets 17, 19, 20, 21, 24, 26, 27, 28, 31) (RFC 6455 §5.2).
    assert by["WebSocket framing"]["bytes"] == 16 * 2 + 9 * 4
    assert by["Socket.IO payload"]["packets"] == 6  # packets 8, 21, 22, 28, 29, 30
    assert by["Engine.IO"]["packets"] == 14


def test_empty_figures_say_so() -> None:
    figs = latencies.latency_figures(Index({}))
    assert all("nothing to show" in f["layout"]["annotations"][0]["text"] for f in figs.values())


def test_anomalies_sit_on_their_lane() -> None:
    from tests.webui.synthetic import synthetic_frame_ts

    doc = synthetic_doc()
    doc["anomalies"].append(
        {"code": "x.y", "severity": "warn", "layer": "socketio", "message": {"k": [1, 2]}, "frames": [25]}
    )
    doc["anomalies"].append(
        {"code": "x.z", "severity": "chat", "layer": "link", "message": "?", "frames": [2]}
    )
    fig = figures.timeline_figure(Index(doc, synthetic_frame_ts()))
    ticks = fig["layout"]["yaxis"]["ticktext"]
    marks = next(t for t in fig["data"] if t["name"] == "anomaly")
    lanes = [ticks[y] for y in marks["y"]]  # whole lane numbers: on a lane, not between two
    assert lanes[0].startswith("TCP #1") and lanes[1].startswith("TCP #0")  # their connections
    assert lanes[2].startswith("EIO #0") and lanes[3] == "anomalies of no connection"
    assert '{"k": [1, 2]}' in marks["text"][2]
