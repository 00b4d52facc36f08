"""permessage-deflate (RFC 7692): vectors 12-18 of PROTOCOLS.md, the inflater's bounds, negotiation."""

from __future__ import annotations

import os
import random
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.model.codes import websocket as codes
from analyzer.model.common import ParserAnomaly
from analyzer.protocols.deflate import (
    INFLATE_CAPTURE_BUDGET,
    INFLATE_CONNECTION_BUDGET,
    INFLATE_RATIO,
    DeflateParams,
    InflateBudget,
    Inflater,
    negotiate_deflate,
    parse_extensions,
)
from analyzer.protocols.websocket import WsDecoder, WsEvent, WsMessage

H = bytes.fromhex


def compress(data: bytes, co: zlib._Compress | None = None) -> bytes:
    """What a sender puts in the frame (RFC 7692 §7.2.1): raw DEFLATE, sync flush, tail removed."""
    co = co or zlib.compressobj(wbits=-15)
    out = co.compress(data) + co.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def frame(payload: bytes, *, op: int = 1, fin: bool = True, rsv1: bool = True) -> bytes:
    n = len(payload)
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | op
    if n < 126:
        head = bytes([b0, n])
    elif n < 65536:
        head = bytes([b0, 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, 127]) + n.to_bytes(8, "big")
    return head + payload


def run(data: bytes, params: DeflateParams | None = None, pieces: int = 0, **kw: Any) -> list[WsEvent]:
    dec = WsDecoder(False, params or DeflateParams(), **kw)
    out: list[WsEvent] = []
    if pieces:
        for i in range(0, len(data), pieces):
            out += dec.feed(data[i : i + pieces])
    else:
        out += dec.feed(data)
    return out + dec.eof()


def msgs(events: list[WsEvent]) -> list[WsMessage]:
    return [e for e in events if isinstance(e, WsMessage)]


def anoms(events: list[WsEvent]) -> list[str]:
    return [e.code for e in events if isinstance(e, ParserAnomaly)]


# --- vectors 12-18 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("pieces", [0, 1, 3])
def test_vector12_compressed_hello(pieces: int) -> None:
    ev = run(H("c1 07 f2 48 cd c9 c9 07 00"), pieces=pieces)
    (m,) = msgs(ev)
    assert (m.text, m.compressed, m.length, m.nframes) == ("Hello", True, 5, 1)
    assert anoms(ev) == []


@pytest.mark.parametrize("pieces", [0, 1])
def test_vector13_two_fragments(pieces: int) -> None:
    ev = run(H("41 03 f2 48 cd") + H("80 04 c9 c9 07 00"), pieces=pieces)
    (m,) = msgs(ev)
    assert (m.text, m.compressed, m.nframes) == ("Hello", True, 2)
    assert anoms(ev) == []


def test_vector14_context_takeover() -> None:
    ev = run(H("c1 07 f2 48 cd c9 c9 07 00") + H("c1 05 f2 00 11 00 00"))
    assert [m.text for m in msgs(ev)] == ["Hello", "Hello"]
    assert anoms(ev) == []


def test_vector14_needs_the_window() -> None:
    # Without the first message's window the back-reference of #14 cannot be resolved.
    ev = run(H("c1 05 f2 00 11 00 00"))
    assert anoms(ev) == [codes.INFLATE_FAILED]


def test_vector14_fails_under_no_context_takeover() -> None:
    ev = run(H("c1 07 f2 48 cd c9 c9 07 00") + H("c1 05 f2 00 11 00 00"), DeflateParams(True, False))
    assert msgs(ev)[0].text == "Hello" and anoms(ev) == [codes.INFLATE_FAILED]


def test_vector15_stored_block() -> None:
    ev = run(H("c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00"), pieces=1)
    assert [m.text for m in msgs(ev)] == ["Hello"] and anoms(ev) == []


@pytest.mark.parametrize(
    "payload",
    ["f3 48 cd c9 c9 07 00 00", "f2 48 05 00 00 00 ff ff ca c9 c9 07 00"],
    ids=["16-bfinal", "17-two-blocks"],
)
def test_vectors16_17(payload: str) -> None:
    inf = Inflater()
    r = inf.inflate(H(payload))
    assert (r.data, r.length, r.truncated, r.error) == (b"Hello", 5, False, None)
    # and the inflater is usable for the next message
    assert inf.inflate(H("f2 48 cd c9 c9 07 00")).data == b"Hello"


