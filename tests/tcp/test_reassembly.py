"""Reassembly properties: any segmentation, reordering and duplication gives the original bytes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.model.common import Direction
from analyzer.tcp.reassembly import DirectionStream


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
        s.segment((isn + off) & 0xFFFFFFFF, chunk, False, i, float(i))
    s.segment((isn + len(data)) & 0xFFFFFFFF, b"", True, len(segs) + 1, 0.0)
    s.finish(0, 0.0)
    assert bytes(sink.data) == data
    assert sink.gaps == []
    assert sink.ended_at == len(data)
    assert s.overlap_mismatches == 0


def test_sequence_wraparound() -> None:
    sink = Collect()
    s = DirectionStream(Direction.C2S, sink)
    s.set_isn(0xFFFFFFF0)
    s.segment(0xFFFFFFF0, b"a" * 32, False, 1, 0.0)
    s.segment(0x10, b"b" * 16, False, 2, 0.0)
    assert bytes(sink.data) == b"a" * 32 + b"b" * 16
    assert s.offsets.frame_at(33) == 2 and s.offsets.frame_at(31) == 1


def test_lost_segment_becomes_a_gap_never_zero_fill() -> None:
    sink = Collect()
    s = DirectionStream(Direction.C2S, sink)
    s.set_isn(1000)
    s.segment(1000, b"abc", False, 1, 0.0)
    s.segment(1010, b"xyz", False, 3, 0.0)  # bytes 3..9 never captured
    assert bytes(sink.data) == b"abc"
    s.finish(4, 0.0)
    assert sink.gaps == [(3, 7)]
    assert bytes(sink.data) == b"abcxyz"
    assert s.gaps == 1 and s.gap_bytes == 7


def test_overlap_with_different_bytes_is_flagged() -> None:
    sink = Collect()
    s = DirectionStream(Direction.C2S, sink)
    s.set_isn(0)
    s.segment(0, b"hello world", False, 1, 0.0)
    s.segment(6, b"WORLD!", False, 2, 0.0)
    assert bytes(sink.data) == b"hello world!"
    assert s.overlap_mismatches == 1
    assert [a[0] for a in s.anomalies] == ["tcp.overlap-mismatch"]


def test_keepalive_byte_is_not_data() -> None:
    sink = Collect()
    s = DirectionStream(Direction.C2S, sink)
    s.set_isn(0)
    s.segment(0, b"abc", False, 1, 0.0)
    s.segment(2, b"\x00", False, 2, 0.0)  # SEG.SEQ = SND.NXT-1 with one junk byte (RFC 9293 §3.8.4)
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
        s.segment(10 + i * 1000, chunk, False, i + 1, 0.0)
    assert sink.gaps == [(0, 10)]
    assert len(sink.data) == n * 1000
    assert len(s.ooo) == 0
