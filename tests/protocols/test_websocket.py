"""WsDecoder: RFC 6455 framing, PROTOCOLS.md vectors 1-8 and 11, every frame/message anomaly code.

Expected values come from the RFC examples or from frames built here by a separate,
deliberately naive encoder (`mkframe`, per-byte masking), never from the decoder.
"""

from __future__ import annotations

import itertools
import os
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.model.codes import websocket as codes
from analyzer.model.common import Layer, ParserAnomaly, Severity
from analyzer.model.registry import REGISTRY
from analyzer.protocols.deflate import DeflateParams
from analyzer.protocols.websocket import (
    RESYNC_WINDOW,
    Opcode,
    WsDecoder,
    WsEvent,
    WsFrame,
    WsMessage,
    is_valid_close_code,
    parse_close,
    unmask,
)

H = bytes.fromhex


def slow_xor(data: bytes, key: bytes, phase: int = 0) -> bytes:
    """Reference masking, §5.3: out[i] = in[i] ^ key[i % 4]."""
    return bytes(b ^ key[(i + phase) % 4] for i, b in enumerate(data))


def mkframe(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = None,
    form: str | None = None,
) -> bytes:
    """Encode one frame (§5.2); `form` forces the length encoding ("7", "16", "64")."""
    n = len(payload)
    if form is None:
        form = "7" if n < 126 else ("16" if n < 65536 else "64")
    b0 = (0x80 if fin else 0) | rsv | opcode
    mbit = 0x80 if mask is not None else 0
    if form == "7":
        head = bytes([b0, mbit | n])
    elif form == "16":
        head = bytes([b0, mbit | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, mbit | 127]) + n.to_bytes(8, "big")
    if mask is not None:
        head += mask
        payload = slow_xor(payload, mask)
    return head + payload


def decode(
    data: bytes, client: bool = False, pieces: list[int] | None = None, eof: bool = True, **kw: Any
) -> list[WsEvent]:
    dec = WsDecoder(client, **kw)
    out: list[WsEvent] = []
    if pieces is None:
        out += dec.feed(data)
    else:
        pos = 0
        for size in pieces:
            out += dec.feed(data[pos : pos + size])
            pos += size
        out += dec.feed(data[pos:])
    if eof:
        out += dec.eof()
    return out


def bytewise(data: bytes, client: bool = False, eof: bool = True, **kw: Any) -> list[WsEvent]:
    return decode(data, client, [1] * len(data), eof, **kw)


def three_ways(data: bytes, client: bool = False, **kw: Any) -> list[WsEvent]:
    """Whole, one byte at a time, and followed by a partial next header: same events."""
    whole = decode(data, client, **kw)
    assert bytewise(data, client, **kw) == whole
    trailing = b"\x81\x85\x01" if client else b"\x82\x7e\x01"  # a header cut short
    assert decode(data + trailing, client, eof=False, **kw) == decode(data, client, eof=False, **kw)
    assert codes.TRUNCATED_FRAME in codes_of(decode(data + trailing, client, **kw))
    return whole


def frames(events: list[WsEvent]) -> list[WsFrame]:
    return [e for e in events if isinstance(e, WsFrame)]


def messages(events: list[WsEvent]) -> list[WsMessage]:
    return [e for e in events if isinstance(e, WsMessage)]


def anomalies(events: list[WsEvent]) -> list[ParserAnomaly]:
    return [e for e in events if isinstance(e, ParserAnomaly)]


def codes_of(events: list[WsEvent]) -> list[str]:
    return [a.code for a in anomalies(events)]


# --- PROTOCOLS.md vectors ------------------------------------------------------------------------------


def test_vector1_unmasked_text() -> None:
    ev = three_ways(H("81 05 48 65 6c 6c 6f"))
    (f,) = frames(ev)
    assert (f.start, f.end, f.fin, f.opcode, f.masked, f.mask_key) == (0, 7, True, 1, False, None)
    assert (f.payload_length, f.length_form, f.payload, f.payload_truncated) == (5, "7-bit", b"Hello", False)
    assert (f.rsv1, f.rsv2, f.rsv3, f.close_code, f.close_reason) == (False, False, False, None, None)
    (m,) = messages(ev)
    assert (m.start, m.end, m.opcode, m.compressed, m.nframes) == (0, 7, 1, False, 1)
    assert (m.data, m.length, m.truncated, m.text) == (b"Hello", 5, False, "Hello")
    assert anomalies(ev) == []


