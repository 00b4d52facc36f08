"""Captured bytes never make the TLS layer raise: the record reader, the handshake parser and a
whole connection, fed anything in any pieces (with and without keys)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.model.common import Direction
from analyzer.protocols.tls import TlsConnection, parse_keylog
from analyzer.protocols.tls.handshake import HandshakeBuffer, parse_message
from analyzer.protocols.tls.records import RecordReader
from tests.protocols.tls import rfc8448 as v

KEYS = parse_keylog(v.KEYLOG)
STREAMS = {Direction.C2S: v.CLIENT_STREAM, Direction.S2C: v.SERVER_STREAM}


@settings(max_examples=200)
@given(st.lists(st.binary(max_size=300), max_size=8), st.lists(st.integers(0, 2000), max_size=3))
def test_record_reader(chunks: list[bytes], gaps: list[int]) -> None:
    reader = RecordReader()
    for i, chunk in enumerate(chunks):
        reader.feed(chunk)
        if i < len(gaps):
            reader.gap(gaps[i])
    reader.eof()


@settings(max_examples=300)
@given(st.integers(0, 30), st.binary(max_size=400), st.booleans())
def test_handshake_messages(mtype: int, body: bytes, tls13: bool) -> None:
    parse_message(mtype, body, tls13)
    buf = HandshakeBuffer()
    buf.feed(bytes([mtype]) + len(body).to_bytes(3, "big") + body)


@settings(max_examples=300)
@given(st.sampled_from([1, 2, 8, 11]), st.data())
def test_mutated_hellos(mtype: int, data: st.DataObject) -> None:
    """Real messages with a byte changed or cut: lengths that no longer add up."""
    base = {1: v.CLIENT_HELLO_RECORD[9:], 2: v.SERVER_HELLO_RECORD[9:]}.get(mtype, v.CLIENT_HELLO_RECORD[9:])
    at = data.draw(st.integers(0, len(base) - 1))
    new = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(base)))
    parse_message(mtype, (base[:at] + bytes([new]) + base[at + 1 :])[:cut], data.draw(st.booleans()))


def _mutate(stream: bytes, data: st.DataObject) -> bytes:
    out = bytearray(stream)
    for _ in range(data.draw(st.integers(0, 4))):
        at = data.draw(st.integers(0, len(out) - 1))
        out[at] = data.draw(st.integers(0, 255))
    return bytes(out[: data.draw(st.integers(0, len(out)))])


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.booleans())
def test_connection_on_mutated_rfc8448(data: st.DataObject, with_keys: bool) -> None:
    conn = TlsConnection(KEYS if with_keys else None)
    streams = {d: _mutate(s, data) for d, s in STREAMS.items()}
    pos = dict.fromkeys(streams, 0)
    while any(pos[d] < len(streams[d]) for d in streams):
        d = data.draw(st.sampled_from([d for d in streams if pos[d] < len(streams[d])]))
        n = data.draw(st.integers(1, 400))
        if data.draw(st.integers(0, 20)) == 0:
            conn.gap(d, n)
        else:
            conn.feed(d, streams[d][pos[d] : pos[d] + n])
        pos[d] += n
    for d in streams:
        conn.eof(d)
    conn.finish()
    conn.info.to_dict()


@settings(max_examples=150)
@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=200)), max_size=10))
def test_connection_on_anything(chunks: list[tuple[bool, bytes]]) -> None:
    conn = TlsConnection(KEYS)
    for c2s, chunk in chunks:
        conn.feed(Direction.C2S if c2s else Direction.S2C, b"\x16\x03\x01" + chunk)
    conn.finish()
