"""Selection semantics shared by every export format (docs/exports.md "Selection")."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.export.select import Selected, Selection, default_layer
from tests.conftest import CAPTURES
from tests.export.common import BUNDLED, analysis, expected, select

NODE = CAPTURES / "sio-node-v4-default.pcap"
POLLING = CAPTURES / "sio-python-polling-only.pcap"
WS = CAPTURES / "ws-python-websockets.pcap"


@pytest.mark.parametrize("capture", BUNDLED, ids=lambda p: p.name)
def test_no_option_selects_everything(capture: Path) -> None:
    a = analysis(str(capture))
    s = select(capture)
    assert Selection().everything
    assert [c.id for c in s.connections] == [c.id for c in a.connections]
    assert s.sessions == list(a.engineio_sessions)
    assert list(s.anomalies()) == list(a.anomalies)
    for sess in s.sessions:
        assert list(s.eio_packets(sess)) == list(sess.packets)
        assert list(s.sio_packets(sess)) == list(sess.socketio.packets if sess.socketio else ())


def test_sid_selects_every_connection_of_the_session() -> None:
    a = analysis(str(NODE))
    (sess,) = a.engineio_sessions
    assert len(sess.connections) == 13  # polling requests on many connections, then the WebSocket
    s = select(NODE, sids=[sess.sid])
    assert {c.id for c in s.connections} == set(sess.connections)
    assert s.sessions == [sess]
    assert select(NODE, sids=["no-such-sid"]).connections == []


def test_connection_narrows_the_session_to_its_packets() -> None:
    a = analysis(str(NODE))
    ws_conn = next(c for c in a.connections if c.websocket is not None)
    s = select(NODE, connections=[ws_conn.id])
    assert [c.id for c in s.connections] == [ws_conn.id]
    (sess,) = s.sessions
    eio = list(s.eio_packets(sess))
    assert eio and all(p.connection == ws_conn.id and p.transport == "websocket" for p in eio)
    # every Engine.IO packet on that connection and nothing else
    assert len(eio) == sum(1 for p in sess.packets if p.connection == ws_conn.id)
    assert len(eio) < len(sess.packets)


def test_connection_and_sid_are_anded() -> None:
    a = analysis(str(NODE))
    sid = a.engineio_sessions[0].sid
    assert select(NODE, connections=[0], sids=[sid]).connections[0].id == 0
    assert select(NODE, connections=[999], sids=[sid]).connections == []
    assert select(NODE, connections=[0], sids=["other"]).sessions == []


def test_repeated_connection_is_ored() -> None:
    assert [c.id for c in select(NODE, connections=[3, 1]).connections] == [1, 3]


def test_event_selects_the_events_and_the_acks_that_answer_them() -> None:
    want = [e for e in expected(NODE)["socketio"]["events"] if e["event"] == "chat"]
    s = select(NODE, events=["chat"])
    (sess,) = s.sessions
    got = list(s.sio_packets(sess))
    events = [p for p in got if p.packet.event == "chat"]
    acks = [p for p in got if p.packet.type.name in ("ACK", "BINARY_ACK")]
    assert len(events) == len(want) >= 1
    assert len(got) == len(events) + len(acks)
    asked = {
        (e.packet.nsp, e.packet.ack_id, e.direction.other) for e in events if e.packet.ack_id is not None
    }
    assert len(acks) == len(asked)
    for p in acks:
        assert (p.packet.nsp, p.packet.ack_id, p.direction) in asked
    # acks table: only the chat events'
    assert [x.event for x in s.acks(sess)] == ["chat"] * len(asked)
    # and the whole session's connections are selected (for HAR and pcap)
    assert {c.id for c in s.connections} == set(sess.connections)


def test_namespace_selects_packets_of_that_namespace() -> None:
    a = analysis(str(NODE))
    (sess,) = a.engineio_sessions
    assert sess.socketio is not None
    want = [p for p in sess.socketio.packets if p.to_dict()["nsp"] == "/chat"]
    s = select(NODE, namespaces=["/chat"])
    got = list(s.sio_packets(s.sessions[0]))
    assert got == want and len(want) >= 2
    assert all(a.nsp == "/chat" for a in s.acks(s.sessions[0]))


def test_an_event_nobody_sent_selects_nothing() -> None:
    s = select(NODE, events=["no such event"])
    assert s.sessions == [] and s.connections == [] and list(s.anomalies()) == []


def test_anomalies_follow_the_connections() -> None:
    a = analysis(str(POLLING))
    assert len(a.anomalies) > 2
    s = select(POLLING, connections=[1])
    got = list(s.anomalies())
    assert got and all(x.connection == 1 for x in got)
    assert len(got) == sum(1 for x in a.anomalies if x.connection == 1)


def test_sid_of_requests_and_connections() -> None:
    a = analysis(str(POLLING))
    (sess,) = a.engineio_sessions
    s = Selected(a, Selection())
    first = a.connections[0].http[0].request
    assert first is not None and "sid=" not in first.target  # the handshake GET has no sid yet
    assert s.sid_of_request(0, first.frame, first.target) == sess.sid
    assert s.sid_of_connection(1) == sess.sid


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
    assert default_layer(select(capture)) == layer
