"""Reassembly properties: any segmentation, reordering and duplication gives the original bytes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer import analyze_file
from analyzer.model.common import Direction
from analyzer.tcp.reassembly import DirectionStream
from tests.export.craft import CLIENT, HANDSHAKE_REQ, HANDSHAKE_RESP, SERVER, _segment, ws_frame
from tests.pcapwriter import pcap_bytes

SCHEMA = json.loads((Path(__file__).parents[2] / "analyzer" / "schema" / "analysis.schema.json").read_text())


class Collect:
    def __init__(self) -> None:
        self.data = bytearray()
        self.gaps: list[tuple[int, int]] = []
        self.ended_at: int | None = None
        self.offsets: list[int] = []

    def on_data(self, stream: DirectionStream, offset: int, data: bytes, frame: int, ts: float) -> None:
        assert offset == len(self.data) + sum(g[1] for g in self.gaps), "data delivered out of order"
        self.offsets.append(offset)
        self.data += data

    def on_gap(self, stream: DirectionStream, offset: int, length: int, frame: int, ts: float) -> None:
        self.gaps.append((offset, length))

    def on_end(self, stream: DirectionStream, offset: int, frame: int, ts: float) -> None:
        self.ended_at = offset


@st.composite
def segmented(draw: st.DrawFn) -> tuple[bytes, int, list[tuple[int, bytes]]]:
    data = draw(st.binary(min_size=1, max_size=600))
    isn = draw(st.integers(0, 0xFFFFFFFF))
    cuts = sorted(set(draw(st.lists(st.integers(1, len(data)), max_size=20))) | {len(data)})
    segs: list[tuple[int, bytes]] = []
    prev = 0
    for c in cuts:
        if c > prev:
            segs.append((prev, data[prev:c]))
            prev = c
    dups = draw(st.lists(st.sampled_from(segs), max_size=10))
    # overlapping retransmissions that span segment borders, with the same bytes
    spans = draw(st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(1, 100)), max_size=5))
    extra = [(a, data[a : a + n]) for a, n in spans]
    allsegs = segs + dups + extra
    order = draw(st.permutations(allsegs))
    return data, isn, list(order)


@settings(max_examples=300, deadline=None)
@given(segmented())
def test_any_segmentation_order_and_duplication_reassembles(
    case: tuple[bytes, int, list[tuple[int, bytes]]],
) -> None:
    data, isn, segs = case
    sink = Collect()
    s = DirectionStream(Direction.C2S, sink)
    s.set_isn(isn)
    for i, (off, chunk) in enumerate(segs, 1):
        s.segment((isn + off) & 0xFFFFFFFF, chunk, False, i, float(i), int(i * 1e9))
    s.segment((isn + len(data)) & 0xFFFFFFFF, b"", True, len(segs) + 1, 0.0, 0)
    s.finish(0, 0.0)
    assert bytes(sink.data) == data
    assert sink.gaps == []
    assert sink.ended_at == len(data)
    assert s.overlap_mismatches == 0


def test_sequence_wraparound() -> None:
    sink = Collect()
    s = DirectionStream(Direction.C2S, sink)
    s.set_isn(0xFFFFFFF0)
    s.segment(0xFFFFFFF0, b"a" * 32, False, 1, 0.0, 0)
    s.segment(0x10, b"b" * 16, False, 2, 0.0, 0)
    assert bytes(sink.data) == b"a" * 32 + b"b" * 16
    assert s.offsets.frame_at(33) == 2 and s.offsets.frame_at(31) == 1


def test_lost_segment_becomes_a_gap_never_zero_fill() -> None:
    sink = Collect()
    s = DirectionStream(Direction.C2S, sink)
    s.set_isn(1000)
    s.segment(1000, b"abc", False, 1, 0.0, 0)
    s.segment(1010, b"xyz", False, 3, 0.0, 0)  # bytes 3..9 never captured
    assert bytes(sink.data) == b"abc"
    s.finish(4, 0.0)
    assert sink.gaps == [(3, 7)]
    assert bytes(sink.data) == b"abcxyz"
    assert s.gaps == 1 and s.gap_bytes == 7


def test_overlap_with_different_bytes_is_flagged() -> None:
    sink = Collect()
    s = DirectionStream(Direction.C2S, sink)
    s.set_isn(0)
    s.segment(0, b"hello world", False, 1, 0.0, 0)
    s.segment(6, b"WORLD!", False, 2, 0.0, 0)
    assert bytes(sink.data) == b"hello world!"
    assert s.overlap_mismatches == 1
    assert [a[0] for a in s.anomalies] == ["tcp.overlap-mismatch"]


def test_keepalive_byte_is_not_data() -> None:
    sink = Collect()
    s = DirectionStream(Direction.C2S, sink)
    s.set_isn(0)
    s.segment(0, b"abc", False, 1, 0.0, 0)
    s.segment(2, b"\x00", False, 2, 0.0, 0)  # SEG.SEQ = SND.NXT-1 with one junk byte (RFC 9293 §3.8.4)
    assert bytes(sink.data) == b"abc"
    assert s.keepalives == 1 and s.retransmissions == 0


def test_out_of_order_bound_declares_gap() -> None:
    from analyzer.tcp import reassembly

    sink = Collect()
    s = DirectionStream(Direction.C2S, sink)
    s.set_isn(0)
    chunk = b"x" * 1000
    n = reassembly.MAX_OOO_SEGMENTS + 1
    for i in range(n):
        s.segment(10 + i * 1000, chunk, False, i + 1, 0.0, 0)
    assert sink.gaps == [(0, 10)]
    assert len(sink.data) == n * 1000
    assert len(s.ooo) == 0


class CollectEnd(Collect):
    def __init__(self) -> None:
        super().__init__()
        self.end_frames: list[int] = []

    def on_end(self, stream: DirectionStream, offset: int, frame: int, ts: float) -> None:
        super().on_end(stream, offset, frame, ts)
        self.end_frames.append(frame)


def test_fin_ahead_of_a_hole_ends_the_stream_when_plain_data_fills_it() -> None:
    """RFC 9293 §3.10.7.4: a FIN waits for the bytes before it. Found by tests/fuzz: a bare FIN
    that came ahead of a hole, filled by a segment without FIN, never ended the stream."""
    sink = CollectEnd()
    s = DirectionStream(Direction.C2S, sink)
    s.set_isn(1000)
    s.segment(1000, b"abc", False, 1, 1.0, 1000000000)
    s.segment(1006, b"", True, 2, 2.0, 2000000000)  # FIN, 3 bytes early
    s.segment(1003, b"def", False, 3, 3.0, 3000000000)
    assert s.ended and sink.ended_at == 6
    assert sink.end_frames == [2]  # the packet that carried the FIN


def test_fin_with_data_ahead_of_a_hole_ends_at_its_own_packet() -> None:
    """Found by tests/fuzz: a FIN segment held out of order ended the stream at frame 0, which
    reached the analysis document as an anomaly pointing to packet 0 (the schema says >= 1)."""
    sink = CollectEnd()
    s = DirectionStream(Direction.C2S, sink)
    s.set_isn(1000)
    s.segment(1000, b"abc", False, 1, 1.0, 1000000000)
    s.segment(1006, b"ghi", True, 2, 2.0, 2000000000)
    s.segment(1003, b"def", False, 3, 3.0, 3000000000)
    assert bytes(sink.data) == b"abcdefghi"
    assert sink.end_frames == [2]


def test_websocket_fin_ahead_of_its_data_points_to_real_packets(tmp_path: Path) -> None:
    """The pipeline route of the two tests above: the client's last two segments (a text frame,
    then a Ping with FIN) arrive in reverse order; no Close is sent, so ws.no-close is reported
    at the client's FIN (packet 6), and the document stays valid."""
    mask = b"\x01\x02\x03\x04"
    c_isn, s_isn = 1000, 5000
    text, ping = ws_frame(b"hello", mask=mask), ws_frame(b"", opcode=9, mask=mask)
    c, s = c_isn + 1, s_isn + 1
    req_end = c + len(HANDSHAKE_REQ)
    pkts = [
        _segment(CLIENT, SERVER, c_isn, 0, 0x02, b""),
        _segment(SERVER, CLIENT, s_isn, c, 0x12, b""),
        _segment(CLIENT, SERVER, c, s, 0x10, b""),
        _segment(CLIENT, SERVER, c, s, 0x18, HANDSHAKE_REQ),
        _segment(SERVER, CLIENT, s, req_end, 0x18, HANDSHAKE_RESP),
        _segment(CLIENT, SERVER, req_end + len(text), s, 0x19, ping),  # FIN, ahead of the frame
        _segment(CLIENT, SERVER, req_end, s, 0x18, text),
    ]
    cap = tmp_path / "fin-ahead.pcap"
    cap.write_bytes(pcap_bytes([(1.0 + i / 1000, p) for i, p in enumerate(pkts)]))
    doc = json.loads(json.dumps(analyze_file(str(cap)).to_dict()))
    jsonschema.validate(doc, SCHEMA)
    no_close = [a for a in doc["anomalies"] if a["code"] == "ws.no-close"]
    assert [(a["direction"], a["frames"]) for a in no_close] == [("c2s", [6])]