def test_vector16_bfinal_starts_a_new_stream() -> None:
    ev = run(frame(H("f3 48 cd c9 c9 07 00 00")) + frame(H("f2 48 cd c9 c9 07 00")))
    assert [m.text for m in msgs(ev)] == ["Hello", "Hello"] and anoms(ev) == []


def test_vector18_empty_message() -> None:
    r = Inflater().inflate(H("00"))
    assert (r.data, r.length, r.error) == (b"", 0, None)
    ev = run(frame(H("00")))
    assert [(m.text, m.length) for m in msgs(ev)] == [("", 0)]


# --- inflater behaviour --------------------------------------------------------------------------------


def test_context_takeover_with_zlib_sender() -> None:
    co = zlib.compressobj(wbits=-15)
    texts = [b"the same words again " * 5, b"the same words again " * 6, b"and something new"]
    payloads = [compress(t, co) for t in texts]
    assert len(payloads[1]) < 20  # it really refers back to the first message
    inf = Inflater()
    assert [inf.inflate(p).data for p in payloads] == texts


def test_no_context_takeover_resets_per_message() -> None:
    p = compress(b"abcabcabc")
    inf = Inflater(no_context_takeover=True)
    assert inf.inflate(p).data == b"abcabcabc" and inf.inflate(p).data == b"abcabcabc"


def test_large_message_any_split() -> None:
    rng = random.Random(9)
    text = b"".join(rng.choice([b"alpha ", b"beta ", os.urandom(8)]) for _ in range(40_000))
    payload = compress(text)
    assert len(payload) > 3 * 16384
    whole = Inflater().inflate(payload)
    assert whole.data == text and not whole.truncated
    inf = Inflater()
    pos = 0
    while pos < len(payload):
        step = rng.randint(1, 20_000)
        inf.feed(payload[pos : pos + step])
        pos += step
    assert inf.finish() == whole


def test_zip_bomb_is_bounded() -> None:
    bomb = compress(b"\x00" * (64 << 20))  # 64 MiB of zeros, about 64 KiB on the wire
    assert len(bomb) < 100_000
    inf = Inflater(max_output=1 << 20, max_keep=1000)
    r = inf.inflate(bomb)
    assert r.error is not None and "bound" in r.error
    assert (r.length, len(r.data), r.truncated) == (1 << 20, 1000, True)
    # the inflater was reset: the next message decodes
    assert inf.inflate(H("f2 48 cd c9 c9 07 00")).data == b"Hello"


def test_zip_bomb_through_the_decoder() -> None:
    bomb = compress(b"A" * (8 << 20))
    ev = run(frame(bomb, op=2) + frame(compress(b"next")), max_inflate_bytes=1 << 20, max_message_bytes=100)
    assert anoms(ev) == [codes.INFLATE_FAILED]
    first, second = msgs(ev)
    assert (first.length, first.truncated, len(first.data)) == (1 << 20, True, 100)
    assert second.text == "next"


def test_exact_bound_is_not_an_error() -> None:
    r = Inflater(max_output=5).inflate(H("f2 48 cd c9 c9 07 00"))
    assert (r.data, r.error, r.truncated) == (b"Hello", None, False)
    r = Inflater(max_output=4).inflate(H("f2 48 cd c9 c9 07 00"))
    assert r.error is not None and r.length == 4


def test_keep_bound_cuts_data_not_length() -> None:
    ev = run(frame(compress(b"x" * 1000)), max_message_bytes=10)
    (m,) = msgs(ev)
    assert (m.data, m.length, m.truncated) == (b"x" * 10, 1000, True)
    assert anoms(ev) == [codes.MESSAGE_TOO_BIG]


# --- the inflate budget (docs/bounds.md, issue #16) -----------------------------------------------------
def test_budget_is_a_floor_plus_a_ratio_of_the_compressed_bytes() -> None:
    assert (INFLATE_CAPTURE_BUDGET, INFLATE_CONNECTION_BUDGET, INFLATE_RATIO) == (256 << 20, 16 << 20, 32)
    capture = InflateBudget(1000, ratio=10)
    conn = capture.child(100)
    assert conn.take(100) is None and conn.take(1) == "connection"
    conn.fed(10)  # 10 compressed bytes: 100 more may be kept
    assert conn.take(100) is None and (conn.kept, capture.kept, capture.compressed) == (200, 200, 10)
    other = capture.child(10_000)
    assert other.take(800) is None and other.take(201) == "capture"  # 200 + 800 + 201 > 1000 + 100
    assert (conn.refused, other.refused) == (1, 1)
    assert conn.first("x") and not conn.first("x") and conn.first("y") and other.first("x")


