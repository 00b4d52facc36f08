"""WsDecoder's fast paths (a whole frame in one feed, a feed inside a payload) against the general one.

A frame that arrives whole is decoded without the per-frame state machine, and a feed that
lies inside a payload skips the header loop. Fed one byte at a time, the decoder never takes
either shortcut, so whole-input and byte-by-byte results must agree, for every option that
changes what is kept (RFC 6455 §5, RFC 7692 for compressed messages). Expected message
contents come from the bodies the strategy compressed and framed, never from the decoder.
"""

from __future__ import annotations

import itertools
import zlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.protocols.deflate import DeflateParams
from analyzer.protocols.websocket import WsDecoder, WsEvent, WsFrame, WsMessage


def _xor(data: bytes, key: bytes) -> bytes:
    """Reference masking, RFC 6455 §5.3, one byte at a time."""
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


def _frame(opcode: int, payload: bytes, *, fin: bool = True, rsv1: bool = False, key: bytes | None) -> bytes:
    n = len(payload)
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    mbit = 0x80 if key is not None else 0
    if n < 126:
        head = bytes([b0, mbit | n])
    elif n < 65536:
        head = bytes([b0, mbit | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, mbit | 127]) + n.to_bytes(8, "big")
    if key is not None:
        return head + key + _xor(payload, key)
    return head + payload


class _Deflater:
    """permessage-deflate sender (RFC 7692 §7.2.1): raw DEFLATE, sync flush, 00 00 ff ff removed."""

    def __init__(self, no_context_takeover: bool) -> None:
        self.no_ctx = no_context_takeover
        self.c = zlib.compressobj(wbits=-15)

    def message(self, body: bytes) -> bytes:
        if self.no_ctx:
            self.c = zlib.compressobj(wbits=-15)
        out = self.c.compress(body) + self.c.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(b"\x00\x00\xff\xff")
        return out[:-4]


@st.composite
def streams(draw: st.DrawFn) -> tuple[dict[str, Any], bytes, list[tuple[int, bytes]]]:
    client = draw(st.booleans())
    deflate = draw(st.sampled_from([None, DeflateParams(), DeflateParams(True, True)]))
    keys = st.binary(min_size=4, max_size=4)
    deflater = _Deflater(deflate.no_context_takeover(client)) if deflate is not None else None
    parts: list[bytes] = []
    expected: list[tuple[int, bytes]] = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["msg", "msg", "msg", "ping", "pong"]))
        if kind != "msg":
            key = draw(keys) if client else None
            parts.append(_frame(9 if kind == "ping" else 10, draw(st.binary(max_size=125)), key=key))
            continue
        op = draw(st.sampled_from([1, 2]))
        size = draw(st.sampled_from([0, 5, 130, 300, 1500, 70000]))
        body = (b"a\xc3\xa9" * size)[:size] if op == 1 else draw(st.binary(min_size=size, max_size=size))
        if op == 1 and size % 3 == 2:
            body = body[:-1]  # keep the text valid UTF-8
        compressed = deflater is not None and draw(st.booleans())
        wire = deflater.message(body) if compressed and deflater is not None else body
        cuts = sorted(draw(st.lists(st.integers(0, len(wire)), max_size=2)))
        bounds = [0, *cuts, len(wire)]
        pieces = [wire[a:b] for a, b in itertools.pairwise(bounds)]
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            key = draw(keys) if client else None
            parts.append(_frame(op if i == 0 else 0, piece, fin=last, rsv1=compressed and i == 0, key=key))
        expected.append((op, body))
    options = {
        "sender_is_client": client,
        "deflate": deflate,
        "extensions_negotiated": deflate is not None,
        "keep_payload_bytes": draw(st.sampled_from([1, 200, 1 << 20])),
        "max_message_bytes": draw(st.sampled_from([0, 10, 1000, 1 << 20])),
    }
    return options, b"".join(parts), expected


def _decode(options: dict[str, Any], data: bytes, sizes: list[int] | None) -> list[WsEvent]:
    opts = dict(options)
    dec = WsDecoder(opts.pop("sender_is_client"), opts.pop("deflate"), **opts)
    out: list[WsEvent] = []
    if sizes is None:
        out += dec.feed(data)
    else:
        pos = 0
        for size in sizes:
            out += dec.feed(data[pos : pos + size])
            pos += size
        out += dec.feed(data[pos:])
    return out + dec.eof()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.lists(st.integers(1, 3000), max_size=30))
def test_whole_byte_by_byte_and_split_agree(
    stream: tuple[dict[str, Any], bytes, list[tuple[int, bytes]]], sizes: list[int]
) -> None:
    options, data, expected = stream
    whole = _decode(options, data, None)
    assert _decode(options, data, [1] * len(data)) == whole
    assert _decode(options, data, sizes) == whole
    if options["max_message_bytes"] >= 1 << 20 and options["keep_payload_bytes"] >= 1 << 20:
        assert [e for e in whole if not isinstance(e, WsFrame | WsMessage)] == []
        assert [(m.opcode, m.data) for m in whole if isinstance(m, WsMessage)] == expected
        assert sum(f.end - f.start for f in whole if isinstance(f, WsFrame)) == len(data)


def test_big_masked_frame_in_segments_unmasks_every_piece() -> None:
    """A 70 kB masked frame fed in 1448-byte segments (the inline payload path, several phases)."""
    body = bytes(range(256)) * 273 + b"xyz"
    key = b"\x01\x80\xfe\x7f"
    data = _frame(2, body, key=key) + _frame(1, b"after", key=key)
    dec = WsDecoder(True)
    out: list[WsEvent] = []
    for pos in range(0, len(data), 1447):
        out += dec.feed(data[pos : pos + 1447])
    msgs = [m for m in out if isinstance(m, WsMessage)]
    assert [(m.opcode, m.data) for m in msgs] == [(2, body), (1, b"after")]
    frames = [f for f in out if isinstance(f, WsFrame)]
    assert frames[0].payload == body and frames[0].payload_length == len(body)