def test_vector2_masked_text() -> None:
    ev = three_ways(H("81 85 37 fa 21 3d 7f 9f 4d 51 58"), client=True)
    (f,) = frames(ev)
    assert f.masked and f.mask_key == H("37fa213d") and f.payload == b"Hello" and f.end == 11
    assert messages(ev)[0].text == "Hello"
    assert anomalies(ev) == []


def test_vector3_fragmented_text() -> None:
    ev = three_ways(H("01 03 48 65 6c 80 02 6c 6f"))
    f1, f2 = frames(ev)
    assert (f1.fin, f1.opcode, f1.payload, f1.start, f1.end) == (False, 1, b"Hel", 0, 5)
    assert (f2.fin, f2.opcode, f2.payload, f2.start, f2.end) == (True, 0, b"lo", 5, 9)
    (m,) = messages(ev)
    assert (m.start, m.end, m.nframes, m.text) == (0, 9, 2, "Hello")
    assert anomalies(ev) == []
    # the message comes right after its last frame
    assert ev.index(m) == ev.index(f2) + 1


def test_vector4_ping() -> None:
    ev = three_ways(H("89 05 48 65 6c 6c 6f"))
    (f,) = frames(ev)
    assert (f.opcode, f.payload) == (Opcode.PING, b"Hello")
    assert messages(ev) == [] and anomalies(ev) == []


def test_vector5_masked_pong() -> None:
    ev = three_ways(H("8a 85 37 fa 21 3d 7f 9f 4d 51 58"), client=True)
    (f,) = frames(ev)
    assert (f.opcode, f.payload) == (Opcode.PONG, b"Hello")
    assert anomalies(ev) == []


def test_vector6_16bit_length() -> None:
    body = bytes(range(256))
    ev = three_ways(H("82 7e 01 00") + body)
    (f,) = frames(ev)
    assert (f.payload_length, f.length_form, f.payload, f.end) == (256, "16-bit", body, 260)
    (m,) = messages(ev)
    assert (m.opcode, m.data, m.text) == (2, body, None)


def test_vector7_64bit_length() -> None:
    body = os.urandom(65536)
    data = H("82 7f 00 00 00 00 00 01 00 00") + body
    ev = decode(data)
    (f,) = frames(ev)
    assert (f.payload_length, f.length_form, f.payload, f.end) == (65536, "64-bit", body, 65546)
    assert messages(ev)[0].data == body
    assert anomalies(ev) == []
    chunks = [random.Random(7).randint(1, 3000) for _ in range(60)]
    assert decode(data, pieces=chunks) == ev


def test_vector8_non_minimal_16bit() -> None:
    ev = three_ways(H("81 7e 00 7c") + b"x" * 124)
    assert codes_of(ev) == [codes.NON_MINIMAL_LENGTH]
    assert anomalies(ev)[0].offset == 0
    (f,) = frames(ev)
    assert (f.payload_length, f.length_form) == (124, "16-bit")
    assert messages(ev)[0].data == b"x" * 124  # still emitted


def test_vector11_close_1000() -> None:
    ev = three_ways(H("88 02 03 e8"))
    (f,) = frames(ev)
    assert (f.opcode, f.close_code, f.close_reason) == (8, 1000, "")
    assert anomalies(ev) == []


# --- header fields, lengths, masking -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "form"), [(0, "7-bit"), (125, "7-bit"), (126, "16-bit"), (65535, "16-bit"), (65536, "64-bit")]
)
def test_length_form_boundaries(n: int, form: str) -> None:
    body = os.urandom(n)
    ev = decode(mkframe(2, body))
    (f,) = frames(ev)
    assert (f.payload_length, f.length_form, f.payload) == (n, form, body)
    assert anomalies(ev) == []


def test_rsv_bits_reported() -> None:
    ev = decode(mkframe(1, b"a", rsv=0x70), extensions_negotiated=True)
    (f,) = frames(ev)
    assert (f.rsv1, f.rsv2, f.rsv3) == (True, True, True)
    assert anomalies(ev) == []  # an unknown extension may define them


def test_empty_frames() -> None:
    data = mkframe(1, b"", fin=False) + mkframe(0, b"", fin=False) + mkframe(0, b"") + mkframe(2, b"")
    ev = three_ways(data)
    assert [(m.opcode, m.data, m.text, m.nframes) for m in messages(ev)] == [
        (1, b"", "", 3),
        (2, b"", None, 1),
    ]
    assert anomalies(ev) == []