def test_inflater_keeps_the_length_and_drops_the_data_past_the_budget() -> None:
    budget = InflateBudget(1 << 20, ratio=32).child(64 << 10)
    inf = Inflater(budget=budget)
    small = inf.inflate(compress(b"a" * 60_000))
    assert small.dropped is None and small.data == b"a" * 60_000
    bomb = compress(bytes(4 << 20))  # 4 MiB from about 4 KiB
    r = inf.inflate(bomb)
    assert (r.data, r.length, r.truncated, r.error, r.dropped) == (b"", 4 << 20, True, None, "connection")
    # the window is kept: a later message that fits the budget is whole
    assert inf.inflate(compress(b"b" * 1000)).data == b"b" * 1000
    assert budget.compressed == len(compress(b"a" * 60_000)) + len(bomb) + len(compress(b"b" * 1000))


def test_budget_through_the_decoder_reports_once() -> None:
    budget = InflateBudget(64 << 10, ratio=0).child(1 << 30)
    big = frame(compress(b"x" * 50_000), op=2)
    ev = run(big + big + big + frame(compress(b"tail")), inflate_budget=budget)
    assert anoms(ev) == [codes.INFLATE_BUDGET_EXCEEDED]
    first, second, third, tail = msgs(ev)
    assert len(first.data) == 50_000 and not first.truncated
    assert [(m.data, m.length, m.truncated) for m in (second, third)] == [(b"", 50_000, True)] * 2
    assert tail.text == "tail"
    assert len([e for e in ev if not isinstance(e, (WsMessage, ParserAnomaly))]) == 4  # every frame
    message = next(e for e in ev if isinstance(e, ParserAnomaly)).message
    assert "past the capture's inflate budget" in message and "frames and lengths are kept" in message


def test_corrupt_data_resets() -> None:
    inf = Inflater()
    r = inf.inflate(b"\xff\xff\xff\xff")
    assert r.error is not None and "corrupt" in r.error and r.truncated
    assert inf.inflate(H("f2 48 cd c9 c9 07 00")).data == b"Hello"


def test_uncompressed_message_under_deflate() -> None:
    ev = run(frame(b"plain", rsv1=False))
    (m,) = msgs(ev)
    assert (m.compressed, m.text) == (False, "plain")


def test_client_direction_uses_client_no_context_takeover() -> None:
    p = compress(b"hi")
    key = b"\x01\x02\x03\x04"
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(p))
    data = bytes([0xC1, 0x80 | len(p)]) + key + masked
    dec = WsDecoder(True, DeflateParams(client_no_context_takeover=True))
    ev = dec.feed(data + data)
    assert [m.text for m in msgs(ev)] == ["hi", "hi"] and anoms(ev) == []


@settings(max_examples=150)
@given(st.binary(max_size=200), st.integers(0, 64), st.integers(0, 64))
def test_inflater_never_raises(data: bytes, max_output: int, max_keep: int) -> None:
    inf = Inflater(max_output=max_output, max_keep=max_keep)
    r = inf.inflate(data)
    assert r.length <= max_output and len(r.data) <= min(max_keep, max_output)
    inf.feed(data)
    inf.reset()
    inf.finish()


@settings(max_examples=100)
@given(st.lists(st.binary(max_size=300), max_size=4), st.lists(st.integers(1, 40), max_size=10))
def test_inflater_any_split(texts: list[bytes], cuts: list[int]) -> None:
    co = zlib.compressobj(wbits=-15)
    payloads = [compress(t, co) for t in texts]
    inf = Inflater()
    for text, payload in zip(texts, payloads, strict=True):
        pos = 0
        for c in cuts:
            inf.feed(payload[pos : pos + c])
            pos += c
        inf.feed(payload[pos:])
        assert inf.finish().data == text


# --- DeflateParams -------------------------------------------------------------------------------------


