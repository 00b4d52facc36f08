"""Captured bytes never make the HTTP/2 layer raise: the frame reader, HPACK, a whole connection fed
anything in any pieces (with gaps), and real h2 streams mutated."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.model.common import Direction
from analyzer.protocols.h2 import PREFACE, H2Connection
from analyzer.protocols.h2.fields import FieldDecoder
from analyzer.protocols.h2.frames import FrameReader

C, S = Direction.C2S, Direction.S2C
HEADERS = bytes.fromhex("000014010500000001828684410f7777772e6578616d706c652e636f6d")
REAL_C = (
    PREFACE
    + bytes.fromhex("000000040000000000")
    + HEADERS
    + bytes.fromhex("000005000900000001026869 0000".replace(" ", ""))
)
REAL_S = bytes.fromhex("00000604000000000000080000000100000004010000000000000101040000000188")


def frames(ftype: st.SearchStrategy[int]) -> st.SearchStrategy[bytes]:
    return st.builds(
        lambda t, f, sid, body: len(body).to_bytes(3, "big") + bytes([t, f]) + sid.to_bytes(4, "big") + body,
        ftype,
        st.integers(0, 255),
        st.sampled_from([0, 1, 2, 3, 0x7FFFFFFF, 0xFFFFFFFF]),
        st.binary(max_size=60),
    )


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=200), max_size=8), st.booleans())
def test_frame_reader(chunks: list[bytes], preface: bool) -> None:
    reader = FrameReader(C, preface=preface)
    for chunk in chunks:
        reader.feed(chunk)


@settings(max_examples=400)
@given(st.binary(max_size=300), st.integers(0, 70000))
def test_hpack(block: bytes, table: int) -> None:
    dec = FieldDecoder()
    dec.set_table_limit(table)
    dec.decode(block)
    dec.decode(block)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.booleans(), frames(st.integers(0, 12))), max_size=20), st.booleans())
def test_connection_on_random_frames(items: list[tuple[bool, bytes]], upgraded: bool) -> None:
    conn = H2Connection(upgraded=upgraded, upgrade_settings=b"\x00\x05\x00\x00\x00\x01")
    conn.feed(C, PREFACE)
    for client, data in items:
        conn.feed(C if client else S, data)
    conn.eof(C)
    conn.eof(S)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_connection_on_mutated_streams(data: st.DataObject) -> None:
    conn = H2Connection()
    for d, stream in ((S, REAL_S), (C, REAL_C)):
        out = bytearray(stream)
        for _ in range(data.draw(st.integers(0, 4))):
            out[data.draw(st.integers(0, len(out) - 1))] = data.draw(st.integers(0, 255))
        cut = data.draw(st.integers(0, len(out)))
        pieces = sorted(data.draw(st.lists(st.integers(0, cut), max_size=4)))
        at = 0
        for p in [*pieces, cut]:
            conn.feed(d, bytes(out[at:p]))
            at = max(at, p)
        if data.draw(st.booleans()):
            conn.gap(d, data.draw(st.integers(0, 100)))
            conn.feed(d, bytes(out[cut:]))
    conn.eof(C)
    conn.eof(S)