def test_empty_masked_frame() -> None:
    ev = three_ways(mkframe(9, b"", mask=b"abcd"), client=True)
    (f,) = frames(ev)
    assert f.payload == b"" and f.mask_key == b"abcd" and f.end == 6


def test_unmask_matches_reference() -> None:
    rng = random.Random(1)
    for n in (0, 1, 2, 3, 4, 5, 7, 8, 125, 1000, 4099):
        data = rng.randbytes(n)
        key = rng.randbytes(4)
        for phase in range(6):
            assert unmask(data, key, phase) == slow_xor(data, key, phase)
            assert unmask(memoryview(data), key, phase) == slow_xor(data, key, phase)


def test_big_masked_frame_unmasks_like_reference() -> None:
    body = os.urandom(70_001)
    key = os.urandom(4)
    data = mkframe(2, body, mask=key)
    assert data[14:] == slow_xor(body, key)
    ev = decode(data, client=True)
    assert frames(ev)[0].payload == body and messages(ev)[0].data == body
    # odd-sized pieces put every mask phase at a piece boundary
    pieces = [random.Random(3).choice([1, 2, 3, 5, 1021, 4093]) for _ in range(200)]
    assert decode(data, client=True, pieces=pieces) == ev


def test_many_frames_per_feed_and_frames_over_many_feeds() -> None:
    rng = random.Random(5)
    parts = [mkframe(1, f"m{i}".encode() * rng.randint(1, 40), mask=rng.randbytes(4)) for i in range(50)]
    data = b"".join(parts)
    ev = decode(data, client=True)
    assert len(messages(ev)) == 50 and anomalies(ev) == []
    assert [m.text for m in messages(ev)] == [slow_xor(p[6:], p[2:6]).decode() for p in parts]
    for _ in range(20):
        cuts = [rng.randint(1, 300) for _ in range(rng.randint(1, 30))]
        assert decode(data, client=True, pieces=cuts) == ev


def test_control_frames_between_fragments() -> None:
    data = (
        mkframe(1, b"He", fin=False)
        + mkframe(9, b"p1")
        + mkframe(0, b"ll", fin=False)
        + mkframe(10, b"")
        + mkframe(0, b"o")
    )
    ev = three_ways(data)
    assert [f.opcode for f in frames(ev)] == [1, 9, 0, 10, 0]
    (m,) = messages(ev)
    assert (m.text, m.nframes, m.start, m.end) == ("Hello", 3, 0, len(data))
    assert anomalies(ev) == []


def test_utf8_code_point_split_across_fragments() -> None:
    euro = "€".encode()
    ev = decode(mkframe(1, euro[:1], fin=False) + mkframe(0, euro[1:]))
    assert messages(ev)[0].text == "€" and anomalies(ev) == []


def test_keep_payload_bytes_cuts_frame_not_message() -> None:
    body = os.urandom(1000)
    ev = decode(mkframe(2, body), keep_payload_bytes=200)
    (f,) = frames(ev)
    assert f.payload == body[:200] and f.payload_truncated and f.payload_length == 1000
    assert messages(ev)[0].data == body


# --- anomalies: one test per code ----------------------------------------------------------------------


def one(events: list[WsEvent], code: str) -> ParserAnomaly:
    found = [a for a in anomalies(events) if a.code == code]
    assert len(found) == 1, codes_of(events)
    return found[0]


def test_client_frame_unmasked() -> None:
    ev = three_ways(mkframe(1, b"hi"), client=True)
    assert codes_of(ev) == [codes.CLIENT_FRAME_UNMASKED]
    assert messages(ev)[0].text == "hi"


def test_server_frame_masked() -> None:
    ev = three_ways(mkframe(1, b"hi", mask=b"\x01\x02\x03\x04"))
    assert codes_of(ev) == [codes.SERVER_FRAME_MASKED]
    assert messages(ev)[0].text == "hi"  # unmasked anyway


def test_control_frame_too_long() -> None:
    ev = three_ways(mkframe(9, b"p" * 126))
    assert codes_of(ev) == [codes.CONTROL_FRAME_TOO_LONG]
    assert frames(ev)[0].payload == b"p" * 126


