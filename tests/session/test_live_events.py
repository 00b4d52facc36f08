"""What the session builder tells a live observer (analyzer/session/observer.py) as it collects:
each Engine.IO packet with its session, each Socket.IO packet once complete, with the event an
ACK answers; the observer sees the facts the session's analysis gives, as they arrive."""

from __future__ import annotations

from typing import Any

from analyzer.model.common import Anomaly
from analyzer.model.session import AckRecord, EioPacketRecord, SioPacketRecord
from analyzer.session import SessionBuilder
from tests.session.test_builder import SID, Flow, python_socketio_v5_flow, websocket_only_flow


class Recorder:
    def __init__(self) -> None:
        self.eio: list[tuple[str, str, int]] = []
        self.sio: list[tuple[str, str, Any, int]] = []
        self.answers: list[tuple[int, AckRecord]] = []
        self.anomalies: list[Anomaly] = []

    def on_anomaly(self, anomaly: Anomaly) -> None:
        self.anomalies.append(anomaly)

    def on_eio_packet(self, session: str, record: EioPacketRecord) -> None:
        self.eio.append((session, record.packet.type.wire_name, record.frame))

    def on_sio_packet(self, session: str, record: SioPacketRecord, answers: AckRecord | None) -> None:
        self.sio.append((session, record.packet.type.name, record.packet.ack_id, record.frame))
        if answers is not None:
            self.answers.append((record.frame, answers))


def test_packets_and_acks_as_they_arrive_match_the_analysis() -> None:
    seen = Recorder()
    f = Flow(SessionBuilder(observer=seen))
    python_socketio_v5_flow(f)
    (session,), _ = f.finish()
    assert {s for s, _, _ in seen.eio} == {SID}
    assert len(seen.eio) == len(session.packets)
    sio = session.socketio
    assert sio is not None
    # arrival order is capture order here: the same packets, each at its header's frame
    assert [(t, a, fr) for _, t, a, fr in seen.sio] == [
        (p.packet.type.name, p.packet.ack_id, p.frame) for p in sio.packets
    ]
    # an ACK comes with the event it answers: the pairs of the analysis, when they were made
    assert [(fr, a.ack_id, a.request_frame, a.event) for fr, a in seen.answers] == [
        (a.response_frame, a.ack_id, a.request_frame, a.event) for a in sio.acks
    ]
    assert seen.anomalies == []


def test_a_websocket_only_session_is_named_by_its_open_packet() -> None:
    seen = Recorder()
    f = Flow(SessionBuilder(observer=seen))
    websocket_only_flow(f)
    assert [s for s, _, _ in seen.eio] == ["wsonly"] * len(seen.eio)  # the open packet comes first
    assert [t for _, t, _ in seen.eio] == ["open", "message", "message", "message", "ping", "pong"]
    assert [(s, t) for s, t, _, _ in seen.sio] == [
        ("wsonly", "CONNECT"),
        ("wsonly", "CONNECT"),
        ("wsonly", "EVENT"),
    ]


def test_no_observer_no_live_decoding() -> None:
    f = Flow()
    python_socketio_v5_flow(f)
    assert all(s.live is None for s in f.b._all)