def _overlap_case(order: list[tuple[int, bytes]]) -> tuple[bytes, DirectionStream]:
    sink = Collect()
    s = DirectionStream(Direction.C2S, sink)
    s.set_isn(0)
    for frame, (off, chunk) in enumerate(order, 1):
        s.segment(off, chunk, False, frame, float(frame), int(frame * 1e9))
    s.finish(len(order) + 1, 0.0)
    return bytes(sink.data), s


def test_first_copy_wins_on_both_paths() -> None:
    """#16 item 20: one overlap policy, first copy wins, whether the first copy was already
    delivered or is still waiting behind a hole; every differing overlap is flagged."""
    # delivered first: the later copy is compared, not used
    data, s = _overlap_case([(0, b"abcdef"), (2, b"XY")])
    assert data == b"abcdef" and s.overlap_mismatches == 1
    # waiting first (behind the hole at 0-1), then a longer segment at the same start: the
    # waiting bytes win, the new one adds only its tail
    data, s = _overlap_case([(2, b"cd"), (2, b"XYef"), (0, b"ab")])
    assert data == b"abcdef" and s.overlap_mismatches == 1
    # waiting first, then the in-order segment that fills the hole and covers them
    data, s = _overlap_case([(4, b"ef"), (0, b"abcdXY")])
    assert data == b"abcdef" and s.overlap_mismatches == 1
    # waiting first, then a segment that starts before them and covers two with a hole between
    data, s = _overlap_case([(3, b"d"), (6, b"g"), (2, b"CXeFGh"), (0, b"ab")])
    assert data == b"abCdeFgh" and s.overlap_mismatches == 2
    # the same bytes again are no mismatch, whichever path
    data, s = _overlap_case([(4, b"ef"), (2, b"cdef"), (0, b"abcdef")])
    assert data == b"abcdef" and s.overlap_mismatches == 0
    assert [a[0] for a in s.anomalies] == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.binary(min_size=1, max_size=12)), min_size=1, max_size=12))
def test_first_copy_wins_per_byte(segs: list[tuple[int, bytes]]) -> None:
    """Every delivered byte is the first copy of that byte sent (a per-byte model)."""
    first: dict[int, int] = {}
    for off, chunk in segs:
        for i, b in enumerate(chunk):
            first.setdefault(off + i, b)
    sink = Collect()
    s = DirectionStream(Direction.C2S, sink)
    s.set_isn(0)
    for frame, (off, chunk) in enumerate(segs, 1):
        s.segment(off, chunk, False, frame, float(frame), int(frame * 1e9))
    s.finish(len(segs) + 1, 0.0)
    pos = 0
    gaps = dict(sink.gaps)
    got: dict[int, int] = {}
    for b in sink.data:
        while pos in gaps:
            pos += gaps[pos]
        got[pos] = b
        pos += 1
    # every byte sent is delivered, as its first copy
    assert got == {k: v for k, v in first.items() if k in got}
    assert set(got) == set(first)