def test_control_frame_fragmented() -> None:
    ev = three_ways(mkframe(10, b"x", fin=False))
    assert codes_of(ev) == [codes.CONTROL_FRAME_FRAGMENTED]


@pytest.mark.parametrize("op", [3, 4, 5, 6, 7, 11, 12, 13, 14, 15])
def test_reserved_opcode(op: int) -> None:
    ev = decode(mkframe(op, b"zz") + mkframe(1, b"ok"))
    assert codes_of(ev) == [codes.RESERVED_OPCODE]
    assert frames(ev)[0].opcode == op and frames(ev)[0].payload == b"zz"
    assert [m.text for m in messages(ev)] == ["ok"]


@pytest.mark.parametrize("rsv", [0x40, 0x20, 0x10])
def test_rsv_without_extension(rsv: int) -> None:
    ev = three_ways(mkframe(1, b"plain", rsv=rsv))
    assert codes_of(ev) == [codes.RSV_WITHOUT_EXTENSION]
    (m,) = messages(ev)
    assert (m.compressed, m.data) == (False, b"plain")  # payload as on the wire


def test_rsv2_under_deflate() -> None:
    ev = decode(mkframe(2, b"x", rsv=0x20), deflate=DeflateParams(), extensions_negotiated=True)
    assert codes_of(ev) == [codes.RSV_WITHOUT_EXTENSION]


def test_rsv1_on_continuation() -> None:
    ev = decode(
        mkframe(1, H("f248"), fin=False, rsv=0x40) + mkframe(0, H("cdc9c90700"), rsv=0x40),
        deflate=DeflateParams(),
    )
    assert one(ev, codes.RSV1_ON_CONTINUATION).offset == 4
    assert codes_of(ev) == [codes.RSV1_ON_CONTINUATION]
    assert messages(ev)[0].text == "Hello"


def test_rsv1_on_control() -> None:
    ev = decode(mkframe(9, b"", rsv=0x40), deflate=DeflateParams())
    assert codes_of(ev) == [codes.RSV1_ON_CONTROL]


def test_orphan_continuation() -> None:
    ev = three_ways(mkframe(0, b"lost") + mkframe(1, b"ok"))
    assert codes_of(ev) == [codes.ORPHAN_CONTINUATION]
    assert [m.text for m in messages(ev)] == ["ok"]


def test_interleaved_whole_message_keeps_the_open_one() -> None:
    data = mkframe(1, b"Hel", fin=False) + mkframe(2, b"\x01\x02") + mkframe(0, b"lo")
    ev = three_ways(data)
    a = one(ev, codes.INTERLEAVED_MESSAGE)
    assert a.offset == 5
    assert [(m.opcode, m.data) for m in messages(ev)] == [(2, b"\x01\x02"), (1, b"Hello")]


def test_interleaved_fragmented_message_abandons_the_open_one() -> None:
    data = mkframe(1, b"Hel", fin=False) + mkframe(1, b"Wor", fin=False) + mkframe(0, b"ld")
    ev = three_ways(data)
    one(ev, codes.INTERLEAVED_MESSAGE)
    assert [m.text for m in messages(ev)] == ["World"]
    assert len(frames(ev)) == 3


def test_non_minimal_64bit() -> None:
    ev = three_ways(mkframe(2, b"abc", form="64"))
    assert codes_of(ev) == [codes.NON_MINIMAL_LENGTH]
    assert frames(ev)[0].length_form == "64-bit" and messages(ev)[0].data == b"abc"


def test_64bit_length_top_bit_resyncs() -> None:
    bad = bytes([0x82, 127]) + (1 << 63 | 0xFFFFFFFF).to_bytes(8, "big") + b"12345"
    ev = three_ways(bad + mkframe(1, b"after") + mkframe(1, b"again"))
    assert codes_of(ev)[0] == codes.NON_MINIMAL_LENGTH
    assert codes.RESYNC in codes_of(ev)
    assert [m.text for m in messages(ev)] == ["after", "again"]
    assert frames(ev)[0].start == len(bad)


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
def test_invalid_close_code(code: int) -> None:
    ev = three_ways(mkframe(8, code.to_bytes(2, "big") + b"bye"))
    assert codes_of(ev) == [codes.INVALID_CLOSE_CODE]
    assert (frames(ev)[0].close_code, frames(ev)[0].close_reason) == (code, "bye")


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]
)
def test_valid_close_codes(code: int) -> None:
    assert is_valid_close_code(code)
    assert codes_of(decode(mkframe(8, code.to_bytes(2, "big")))) == []