def test_params_to_dict_keys() -> None:
    assert DeflateParams(True, False, 10, None).to_dict() == {
        "server_no_context_takeover": True,
        "client_no_context_takeover": False,
        "server_max_window_bits": 10,
        "client_max_window_bits": None,
    }


# --- Sec-WebSocket-Extensions grammar (RFC 6455 §9.1) --------------------------------------------------


def test_parse_extensions() -> None:
    got = parse_extensions(
        [
            'permessage-deflate; client_max_window_bits; server_max_window_bits="10", foo',
            "Bar ; X=1;y = 2 ,, ",
        ]
    )
    assert got == [
        ("permessage-deflate", [("client_max_window_bits", None), ("server_max_window_bits", "10")]),
        ("foo", []),
        ("bar", [("x", "1"), ("y", "2")]),
    ]


def test_parse_extensions_quoted_separators() -> None:
    got = parse_extensions(['ext; a="x,y;z\\"q"; b, other'])
    assert got == [("ext", [("a", 'x,y;z"q'), ("b", None)]), ("other", [])]


@given(st.lists(st.text(max_size=40), max_size=3))
def test_parse_extensions_never_raises(values: list[str]) -> None:
    parse_extensions(values)


# --- negotiation (RFC 7692 §5, §7.1) -------------------------------------------------------------------


def test_negotiate_typical() -> None:
    params, issues = negotiate_deflate(
        ["permessage-deflate; client_max_window_bits"],
        ["permessage-deflate; server_no_context_takeover; client_max_window_bits=15"],
    )
    assert params == DeflateParams(True, False, None, 15) and issues == []


def test_negotiate_not_agreed() -> None:
    assert negotiate_deflate(["permessage-deflate"], []) == (None, [])
    assert negotiate_deflate([], ["x-other"]) == (None, [])


def test_negotiate_fallback_offer_accepted() -> None:
    # RFC 7692 §7.1.3 style: a first offer the server may decline, and a fallback.
    params, issues = negotiate_deflate(
        ["permessage-deflate; server_max_window_bits=10, permessage-deflate"], ["permessage-deflate"]
    )
    assert params == DeflateParams() and issues == []


@pytest.mark.parametrize(
    ("offer", "response", "fragment"),
    [
        ("permessage-deflate", "permessage-deflate; client_max_window_bits=10", "not offered"),
        (
            "permessage-deflate",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "duplicate",
        ),
        ("permessage-deflate", "permessage-deflate; mystery=1", "unknown parameter"),
        ("permessage-deflate", "permessage-deflate; server_max_window_bits=16", "not 8-15"),
        ("permessage-deflate", "permessage-deflate; server_max_window_bits=7", "not 8-15"),
        ("permessage-deflate", "permessage-deflate; server_max_window_bits=09", "not 8-15"),
        (
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; client_max_window_bits",
            "needs a value",
        ),
        ("permessage-deflate", "permessage-deflate; server_no_context_takeover=1", "no value"),
        (
            "permessage-deflate; server_max_window_bits=10",
            "permessage-deflate; server_max_window_bits=12",
            "no offer",
        ),
        ("permessage-deflate; server_max_window_bits=10", "permessage-deflate", "no offer"),
        ("permessage-deflate; server_no_context_takeover", "permessage-deflate", "no offer"),
        ("permessage-deflate", "permessage-deflate, permessage-deflate", "more than once"),
        (
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=10",
            "needs a value",
        ),
        ("permessage-deflate; bogus", "permessage-deflate", "offer 1: unknown parameter bogus"),
    ],
)
def test_negotiate_h5_violations(offer: str, response: str, fragment: str) -> None:
    params, issues = negotiate_deflate([offer], [response])
    assert params is not None  # frames are still decoded with what the server said
    assert issues and all(code == codes.HANDSHAKE_BAD_DEFLATE for code, _ in issues)
    assert any(fragment in msg for _, msg in issues), issues


def test_negotiate_server_may_lower_window_and_add_its_own() -> None:
    params, issues = negotiate_deflate(
        ["permessage-deflate; server_max_window_bits=12"], ["permessage-deflate; server_max_window_bits=9"]
    )
    assert issues == [] and params == DeflateParams(server_max_window_bits=9)
    params, issues = negotiate_deflate(
        ["permessage-deflate"], ["permessage-deflate; server_max_window_bits=9"]
    )
    assert issues == [] and params == DeflateParams(server_max_window_bits=9)
