"""A WebSocket stream decoded without its handshake (`--decode-as PORT=websocket`), #16 item 5:
compressed data frames (RSV1) are taken as permessage-deflate and inflated with an unknown
context, an inflate failure that the unknown context explains is reported once, and the
resync search locks only onto a chain of plausible headers, never onto bytes of a compressed
payload that happen to look like one."""

from __future__ import annotations

import random
import zlib

import pytest

from analyzer.model.codes import websocket as codes
from analyzer.protocols.websocket import WsDecoder, WsEvent
from tests.protocols.test_websocket import bytewise, codes_of, decode, frames, messages, mkframe

TEXTS = [
    f'42["chat",{{"user":"alice","n":{i},"text":"hello hello hello number {i}"}}]'.encode() for i in range(8)
]


def deflate_each(texts: list[bytes], takeover: bool) -> list[bytes]:
    """RFC 7692 §7.2.1: each message compressed, flushed, without its 00 00 ff ff tail; with
    `takeover` one compressor for all (§7.2.3, the default), else one per message."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = []
    for text in texts:
        if not takeover:
            comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        data = comp.compress(text) + comp.flush(zlib.Z_SYNC_FLUSH)
        out.append(data[:-4])
    return out


def stream(payloads: list[bytes], client: bool) -> bytes:
    rng = random.Random(7)
    return b"".join(
        mkframe(1, p, rsv=0x40, mask=bytes(rng.randrange(256) for _ in range(4)) if client else None)
        for p in payloads
    )


def handshakeless(data: bytes, client: bool, **kw: object) -> list[WsEvent]:
    return decode(data, client, resync=True, handshake_unknown=True, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("client", [True, False])
def test_compressed_frames_without_handshake_are_inflated(client: bool) -> None:
    data = stream(deflate_each(TEXTS, takeover=False), client)
    assert data[:2] == (b"\xc1\xc8" if client else b"\xc1\x48")[:1] + data[1:2]  # FIN RSV1 text
    ev = handshakeless(data, client)
    assert codes_of(ev) == [codes.DEFLATE_ASSUMED]
    assert [(f.opcode, f.rsv1, f.masked) for f in frames(ev)] == [(1, True, client)] * len(TEXTS)
    assert [(m.compressed, m.text) for m in messages(ev)] == [(True, t.decode()) for t in TEXTS]
    assert bytewise(data, client, resync=True, handshake_unknown=True) == ev


def test_stream_that_began_with_context_takeover_fails_once() -> None:
    """The capture starts at the third message of a stream compressed with context takeover:
    messages that refer to text sent before the capture cannot be inflated; said once."""
    data = stream(deflate_each(TEXTS, takeover=True)[2:], client=False)
    ev = handshakeless(data, client=False)
    assert codes_of(ev).count(codes.INFLATE_FAILED) == 1
    assert codes_of(ev)[0] == codes.DEFLATE_ASSUMED
    assert [f.opcode for f in frames(ev)] == [1] * (len(TEXTS) - 2)
    assert codes.RESYNC not in codes_of(ev) and codes.INVALID_UTF8 not in codes_of(ev)


def test_with_a_handshake_rsv1_stays_a_violation() -> None:
    """Only the handshake-less mode assumes deflate: a stream whose handshake agreed no
    extension still reports RSV1 (RFC 6455 §5.2) and does not inflate."""
    data = stream(deflate_each(TEXTS[:1], takeover=False), client=False)
    ev = decode(data, False)
    assert codes_of(ev) == [codes.RSV_WITHOUT_EXTENSION, codes.INVALID_UTF8]
    assert [m.compressed for m in messages(ev)] == [False]


@pytest.mark.parametrize("seed", range(60))
def test_resync_locks_on_the_real_frames_not_inside_a_payload(seed: int) -> None:
    """The capture starts inside a compressed frame's payload: the decoder skips to the real
    frames and does not go on inventing frames (reserved opcodes, Close code 18364, bad UTF-8).
    Bytes of the cut frame may, rarely, announce one frame that ends exactly where a real one
    starts (then every header after it is real): at most that one is not a real frame."""
    rng = random.Random(seed)
    tail = bytes(rng.randrange(256) for _ in range(rng.randrange(20, 400)))  # compressed-looking
    client = bool(seed % 2)
    payloads = deflate_each(TEXTS, takeover=False)
    starts, pos = [], len(tail)
    for p in payloads:
        starts.append(pos)
        pos += 2 + (4 if client else 0) + len(p)
    ev = handshakeless(tail + stream(payloads, client), client)
    got = [(f.start, f.end) for f in frames(ev)]
    invented = [g for g in got if g[0] not in starts]
    assert len(invented) <= 1 and all(end in starts for _, end in invented)
    assert [g[0] for g in got if g[0] in starts] in (starts, starts[1:])
    assert [m.text for m in messages(ev) if m.start in starts[1:]] == [t.decode() for t in TEXTS[1:]]
    assert codes.RESERVED_OPCODE not in codes_of(ev) and codes.TRUNCATED_FRAME not in codes_of(ev)


def test_a_single_frame_direction_is_still_found() -> None:
    """Fewer frames than the resync chain asks for: at the end of the stream the chain that
    runs to it is taken."""
    data = stream(deflate_each(TEXTS[:1], takeover=False), client=True)
    ev = handshakeless(data, True)
    assert [m.text for m in messages(ev)] == [TEXTS[0].decode()]
    dec = WsDecoder(True, resync=True, handshake_unknown=True)
    assert frames(dec.feed(data)) == []  # held: one header proves nothing yet
    assert len(frames(dec.eof())) == 1


@pytest.mark.parametrize("client", [False, True])
def test_runs_of_impossible_64_bit_lengths_are_skipped_by_the_pattern(client: bool) -> None:
    """#16 fuzz finding (gen:giant): 8 MB of 82 7f 82 7f ... made every other byte a candidate
    judged in Python (a minute per record). A 64-bit length above the sane bound cannot start
    with a non-zero byte, so the candidate pattern itself passes over such runs."""
    from analyzer.protocols.ws_resync import HeaderJudge

    judge = HeaderJudge(client, 0x40, True, 16 << 20)
    mask = 0x80 if client else 0
    assert judge.cand.search(bytes([0x82, 0x7F | mask]) * 4096) is None
    long_ok = bytes([0x82, 0x7F | mask]) + (1 << 20).to_bytes(8, "big")
    assert judge.cand.search(b"\x00" * 7 + long_ok) is not None


@pytest.mark.parametrize("cut", range(1, 12))
def test_a_long_header_split_across_feeds_is_still_found(cut: int) -> None:
    """The pattern of a 64-bit header is longer than two bytes: the bytes kept back between feeds
    must cover it, or a header cut by a segment boundary is skipped."""
    big = b"x" * 70_000
    data = b"\x11\x22\x33" + mkframe(2, big) + mkframe(1, b"a") + mkframe(1, b"b") + mkframe(1, b"c")
    dec = WsDecoder(False, resync=True, handshake_unknown=True)
    at = 3 + cut
    ev = dec.feed(data[:at]) + dec.feed(data[at:]) + dec.eof()
    assert [m.length for m in messages(ev)] == [70_000, 1, 1, 1]