def test_invalid_close_payload() -> None:
    ev = three_ways(mkframe(8, b"\x03"))
    assert codes_of(ev) == [codes.INVALID_CLOSE_PAYLOAD]
    assert frames(ev)[0].close_code is None


def test_empty_close() -> None:
    ev = decode(mkframe(8))
    assert (frames(ev)[0].close_code, frames(ev)[0].close_reason) == (None, None) and anomalies(ev) == []


@pytest.mark.parametrize(
    "bad",
    [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"ok\xe2\x82"],
    ids=["ff", "overlong", "surrogate", "above-10ffff", "cut-at-end"],
)
def test_invalid_utf8_text(bad: bytes) -> None:
    ev = three_ways(mkframe(1, bad))
    a = one(ev, codes.INVALID_UTF8)
    assert a.offset == 0
    (m,) = messages(ev)
    assert (m.text, m.data) == (None, bad)


def test_invalid_utf8_binary_is_fine() -> None:
    assert codes_of(decode(mkframe(2, b"\xff"))) == []


def test_invalid_utf8_close_reason() -> None:
    ev = three_ways(mkframe(8, b"\x03\xe8\xff"))
    assert codes_of(ev) == [codes.INVALID_UTF8]
    # #16 item 11: flagged, and kept as lossy text (the bytes are the frame's payload)
    assert (frames(ev)[0].close_code, frames(ev)[0].close_reason) == (1000, "\ufffd")
    ev = three_ways(mkframe(8, b"\x03\xe8going caf\xe9 away"))
    assert codes_of(ev) == [codes.INVALID_UTF8]
    assert frames(ev)[0].close_reason == "going caf\ufffd away"


def test_parse_close_direct() -> None:
    assert parse_close(b"\x03\xe8caf\xc3\xa9") == (1000, "café", [])
    assert parse_close(b"") == (None, None, [])


def test_data_after_close() -> None:
    data = mkframe(8, b"\x03\xe8") + mkframe(1, b"late") + mkframe(9, b"")
    ev = three_ways(data)
    a = one(ev, codes.DATA_AFTER_CLOSE)
    assert a.offset == 4
    assert [m.text for m in messages(ev)] == ["late"]  # still listed


def test_message_too_big() -> None:
    body = bytes(range(100)) * 3
    ev = decode(mkframe(2, body[:120], fin=False) + mkframe(0, body[120:]), max_message_bytes=100)
    one(ev, codes.MESSAGE_TOO_BIG)
    (m,) = messages(ev)
    assert (m.data, m.length, m.truncated) == (body[:100], 300, True)


def test_message_too_big_text_cut_inside_a_character() -> None:
    ev = decode(mkframe(1, "€€€".encode()), max_message_bytes=4)
    (m,) = messages(ev)
    assert (m.text, m.truncated, m.length) == ("€", True, 9)
    assert codes_of(ev) == [codes.MESSAGE_TOO_BIG]


def test_truncated_frame_payload() -> None:
    ev = decode(mkframe(2, b"0123456789")[:7])
    a = one(ev, codes.TRUNCATED_FRAME)
    assert a.offset == 0 and frames(ev) == []


def test_truncated_frame_header() -> None:
    ev = decode(mkframe(1, b"ok") + H("82 7e 01"))
    a = one(ev, codes.TRUNCATED_FRAME)
    assert a.offset == 4 and [m.text for m in messages(ev)] == ["ok"]


def test_unfinished_message() -> None:
    ev = decode(mkframe(1, b"open", fin=False))
    assert one(ev, codes.UNFINISHED_MESSAGE).offset == 0 and messages(ev) == []


def test_nothing_after_eof() -> None:
    dec = WsDecoder(False)
    dec.eof()
    assert dec.feed(mkframe(1, b"x")) == [] and dec.gap(5) == [] and dec.eof() == []


# --- gaps and resync -----------------------------------------------------------------------------------


def test_gap_inside_payload_keeps_framing() -> None:
    first = mkframe(2, bytes(range(200)))
    dec = WsDecoder(False)
    ev = dec.feed(mkframe(1, b"a") + first[:50])
    ev += dec.gap(100)
    ev += dec.feed(first[150:] + mkframe(1, b"next"))
    ev += dec.eof()
    gap = one(ev, codes.STREAM_GAP)
    assert gap.offset == 3 + 50
    f = frames(ev)[1]
    assert (f.payload_length, f.payload_truncated, f.payload, f.end) == (200, True, bytes(range(46)), 3 + 204)
    assert [m.data for m in messages(ev)] == [b"a", b"next"]
    assert codes.RESYNC not in codes_of(ev)


