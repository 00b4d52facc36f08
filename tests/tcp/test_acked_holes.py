"""A hole the peer acknowledged is lost from the capture, not late: it is reported at that ACK
(RFC 9293 §3.4), and what waited behind it is delivered then."""

from __future__ import annotations

from typing import Any

from analyzer.capture.pcapfile import open_capture
from analyzer.model.common import Direction
from analyzer.pipeline import analyze_packets
from analyzer.tcp.reassembly import DirectionStream
from tests.conftest import CAPTURES

ISN = 0xFFFFFFF0  # the sequence numbers wrap inside the test


class Sink:
    def __init__(self) -> None:
        self.log: list[tuple[Any, ...]] = []

    def on_data(self, stream: DirectionStream, offset: int, data: bytes, frame: int, ts: float) -> None:
        self.log.append(("data", offset, data, frame))

    def on_gap(self, stream: DirectionStream, offset: int, length: int, frame: int, ts: float) -> None:
        self.log.append(("gap", offset, length, frame))

    def on_end(self, stream: DirectionStream, offset: int, frame: int, ts: float) -> None:
        self.log.append(("end", offset, frame))


def _stream() -> tuple[DirectionStream, Sink]:
    sink = Sink()
    s = DirectionStream(Direction.S2C, sink)
    s.set_isn(ISN)
    s.segment(ISN, b"0123456789", False, 1, 1.0, 1000000000)
    s.segment(ISN + 20, b"KLMNOPQRST", False, 3, 3.0, 3000000000)  # 10..20 not (yet) captured
    return s, sink


def test_an_acknowledged_hole_is_a_gap_at_once() -> None:
    s, sink = _stream()
    s.acked(ISN + 25, 4, 4.0)
    assert sink.log[1:] == [("gap", 10, 10, 4), ("data", 20, b"KLMNOPQRST", 3)]
    assert s.next == 30 and not s.ooo


def test_a_partly_acknowledged_hole_waits_for_the_rest() -> None:
    s, sink = _stream()
    s.acked(ISN + 15, 4, 4.0)  # the peer has 10..15: lost; 15..20 may still be retransmitted
    assert sink.log[1:] == [("gap", 10, 5, 4)]
    s.segment(ISN + 15, b"FGHIJ", False, 5, 5.0, 5000000000)
    assert sink.log[2:] == [("data", 15, b"FGHIJ", 5), ("data", 20, b"KLMNOPQRST", 3)]
    assert s.gaps == 1


def test_acknowledgements_below_the_hole_change_nothing() -> None:
    s, sink = _stream()
    for ack in (ISN, ISN + 10, ISN - 5, ISN + 0x80000010):  # old, at the hole, 2^31 behind
        s.acked(ack & 0xFFFFFFFF, 4, 4.0)
    assert sink.log[1:] == [] and s.ooo


def test_a_lost_response_is_reported_at_the_clients_ack() -> None:
    """The capture without packets 44-46 (a whole polling response): the hole is reported at
    the client's next ACK instead of at the end of the connection."""
    packets = [
        p for p in open_capture(str(CAPTURES / "sio-python-polling-only.pcap")) if p.frame not in (44, 45, 46)
    ]
    doc = analyze_packets(packets).to_dict()
    gaps = [a for a in doc["anomalies"] if a["code"] in ("tcp.gap", "http.stream-gap")]
    assert len(gaps) == 2
    assert 47 <= gaps[0]["frames"][0] <= 55, gaps
    assert gaps[0]["frames"] == gaps[1]["frames"]  # both name the packet where the gap was found


def test_websocket_gap_names_the_packet_where_it_was_found() -> None:
    """The one big server segment of the capture lost: ws.stream-gap and tcp.gap name one packet."""
    packets = list(open_capture(str(CAPTURES / "ws-python-websockets.pcap")))
    big = max((p for p in packets if len(p.data) > 1000), key=lambda p: len(p.data))
    doc = analyze_packets([p for p in packets if p.frame != big.frame]).to_dict()
    frames = {a["code"]: a["frames"] for a in doc["anomalies"] if a["code"] in ("tcp.gap", "ws.stream-gap")}
    assert frames["ws.stream-gap"] == frames["tcp.gap"]
    assert frames["tcp.gap"][0] > big.frame
