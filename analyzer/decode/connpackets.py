"""The packets of one TCP connection, read again from the capture for the views that list them
(a packet list per connection, "follow stream"); not the hot path.

A connection is named by its two ends (address text and port, as `ip_text` writes them) and the
span of packet numbers it was seen in; the file is read from the last resume point before the
span (`CaptureReader.marks`), every packet of the span decoded, and those between the two ends
kept. What one call returns is bounded (`limit` packets, `max_bytes` of payload)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from analyzer.capture.pcapfile import Mark, RawPacket, open_capture
from analyzer.decode.details import describe_packet
from analyzer.decode.packet import PacketDecoder, Segment, ip_text

__all__ = ["MAX_CONN_PACKETS", "ConnEnds", "StreamPiece", "connection_packets", "connection_stream"]

MAX_CONN_PACKETS = 1000  # packets described by one call
MAX_STREAM_BYTES = 4 << 20  # payload bytes one "follow stream" call returns


class ConnEnds(NamedTuple):
    """The client and the server of a connection: (address text, port) each, and the first and
    last packet numbers it was seen in."""

    client: tuple[str, int]
    server: tuple[str, int]
    first: int
    last: int


class StreamPiece(NamedTuple):
    """The payload of one packet of the connection, with its direction and sequence number."""

    frame: int
    ts: float
    c2s: bool
    seq: int
    payload: bytes


def _walk(path: str, ends: ConnEnds, marks: Sequence[Mark]) -> Iterator[tuple[RawPacket, Segment, bool]]:
    """The packets of the span that go between the two ends, and whether each is client -> server."""
    k = bisect_left([m.frame for m in marks], ends.first) - 1
    reader = open_capture(path)
    try:
        if k >= 0:
            reader.resume(marks[k])
        decoder = PacketDecoder()
        c2s_key = (ends.client, ends.server)
        for pkt in reader:
            if pkt.frame > ends.last:
                break
            if pkt.frame < ends.first:
                continue
            seg = decoder.decode(pkt)
            if seg is None:
                continue
            key = ((ip_text(seg.src), seg.sport), (ip_text(seg.dst), seg.dport))
            if key == c2s_key:
                yield pkt, seg, True
            elif key == (c2s_key[1], c2s_key[0]):
                yield pkt, seg, False
    finally:
        reader.close()


def connection_packets(
    path: str, ends: ConnEnds, offset: int, limit: int, marks: Sequence[Mark] = ()
) -> tuple[list[dict[str, Any]], int | None]:
    """The connection's packets from the `offset`-th (0-based) on, at most `limit` (and
    MAX_CONN_PACKETS), each described as `describe_packet` does with `c2s` added; and how many
    the connection has in all when the span was read to its end (None: stopped before)."""
    limit = max(0, min(limit, MAX_CONN_PACKETS))
    out: list[dict[str, Any]] = []
    n = 0
    for pkt, _seg, c2s in _walk(path, ends, marks):
        if offset <= n < offset + limit:
            d = describe_packet(pkt)
            d["c2s"] = c2s
            out.append(d)
        n += 1
        if n >= offset + limit + 1 and len(out) == limit:
            return out, None  # more follow; the total is not counted (it would read the rest)
    return out, n


def connection_stream(
    path: str, ends: ConnEnds, marks: Sequence[Mark] = (), max_bytes: int = MAX_STREAM_BYTES
) -> tuple[list[StreamPiece], bool]:
    """The payload-carrying packets of the connection in capture order, and whether the
    `max_bytes` bound cut the list short."""
    out: list[StreamPiece] = []
    total = 0
    for pkt, seg, c2s in _walk(path, ends, marks):
        if not seg.payload:
            continue
        if total + len(seg.payload) > max_bytes:
            return out, True
        total += len(seg.payload)
        out.append(StreamPiece(pkt.frame, pkt.ts, c2s, seg.seq, bytes(seg.payload)))
    return out, False