def test_gap_in_fragmented_message_drops_it_quietly() -> None:
    a = mkframe(1, b"Hel" * 20, fin=False)
    dec = WsDecoder(False)
    ev = dec.feed(a[:10])
    ev += dec.gap(len(a) - 10)
    ev += dec.feed(mkframe(0, b"x", fin=False) + mkframe(0, b"lo") + mkframe(1, b"ok"))
    ev += dec.eof()
    assert codes_of(ev) == [codes.STREAM_GAP]
    assert [m.text for m in messages(ev)] == ["ok"]


def test_gap_between_frames_resyncs() -> None:
    dec = WsDecoder(True)
    key = b"\x11\x22\x33\x44"
    f1 = mkframe(1, b"first", mask=key)
    f2 = mkframe(1, b"second message here", mask=key)
    ev = dec.feed(f1 + f2[:4])
    ev += dec.gap(7)
    ev += dec.feed(f2[11:] + mkframe(1, b"third", mask=key) + mkframe(1, b"fourth", mask=key))
    ev += dec.eof()
    assert [m.text for m in messages(ev)] == ["first", "third", "fourth"]
    assert codes_of(ev)[0] == codes.STREAM_GAP
    resync = one(ev, codes.RESYNC)
    assert resync.offset == len(f1) + len(f2)
    assert f"skipping {4 + len(f2) - 11} bytes" in resync.message
    assert frames(ev)[1].start == len(f1) + len(f2)


def test_resync_mode_mid_stream_start() -> None:
    stream = (
        mkframe(1, b"zero") + mkframe(0, b"tail-of-lost-message") + mkframe(1, b"one") + mkframe(2, b"two")
    )
    start = 3  # inside the first frame
    for ev in (decode(stream[start:], resync=True), bytewise(stream[start:], resync=True)):
        assert [m.data for m in messages(ev)] == [b"one", b"two"]
        # the continuation of a message whose start was not seen is no orphan
        assert codes.ORPHAN_CONTINUATION not in codes_of(ev)
        assert codes.RESYNC in codes_of(ev)


def test_resync_mode_at_a_boundary_reports_nothing() -> None:
    ev = three_ways(mkframe(1, b"a") + mkframe(1, b"b"), resync=True)
    assert anomalies(ev) == [] and [m.text for m in messages(ev)] == ["a", "b"]


def test_resync_on_garbage_only() -> None:
    ev = decode(b"\x00" * 3 + b"\xff" * 50, resync=True)
    assert codes_of(ev) == [codes.RESYNC] and frames(ev) == []


def test_resync_accepts_long_frame_on_its_header() -> None:
    big = mkframe(2, b"\x00" * (RESYNC_WINDOW + 10))
    ev = decode(b"\xff\xff" + big, resync=True)
    assert [len(m.data) for m in messages(ev)] == [RESYNC_WINDOW + 10]


# --- deflate through the decoder (more in test_deflate.py) ---------------------------------------------


def test_compressed_message_vector12() -> None:
    ev = three_ways(H("c1 07 f2 48 cd c9 c9 07 00"), deflate=DeflateParams())
    (m,) = messages(ev)
    assert (m.compressed, m.text, m.length) == (True, "Hello", 5)
    assert frames(ev)[0].payload == H("f2 48 cd c9 c9 07 00")  # not inflated


def test_inflate_failed_then_next_message_decodes() -> None:
    data = mkframe(1, b"\xff\xff\xff\xff", rsv=0x40) + H("c1 07 f2 48 cd c9 c9 07 00")
    ev = three_ways(data, deflate=DeflateParams())
    assert one(ev, codes.INFLATE_FAILED).offset == 0
    assert messages(ev)[0].truncated and messages(ev)[1].text == "Hello"


# --- registry ------------------------------------------------------------------------------------------

CONTRACT = [
    "ws.client-frame-unmasked",
    "ws.server-frame-masked",
    "ws.control-frame-too-long",
    "ws.control-frame-fragmented",
    "ws.reserved-opcode",
    "ws.rsv-without-extension",
    "ws.orphan-continuation",
    "ws.interleaved-message",
    "ws.non-minimal-length",
    "ws.invalid-close-code",
    "ws.invalid-close-payload",
    "ws.invalid-utf8",
    "ws.data-after-close",
    "ws.bad-accept",
    "ws.inflate-failed",
]


