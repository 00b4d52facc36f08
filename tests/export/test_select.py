"""Selection semantics shared by every export format (docs/exports.md "Selection"), checked on
what the exports write: the CSV tables name each connection, session, packet, ACK and anomaly
kept, and the other formats keep the same ones."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from analyzer.export.csv_stream import CsvSink
from analyzer.export.har_stream import HarSink
from analyzer.export.jsonl import LAYERS
from analyzer.export.jsonl_stream import JsonlSink
from analyzer.export.pcapslice import PcapSliceSink
from analyzer.export.run import export_capture
from analyzer.export.select import Selection
from analyzer.model.analysis import Analysis, ConnectionRecord
from analyzer.model.session import EngineIOSession, SioPacketRecord
from tests.conftest import CAPTURES, bundled_captures, corpus_captures, corpus_id
from tests.export.common import (
    BUNDLED,
    Table,
    analysis,
    expected,
    export_csv,
    export_har,
    export_jsonl,
    read_tables,
)

NODE = CAPTURES / "sio-node-v4-default.pcap"
POLLING = CAPTURES / "sio-python-polling-only.pcap"
WS = CAPTURES / "ws-python-websockets.pcap"
ALL = bundled_captures() + corpus_captures()
_dirs = itertools.count()


def tables(capture: Path, tmp_path: Path, **kw: Any) -> dict[str, Table]:
    return export_csv(capture, tmp_path / f"t{next(_dirs)}", raw=True, **kw)


def ids(t: dict[str, Table]) -> list[int]:
    return [int(r["id"]) for r in t["connections"]]


def packets(t: dict[str, Table], table: str) -> list[tuple[str, int, int]]:
    return [(r["sid"], int(r["connection"]), int(r["frame"])) for r in t[table]]


@pytest.mark.parametrize("capture", BUNDLED, ids=lambda p: p.name)
def test_no_option_selects_everything(capture: Path, tmp_path: Path) -> None:
    a = analysis(str(capture))
    t = tables(capture, tmp_path)
    assert ids(t) == [c.id for c in a.connections]
    assert packets(t, "engineio_packets") == [
        (s.sid, p.connection, p.frame) for s in a.engineio_sessions for p in s.packets
    ]
    assert packets(t, "socketio_packets") == [
        (s.sid, p.connection, p.frame)
        for s in a.engineio_sessions
        for p in (s.socketio.packets if s.socketio else ())
    ]
    assert len(t["acks"]) == sum(len(s.socketio.acks) for s in a.engineio_sessions if s.socketio)
    assert [(r["code"], r["connection"]) for r in t["anomalies"]] == [
        (x.code, "" if x.connection is None else str(x.connection)) for x in a.anomalies
    ]


def test_sid_selects_every_connection_of_the_session(tmp_path: Path) -> None:
    (sess,) = analysis(str(NODE)).engineio_sessions
    assert len(sess.connections) == 13  # polling requests on many connections, then the WebSocket
    t = tables(NODE, tmp_path, sids=[sess.sid])
    assert set(ids(t)) == set(sess.connections)
    assert packets(t, "engineio_packets") == [(sess.sid, p.connection, p.frame) for p in sess.packets]
    nothing = tables(NODE, tmp_path, sids=["no-such-sid"])
    assert all(rows == [] for rows in nothing.values())


def test_connection_narrows_the_session_to_its_packets(tmp_path: Path) -> None:
    a = analysis(str(NODE))
    (sess,) = a.engineio_sessions
    ws_conn = next(c for c in a.connections if c.websocket is not None)
    t = tables(NODE, tmp_path, connections=[ws_conn.id])
    assert ids(t) == [ws_conn.id]
    eio = t["engineio_packets"]
    assert eio and all(int(r["connection"]) == ws_conn.id and r["transport"] == "websocket" for r in eio)
    # every Engine.IO packet on that connection and nothing else
    assert len(eio) == sum(1 for p in sess.packets if p.connection == ws_conn.id) < len(sess.packets)
    assert {int(r["connection"]) for r in t["socketio_packets"]} == {ws_conn.id}
    assert {int(r["connection"]) for r in t["http"]} == {ws_conn.id}  # its upgrade only


def test_connection_and_sid_are_anded(tmp_path: Path) -> None:
    sid = analysis(str(NODE)).engineio_sessions[0].sid
    assert ids(tables(NODE, tmp_path, connections=[0], sids=[sid])) == [0]
    assert ids(tables(NODE, tmp_path, connections=[999], sids=[sid])) == []
    other = tables(NODE, tmp_path, connections=[0], sids=["other"])
    assert ids(other) == [] and other["engineio_packets"] == []


def test_repeated_connection_is_ored(tmp_path: Path) -> None:
    assert ids(tables(NODE, tmp_path, connections=[3, 1])) == [1, 3]


def test_event_selects_the_events_and_the_acks_that_answer_them(tmp_path: Path) -> None:
    (sess,) = analysis(str(NODE)).engineio_sessions
    want = [e for e in expected(NODE)["socketio"]["events"] if e["event"] == "chat"]
    t = tables(NODE, tmp_path, events=["chat"])
    got = t["socketio_packets"]
    events = [r for r in got if r["event"] == "chat"]
    acks = [r for r in got if r["type"] in ("ACK", "BINARY_ACK")]
    assert len(events) == len(want) >= 1
    assert len(got) == len(events) + len(acks)
    other = {"c2s": "s2c", "s2c": "c2s"}
    asked = {(r["nsp"], r["ack_id"], other[r["direction"]]) for r in events if r["ack_id"]}
    assert len(acks) == len(asked)
    for r in acks:
        assert (r["nsp"], r["ack_id"], r["direction"]) in asked
    # acks table: only the chat events'
    assert [r["event"] for r in t["acks"]] == ["chat"] * len(asked)
    # and the whole session's connections are selected (for HAR and pcap)
    assert set(ids(t)) == set(sess.connections)
    # JSON Lines keeps the same packets
    records = export_jsonl(NODE, "socketio", events=["chat"])
    assert [(r["frame"], r["type"]) for r in records] == [(int(r["frame"]), r["type"]) for r in got]


def test_namespace_selects_packets_of_that_namespace(tmp_path: Path) -> None:
    (sess,) = analysis(str(NODE)).engineio_sessions
    assert sess.socketio is not None
    want = [p.to_dict() for p in sess.socketio.packets if p.to_dict()["nsp"] == "/chat"]
    t = tables(NODE, tmp_path, namespaces=["/chat"])
    got = [(int(r["frame"]), r["type"], r["nsp"]) for r in t["socketio_packets"]]
    assert got == [(d["frame"], d["type"], d["nsp"]) for d in want] and len(want) >= 2
    assert t["acks"] and all(r["nsp"] == "/chat" for r in t["acks"])


def test_an_event_nobody_sent_selects_nothing(tmp_path: Path) -> None:
    t = tables(NODE, tmp_path, events=["no such event"])
    assert all(rows == [] for rows in t.values())
    assert export_har(NODE, events=["no such event"])["log"]["entries"] == []
    assert export_jsonl(NODE, events=["no such event"]) == []


def test_anomalies_follow_the_connections(tmp_path: Path) -> None:
    a = analysis(str(POLLING))
    assert len(a.anomalies) > 2
    got = tables(POLLING, tmp_path, connections=[1])["anomalies"]
    assert got and all(r["connection"] == "1" for r in got)
    assert [r["code"] for r in got] == [x.code for x in a.anomalies if x.connection == 1]


def test_anomalies_of_no_connection_only_without_options(tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(WS.read_bytes()[:-100])  # a damaged capture: capture.truncated, of no connection
    every = [(r["code"], r["connection"]) for r in tables(cut, tmp_path)["anomalies"]]
    assert ("capture.truncated", "") in every
    some = [(r["code"], r["connection"]) for r in tables(cut, tmp_path, connections=[0])["anomalies"]]
    assert some == [x for x in every if x[1] == "0"]


def test_sid_of_requests_and_connections(tmp_path: Path) -> None:
    a = analysis(str(POLLING))
    (sess,) = a.engineio_sessions
    first = a.connections[0].http[0].request
    assert first is not None and "sid=" not in first.target  # the handshake GET has no sid yet
    t = tables(POLLING, tmp_path)
    (row,) = [r for r in t["http"] if (r["connection"], r["index"]) == ("0", "0")]
    assert row["sid"] == sess.sid
    assert next(r["sids"] for r in t["connections"] if r["id"] == "1") == sess.sid
    (entry,) = [
        e
        for e in export_har(POLLING)["log"]["entries"]
        if (e["_socketscope"]["connection"], e["_socketscope"]["exchange"]) == (0, 0)
    ]
    assert entry["_socketscope"]["sid"] == sess.sid


@pytest.mark.parametrize(
    ("capture", "layer"),
    [
        (WS, "websocket"),
        (NODE, "socketio"),
        (POLLING, "socketio"),
        (CAPTURES / "ws-node-ws.pcapng", "websocket"),
    ],
    ids=lambda v: getattr(v, "name", v),
)
def test_default_layer(capture: Path, layer: str) -> None:
    """Socket.IO if a selected session has some, else Engine.IO if any, else WebSocket."""
    out = io.StringIO()
    sink = JsonlSink(out, layer=None)
    export_capture(str(capture), sink)
    assert sink.layer == layer
    assert out.getvalue() and {r["layer"] for r in export_jsonl(capture)} == {layer}


# -- every capture, every kind of selection, every format --------------------------------------------
def _selections(a: Analysis) -> list[Selection]:
    out = [Selection()]
    ws = [c.id for c in a.connections if c.websocket is not None]
    if ws:
        out.append(Selection.of(connections=[ws[-1]]))
    if a.engineio_sessions:
        s = a.engineio_sessions[-1]
        out.append(Selection.of(sids=[s.sid]))
        out.append(Selection.of(sids=[s.sid], connections=s.connections[-1:]))
        events = [p.packet.event for p in (s.socketio.packets if s.socketio else ()) if p.packet.event]
        if events:
            out.append(Selection.of(events=[events[0]]))
            out.append(Selection.of(namespaces=["/"], events=[events[-1]]))
    out.append(Selection.of(sids=["no-such-sid"]))
    return out


def _oracle(a: Analysis, sel: Selection) -> tuple[list[ConnectionRecord], list[EngineIOSession]]:
    """The selected connections and sessions, as docs/exports.md "Selection" says."""

    def matches(p: SioPacketRecord) -> bool:
        return (not sel.namespaces or p.packet.nsp in sel.namespaces) and (
            not sel.events or p.packet.event in sel.events
        )

    sessions = [
        s
        for s in a.engineio_sessions
        if (not sel.sids or s.sid in sel.sids)
        and (not sel.connections or sel.connections & set(s.connections))
        and (not sel.packet_level or any(matches(p) for p in (s.socketio.packets if s.socketio else ())))
    ]
    ids = {c.id for c in a.connections}
    if sel.connections:
        ids &= sel.connections
    if sel.sids or sel.packet_level:
        ids &= {c for s in sessions for c in s.connections}
    return [c for c in a.connections if c.id in ids], sessions


def _export_all(cap: Path, out: Path, sel: Selection) -> tuple[dict[str, Table], dict[str, Any], Any]:
    """Every format over one reading of the capture: the CSV tables, the JSON Lines records of
    each layer (and "default"), the HAR document; and the slice's result."""
    texts = {layer: io.StringIO() for layer in (*LAYERS, "default", "har")}
    sinks: list[Any] = [JsonlSink(texts[layer], sel, layer) for layer in LAYERS]
    sinks += [JsonlSink(texts["default"], sel), HarSink(texts["har"], sel), CsvSink(str(out / "csv"), sel)]
    with (out / "slice.pcapng").open("wb") as fh:
        sinks.append(PcapSliceSink(fh, sel))
        export_capture(str(cap), *sinks)
    docs: dict[str, Any] = {
        k: [json.loads(x) for x in v.getvalue().splitlines()] for k, v in texts.items() if k != "har"
    }
    docs["har"] = json.loads(texts["har"].getvalue())
    return read_tables(out / "csv"), docs, sinks[-1].result


