"""JSON Lines: read back and compared with the analysis, and with the applications' own records."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest

from analyzer.export.jsonl import LAYERS
from analyzer.export.jsonl_stream import JsonlSink
from tests.conftest import CAPTURES
from tests.export.common import BUNDLED, SIO_CAPTURES, WS_CAPTURES, analysis, expected, export_jsonl
from tests.export.craft import sio_over_ws


def read_back(capture: Path, layer: str, **kw: Any) -> list[dict[str, Any]]:
    records = export_jsonl(capture, layer, **kw)
    assert {r["layer"] for r in records} <= {layer}
    return records


@pytest.mark.parametrize("capture", BUNDLED, ids=lambda p: p.name)
def test_websocket_layer_equals_the_analysis(capture: Path) -> None:
    a = analysis(str(capture))
    got = read_back(capture, "websocket")
    want = sorted(
        ((m.frame, c.id, m.to_dict()) for c in a.connections if c.websocket for m in c.websocket.messages),
        key=lambda t: t[0],
    )
    assert len(got) == len(want)
    for rec, (_, cid, m) in zip(got, want, strict=True):
        assert rec["layer"] == "websocket" and rec["connection"] == cid
        for k in ("direction", "ts", "frame", "opcode", "compressed", "length", "truncated", "packets"):
            assert rec[k] == m[k], k
        assert rec["frames"] == m["frames"]
        if m["text"] is not None:
            assert rec["data"] == m["text"]
        else:
            assert rec["data"] == {"$hex": m["data_hex"]}
    assert [r["frame"] for r in got] == sorted(r["frame"] for r in got)


@pytest.mark.parametrize("capture", WS_CAPTURES, ids=lambda p: p.name)
def test_websocket_layer_equals_what_the_applications_sent(capture: Path) -> None:
    want = expected(capture)["websocket"]["messages"]
    got = read_back(capture, "websocket")
    assert len(got) == len(want)
    for rec, w in zip(got, want, strict=True):
        assert rec["direction"] == w["direction"] and rec["opcode"] == w["opcode"]
        data = rec["data"]
        raw = bytes.fromhex(data["$hex"]) if isinstance(data, dict) else data.encode("utf-8")
        assert len(raw) == w["length"] == rec["length"]
        assert hashlib.sha256(raw).hexdigest() == w["sha256"]
        assert rec["sid"] is None


@pytest.mark.parametrize("capture", SIO_CAPTURES, ids=lambda p: p.name)
def test_socketio_events_equal_what_the_applications_saw(capture: Path) -> None:
    """The independent oracle: the events the Socket.IO handlers received (per direction, in order)."""
    rec = expected(capture)["socketio"]
    got = read_back(capture, "socketio")
    assert {r["sid"] for r in got} == {rec["sid"]}
    for direction in ("c2s", "s2c"):
        want = [
            (e["nsp"], e["event"], e["args"], e["ack_id"])
            for e in rec["events"]
            if e["direction"] == direction
        ]
        mine = [
            (r["nsp"], r["event"], r["args"], r["ack_id"])
            for r in got
            if r["direction"] == direction and r["type"] in ("EVENT", "BINARY_EVENT")
        ]
        assert mine == want


@pytest.mark.parametrize("capture", SIO_CAPTURES, ids=lambda p: p.name)
def test_session_layers_equal_the_analysis(capture: Path) -> None:
    (sess,) = analysis(str(capture)).engineio_sessions
    eio = read_back(capture, "engineio")
    want = sorted((p.to_dict() for p in sess.packets), key=lambda d: d["frame"])
    assert len(eio) == len(want)
    for r, d in zip(eio, want, strict=True):
        assert (r["direction"], r["ts"], r["frame"], r["transport"], r["connection"], r["type"]) == (
            d["direction"],
            d["ts"],
            d["frame"],
            d["transport"],
            d["connection"],
            d["type"],
        )
        assert r["data"] == ({"$hex": d["data_hex"]} if d["data_hex"] is not None else d["data"])
    assert sess.socketio is not None
    sio = read_back(capture, "socketio")
    want_sio = sorted((p.to_dict() for p in sess.socketio.packets), key=lambda d: d["frame"])
    assert len(sio) == len(want_sio)
    for r, d in zip(sio, want_sio, strict=True):
        for k in ("direction", "frame", "type", "nsp", "ack_id", "event", "args", "data", "attachments"):
            assert r[k] == d[k], k
        assert r["packets"] == d["frames"]


def test_selection_applies() -> None:
    node = CAPTURES / "sio-node-v4-default.pcap"
    got = read_back(node, "socketio", events=["chat"])
    assert [r["type"] for r in got] == ["EVENT", "ACK"]
    assert got[0]["event"] == "chat" and got[1]["ack_id"] == got[0]["ack_id"]
    ws_conn = next(c.id for c in analysis(str(node)).connections if c.websocket is not None)
    eio = read_back(node, "engineio", connections=[ws_conn])
    assert eio and {r["transport"] for r in eio} == {"websocket"}


def test_unknown_layer() -> None:
    with pytest.raises(ValueError, match="unknown layer 'tcp'"):
        JsonlSink(io.StringIO(), layer="tcp")
    assert LAYERS == ("websocket", "engineio", "socketio")


def test_hostile_strings_stay_valid_utf8_json(tmp_path: Path) -> None:
    cap = tmp_path / "evil.pcap"
    cap.write_bytes(sio_over_ws([("c2s", ["ev\ud800", "\udfff", "\x00\u2028"])], [("s2c", b"\xff\x00", 2)]))
    # written to a strict UTF-8 file (must not raise), read back line by line: no U+2028 split a record
    ev = [r for r in read_back(cap, "socketio") if r["type"] == "EVENT"]
    assert ev[0]["event"] == "ev\ud800" and ev[0]["args"] == ["\udfff", "\x00\u2028"]
    assert {"$hex": "ff00"} in [r["data"] for r in read_back(cap, "websocket")]