def test_contract_codes_registered_as_errors() -> None:
    for code in CONTRACT:
        d = REGISTRY[code]
        assert (d.severity, d.layer) == (Severity.ERROR, Layer.WEBSOCKET), code


def test_every_code_in_the_module_is_registered() -> None:
    for name in codes.__all__:
        code = getattr(codes, name)
        assert REGISTRY[code].layer is Layer.WEBSOCKET and code.startswith("ws.")


# --- properties ----------------------------------------------------------------------------------------

KW = st.fixed_dictionaries(
    {
        "client": st.booleans(),
        "deflate": st.sampled_from([None, DeflateParams(), DeflateParams(True, True)]),
        "resync": st.booleans(),
        "extensions_negotiated": st.booleans(),
        "keep_payload_bytes": st.sampled_from([1, 200, 1 << 20]),
        "max_message_bytes": st.sampled_from([0, 10, 1 << 20]),
        "max_inflate_bytes": st.sampled_from([0, 10, 1 << 20]),
    }
)


def _run(data: bytes, kw: dict[str, Any], cuts: list[int]) -> list[WsEvent]:
    kw = dict(kw)
    client = bool(kw.pop("client"))
    return decode(data, client, cuts, **kw)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), KW, st.lists(st.integers(0, 60), max_size=12))
def test_any_bytes_never_raise_and_splits_agree(data: bytes, kw: dict[str, Any], cuts: list[int]) -> None:
    assert _run(data, kw, cuts) == _run(data, kw, [])


@settings(max_examples=200)
@given(
    KW,
    st.lists(
        st.one_of(
            st.tuples(st.just("feed"), st.binary(max_size=60)), st.tuples(st.just("gap"), st.integers(-2, 40))
        ),
        max_size=12,
    ),
)
def test_feed_gap_eof_never_raise(kw: dict[str, Any], ops: list[tuple[str, object]]) -> None:
    kw = dict(kw)
    dec = WsDecoder(bool(kw.pop("client")), **kw)
    for op, arg in ops:
        if op == "feed":
            assert isinstance(arg, bytes)
            dec.feed(arg)
        else:
            assert isinstance(arg, int)
            dec.gap(arg)
    dec.eof()


@st.composite
def valid_streams(draw: st.DrawFn) -> tuple[bool, bytes, list[tuple[int, bytes]]]:
    client = draw(st.booleans())
    keys = st.binary(min_size=4, max_size=4)
    parts: list[bytes] = []
    expected: list[tuple[int, bytes]] = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["msg", "msg", "ping", "pong"]))
        if kind != "msg":
            op = 9 if kind == "ping" else 10
            parts.append(mkframe(op, draw(st.binary(max_size=125)), mask=draw(keys) if client else None))
            continue
        op = draw(st.sampled_from([1, 2]))
        body = draw(st.text(max_size=40)).encode() if op == 1 else draw(st.binary(max_size=300))
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=3)))
        bounds = [0, *cuts, len(body)]
        pieces = [body[a:b] for a, b in itertools.pairwise(bounds)]
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            parts.append(mkframe(op if i == 0 else 0, piece, fin=last, mask=draw(keys) if client else None))
            if not last and draw(st.booleans()):
                parts.append(mkframe(9, b"mid", mask=draw(keys) if client else None))
        expected.append((op, body))
    return client, b"".join(parts), expected


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(valid_streams(), st.lists(st.integers(1, 50), max_size=20))
def test_valid_streams_any_split(
    stream: tuple[bool, bytes, list[tuple[int, bytes]]], cuts: list[int]
) -> None:
    client, data, expected = stream
    whole = decode(data, client)
    assert anomalies(whole) == []
    assert [(m.opcode, m.data) for m in messages(whole)] == expected
    assert sum(f.end - f.start for f in frames(whole)) == len(data)
    assert decode(data, client, cuts) == whole
    # A mid-stream start at a frame boundary locks on at once, unless the stream holds an
    # empty continuation, which resync never takes for a header.
    if not any(f.opcode == 0 and f.payload_length == 0 for f in frames(whole)):
        assert decode(data, client, resync=True) == whole