@pytest.mark.parametrize("cap", ALL, ids=lambda p: corpus_id(p) if "corpus" in str(p) else p.name)
def test_every_format_keeps_what_the_selection_says(cap: Path, tmp_path: Path) -> None:
    a = analysis(str(cap))
    for k, sel in enumerate(_selections(a)):
        conns, sessions = _oracle(a, sel)
        (tmp_path / str(k)).mkdir()
        t, docs, sliced = _export_all(cap, tmp_path / str(k), sel)
        on = sel.connections or {c.id for c in a.connections}  # the packets of a session kept
        assert ids(t) == [c.id for c in conns], sel
        assert packets(t, "engineio_packets") == [
            (s.sid, p.connection, p.frame) for s in sessions for p in s.packets if p.connection in on
        ], sel
        sio = [
            (s.sid, p)
            for s in sessions
            for p in (s.socketio.packets if s.socketio else ())
            if p.connection in on
        ]
        if not sel.packet_level:
            assert packets(t, "socketio_packets") == [(sid, p.connection, p.frame) for sid, p in sio], sel
        got = {(int(r["connection"]), int(r["frame"])) for r in t["socketio_packets"]}
        assert got <= {(p.connection, p.frame) for _, p in sio}, sel
        messages = [(c.id, m.frame) for c in conns if c.websocket is not None for m in c.websocket.messages]
        assert [(int(r["connection"]), int(r["frame"])) for r in t["websocket_messages"]] == messages, sel
        assert [(int(r["connection"]), int(r["index"])) for r in t["http"]] == [
            (c.id, x.index) for c in conns for x in c.http
        ], sel
        kept = {c.id for c in conns}
        assert [(r["code"], r["connection"]) for r in t["anomalies"]] == [
            (x.code, str(x.connection) if x.connection is not None else "")
            for x in a.anomalies
            if (x.connection is None and sel.everything) or x.connection in kept
        ], sel
        # JSON Lines: the same records at each layer, merged in capture order
        for layer, table in zip(
            LAYERS, ("websocket_messages", "engineio_packets", "socketio_packets"), strict=True
        ):
            records = docs[layer]
            assert sorted((r["connection"], r["frame"]) for r in records) == sorted(
                (int(r["connection"]), int(r["frame"])) for r in t[table]
            ), (sel, layer)
            assert [r["frame"] for r in records] == sorted(r["frame"] for r in records)
        chosen = "socketio" if any(s.socketio for s in sessions) else "engineio" if sessions else "websocket"
        assert docs["default"] == docs[chosen], sel
        # HAR: an entry per exchange with a request, a WebSocket without its handshake too
        entries = docs["har"]["log"]["entries"]
        assert {int(e["connection"]) for e in entries} <= {c.id for c in conns}
        assert sum(len(e.get("_webSocketMessages", ())) for e in entries) == len(messages), sel
        # pcap: every packet of the selected connections
        assert sliced.packets == sum(c.tcp["packets"]["c2s"] + c.tcp["packets"]["s2c"] for c in conns), sel
