"""Engine.IO v3/v4 decoding: PROTOCOLS.md vectors 19-31, checklist G1/G2/G7/G8, streaming and fuzzing.

Expected values come from the spec's examples, from python-engineio's own encoder (an
independent implementation, used as an oracle), or from the naive reference encoders
below (`v3_text`, `xhr2`), never from the decoder under test.
"""

from __future__ import annotations

import base64
import json
import random
from urllib.parse import urlencode

import pytest
from engineio import packet as py_packet
from engineio import payload as py_payload
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.model.codes import engineio as codes
from analyzer.model.common import ParserAnomaly
from analyzer.model.engineio import EioPacket, EioPacketType
from analyzer.model.registry import REGISTRY
from analyzer.protocols.engineio import (
    decode_packet_text,
    decode_ws_message,
    parse_engineio_query,
    parse_open_packet,
)
from analyzer.protocols.engineio_polling import PayloadEvent, PollingPayloadDecoder, decode_polling_payload

T = EioPacketType
H = bytes.fromhex
OPEN4 = (
    '0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,'
    '"pingTimeout":20000,"maxPayload":1000000}'
)
OPEN3 = '0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000}'


def utf16_len(s: str) -> int:
    """JavaScript's String.length: UTF-16 code units."""
    return len(s.encode("utf-16-le")) // 2


def v3_text(records: list[str]) -> bytes:
    """Reference EIO3 text payload encoder: <utf16 length>:<packet> (EIO v3 'Payload')."""
    return "".join(f"{utf16_len(r)}:{r}" for r in records).encode("utf-8")


def xhr2(records: list[str | bytes]) -> bytes:
    """Reference EIO3 binary payload encoder: 00/01, one byte per decimal digit, ff, packet."""
    out = bytearray()
    for r in records:
        body = r.encode("utf-8") if isinstance(r, str) else r
        out.append(0 if isinstance(r, str) else 1)
        out += bytes(int(c) for c in str(len(body)))
        out.append(0xFF)
        out += body
    return bytes(out)


def codes_of(anomalies: list[ParserAnomaly]) -> list[str]:
    return [a.code for a in anomalies]


def feed_pieces(body: bytes, version: int, ctype: str | None, sizes: list[int]) -> list[PayloadEvent]:
    dec = PollingPayloadDecoder(version, ctype)
    events: list[PayloadEvent] = []
    pos = 0
    i = 0
    while pos < len(body):
        n = sizes[i % len(sizes)] if sizes else 1
        events += dec.feed(body[pos : pos + n])
        pos += n
        i += 1
    return events + dec.eof()


def feed_whole(body: bytes, version: int, ctype: str | None) -> list[PayloadEvent]:
    dec = PollingPayloadDecoder(version, ctype)
    return dec.feed(body) + dec.eof()


def test_codes_are_registered_in_the_engineio_layer() -> None:
    for name in codes.__all__:
        code = getattr(codes, name)
        assert code.startswith("eio.")
        assert REGISTRY[code].layer.value == "engineio"


# --- query --------------------------------------------------------------------------------------------
def test_query_polling_handshake() -> None:
    q = parse_engineio_query("/socket.io/?EIO=4&transport=polling&t=N8hyd6w")
    assert q is not None
    assert (q.path, q.eio, q.transport, q.sid, q.t, q.b64, q.jsonp) == (
        "/socket.io/",
        4,
        "polling",
        None,
        "N8hyd6w",
        False,
        None,
    )
    assert q.version == 4


def test_query_any_mount_path_and_absolute_form() -> None:
    q = parse_engineio_query(
        "http://example.com:3000/my/app/?EIO=3&transport=websocket&sid=abc%2Bd&b64=1&j=2"
    )
    assert q is not None
    assert (q.path, q.version, q.transport, q.sid, q.b64, q.jsonp) == (
        "/my/app/",
        3,
        "websocket",
        "abc+d",
        True,
        "2",
    )


def test_query_without_eio_on_engineio_path_is_v3() -> None:
    # engine.io server.ts treats a missing EIO as 3 (PROTOCOLS.md §2)
    q = parse_engineio_query("/engine.io/?transport=polling")
    assert q is not None and q.eio is None and q.version == 3


@pytest.mark.parametrize(
    "target",
    ["/", "/index.html", "/socket.io/socket.io.js", "/api?transport=polling", "*", "/x?" + "a=1&" * 100],
)
def test_query_not_engineio(target: str) -> None:
    assert parse_engineio_query(target) is None


def test_query_bad_eio_value() -> None:
    q = parse_engineio_query("/socket.io/?EIO=x&transport=polling")
    assert q is not None and q.eio is None and q.eio_raw == "x"


# --- single packets (G1) ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "ptype", "data"),
    [
        ("0{}", T.OPEN, "{}"),
        ("1", T.CLOSE, ""),
        ("2", T.PING, ""),
        ("2probe", T.PING, "probe"),
        ("3probe", T.PONG, "probe"),
        ("4hello", T.MESSAGE, "hello"),
        ("4", T.MESSAGE, ""),
        ("5", T.UPGRADE, ""),
        ("6", T.NOOP, ""),
    ],
)
def test_text_packets(text: str, ptype: EioPacketType, data: str) -> None:
    for version in (3, 4):
        packet, anomalies = decode_packet_text(text, version)
        assert anomalies == []
        assert packet == EioPacket(ptype, data)


@pytest.mark.parametrize("text", ["", "7", "9x", "abc", "{", " 4x", "٤hello"])
def test_bad_packet_type(text: str) -> None:
    # G1: type not 0-6, non-digit first character, empty packet (test suite: "abc" -> 400)
    for version in (3, 4):
        packet, anomalies = decode_packet_text(text, version)
        assert packet is None
        assert codes_of(anomalies) == [codes.BAD_PACKET_TYPE]


def test_base64_packets_by_version() -> None:
    # v4: "b" + base64 of a message; v3: "b" + type + base64
    assert decode_packet_text("bAQIDBA==", 4) == (EioPacket(T.MESSAGE, H("01020304"), b64=True), [])
    assert decode_packet_text("b4AQIDBA==", 3) == (EioPacket(T.MESSAGE, H("01020304"), b64=True), [])
    packet, anomalies = decode_packet_text("b9AQ==", 3)
    assert packet is None and codes_of(anomalies) == [codes.BAD_PACKET_TYPE]


def test_bad_base64_is_decoded_leniently_and_flagged() -> None:
    packet, anomalies = decode_packet_text("bAQID*BA", 4)
    assert packet is not None and packet.data == H("01020304")
    assert codes_of(anomalies) == [codes.BAD_BASE64]


def test_vector_22_v4_binary_ws_frame_is_a_message() -> None:
    assert decode_ws_message(H("01020304"), True, 4) == (EioPacket(T.MESSAGE, H("01020304")), [])


def test_vector_30_v3_binary_ws_frame_has_a_type_byte() -> None:
    assert decode_ws_message(H("0401020304"), True, 3) == (EioPacket(T.MESSAGE, H("01020304")), [])
    packet, anomalies = decode_ws_message(H("0901"), True, 3)
    assert packet is None and codes_of(anomalies) == [codes.BAD_PACKET_TYPE]
    packet, anomalies = decode_ws_message(b"", True, 3)
    assert packet is None and codes_of(anomalies) == [codes.BAD_PACKET_TYPE]


def test_ws_text_frames() -> None:
    assert decode_ws_message(b"4hello", False, 4) == (EioPacket(T.MESSAGE, "hello"), [])
    assert decode_ws_message(b"b4AQIDBA==", False, 3) == (EioPacket(T.MESSAGE, H("01020304"), b64=True), [])
    packet, anomalies = decode_ws_message(b"4\xff", False, 4)
    assert packet == EioPacket(T.MESSAGE, "\ufffd")
    assert codes_of(anomalies) == [codes.BAD_ENCODING]


# --- open packet (G2) ---------------------------------------------------------------------------------
def test_vector_19_open_v4() -> None:
    packet, anomalies = decode_packet_text(OPEN4, 4)
    assert anomalies == [] and packet is not None and packet.type is T.OPEN
    info, problems = parse_open_packet(packet, 4)
    assert problems == []
    assert info is not None
    assert (info.sid, info.upgrades, info.ping_interval_ms, info.ping_timeout_ms, info.max_payload) == (
        "lv_VI97HAXpY6yYWAAAC",
        ("websocket",),
        25000,
        20000,
        1000000,
    )


def test_open_v3_has_no_max_payload() -> None:
    info, problems = parse_open_packet(EioPacket(T.OPEN, OPEN3[1:]), 3)
    assert problems == [] and info is not None and info.max_payload is None and info.ping_timeout_ms == 5000


def test_open_v4_without_max_payload() -> None:
    # the v4 test suite checks exactly five keys, maxPayload included
    info, problems = parse_open_packet(EioPacket(T.OPEN, OPEN3[1:]), 4)
    assert info is not None
    assert codes_of(problems) == [codes.OPEN_MISSING_KEYS]
    assert "maxPayload" in problems[0].message


@pytest.mark.parametrize(
    ("data", "expected", "has_info"),
    [
        ("not json", [codes.BAD_OPEN_PACKET], False),
        ("[1,2]", [codes.BAD_OPEN_PACKET], False),
        ('{"sid":"a"}', [codes.OPEN_MISSING_KEYS], True),
        (
            '{"sid":"a","upgrades":"websocket","pingInterval":"25000","pingTimeout":1,"maxPayload":1}',
            [codes.BAD_OPEN_PACKET],
            True,
        ),
        ('{"upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":1}', [codes.OPEN_MISSING_KEYS], False),
        (
            '{"sid":7,"upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":1}',
            [codes.BAD_OPEN_PACKET],
            False,
        ),
    ],
)
def test_bad_open_packets(data: str, expected: list[str], has_info: bool) -> None:
    info, problems = parse_open_packet(EioPacket(T.OPEN, data), 4)
    assert codes_of(problems) == expected
    assert (info is not None) is has_info


# --- v4 polling ---------------------------------------------------------------------------------------
def test_vector_20_v4_payload() -> None:
    packets, anomalies = decode_polling_payload(b"4hello\x1e2\x1e4world", 4, "text/plain; charset=UTF-8")
    assert anomalies == []
    assert packets == [EioPacket(T.MESSAGE, "hello"), EioPacket(T.PING, ""), EioPacket(T.MESSAGE, "world")]


def test_vector_21_v4_payload_with_binary() -> None:
    packets, anomalies = decode_polling_payload(b"4hello\x1ebAQIDBA==", 4)
    assert anomalies == []
    assert packets == [EioPacket(T.MESSAGE, "hello"), EioPacket(T.MESSAGE, H("01020304"), b64=True)]


def test_vector_24_v4_post_abc_is_invalid() -> None:
    packets, anomalies = decode_polling_payload(b"abc", 4)
    assert packets == [] and codes_of(anomalies) == [codes.BAD_PACKET_TYPE]


def test_v4_bad_record_does_not_hide_the_next_ones() -> None:
    packets, anomalies = decode_polling_payload(b"4a\x1e9\x1e\x1e4b\x1e", 4)
    assert packets == [EioPacket(T.MESSAGE, "a"), EioPacket(T.MESSAGE, "b")]
    assert codes_of(anomalies) == [codes.BAD_PACKET_TYPE] * 3  # "9", "", and the trailing empty record


def test_v4_multibyte_text() -> None:
    body = "4€😀\x1e4ü".encode()
    packets, anomalies = decode_polling_payload(body, 4)
    assert anomalies == [] and [p.data for p in packets] == ["€😀", "ü"]


def test_v4_payload_not_utf8() -> None:
    packets, anomalies = decode_polling_payload(b"4a\xff\x1e4b", 4)
    assert [p.data for p in packets] == ["a\ufffd", "b"]
    assert codes_of(anomalies) == [codes.BAD_ENCODING]


def test_empty_body() -> None:
    for version in (3, 4):
        assert decode_polling_payload(b"", version) == (
            [],
            [ParserAnomaly(codes.EMPTY_PAYLOAD, "empty polling body", 0)],
        )


# --- v3 polling (G7) ----------------------------------------------------------------------------------
def test_vector_25_v3_open_length_96() -> None:
    assert utf16_len(OPEN3) == 96
    packets, anomalies = decode_polling_payload(("96:" + OPEN3).encode(), 3)
    assert anomalies == [] and packets == [EioPacket(T.OPEN, OPEN3[1:])]


def test_vector_26_v3_two_messages() -> None:
    packets, anomalies = decode_polling_payload(b"6:4hello6:4world", 3)
    assert anomalies == [] and packets == [EioPacket(T.MESSAGE, "hello"), EioPacket(T.MESSAGE, "world")]


def test_vector_27_v3_length_counts_utf16_units() -> None:
    packets, anomalies = decode_polling_payload("2:4€10:b4AQIDBA==".encode(), 3)
    assert anomalies == []
    assert packets == [EioPacket(T.MESSAGE, "€"), EioPacket(T.MESSAGE, H("01020304"), b64=True)]


def test_v3_astral_characters_count_two() -> None:
    body = v3_text(["4😀a", "4x"])
    assert body.startswith(b"4:")  # "4", then 2 units for the emoji, then "a"
    packets, anomalies = decode_polling_payload(body, 3)
    assert anomalies == [] and [p.data for p in packets] == ["😀a", "x"]


@pytest.mark.parametrize(
    ("body", "unit"),
    [
        ("3:4😀a2:4x", "code points"),  # e.g. python's len(str)
        ("6:4😀a2:4x", "UTF-8 bytes"),
        ("5:4€a2:4x", "UTF-8 bytes"),  # BMP only: units and code points agree (3), bytes do not
    ],
)
def test_v3_miscounted_lengths_are_flagged_and_recovered(body: str, unit: str) -> None:
    packets, anomalies = decode_polling_payload(body.encode(), 3)
    assert codes_of(anomalies) == [codes.BAD_LENGTH_PREFIX]
    assert unit in anomalies[0].message
    assert [p.data for p in packets] == [body[body.index(":") + 2 : body.index("2:4x")], "x"]


@pytest.mark.parametrize("body", [b"x:4a", b"5:4a", b"2:4a9", b"2:4ab:", b":4a", b"12345678901:4"])
def test_v3_bad_length_prefix_stops_decoding(body: bytes) -> None:
    _, anomalies = decode_polling_payload(body, 3)
    assert codes_of(anomalies)[-1] == codes.BAD_LENGTH_PREFIX


def test_v3_empty_payload_0_colon() -> None:
    # "An empty payload is 0:" (EIO v3)
    assert decode_polling_payload(b"0:", 3) == ([], [])


def test_v3_record_splitting_a_surrogate_pair() -> None:
    # a length that ends inside the emoji's surrogate pair is wrong for JS; here it matches nothing else
    _, anomalies = decode_polling_payload("2:4😀".encode(), 3)
    assert codes_of(anomalies) == [codes.BAD_LENGTH_PREFIX]


def test_vector_31_v3_ping_pong_bodies() -> None:
    assert decode_polling_payload(b"1:2", 3) == ([EioPacket(T.PING, "")], [])
    assert decode_polling_payload(b"1:3", 3) == ([EioPacket(T.PONG, "")], [])
    assert decode_polling_payload(b"1:6", 3) == ([EioPacket(T.NOOP, "")], [])


# --- v3 XHR2 (G7, G8) ---------------------------------------------------------------------------------
def test_vector_28_xhr2() -> None:
    body = H("0004ff34e282ac0105ff0401020304")
    assert body == xhr2(["4€", b"\x04\x01\x02\x03\x04"])
    packets, anomalies = decode_polling_payload(body, 3, "application/octet-stream")
    assert anomalies == []
    assert packets == [EioPacket(T.MESSAGE, "€"), EioPacket(T.MESSAGE, H("01020304"))]


def test_vector_29_xhr2_equals_text_payload() -> None:
    body = H("0006ff3468656c6c6f0105ff0401020304")
    binary, a1 = decode_polling_payload(body, 3, "application/octet-stream")
    text, a2 = decode_polling_payload(b"6:4hello10:b4AQIDBA==", 3, "text/plain")
    assert a1 == a2 == []
    assert [(p.type, p.data) for p in binary] == [(p.type, p.data) for p in text]


def test_xhr2_long_record() -> None:
    big = bytes(range(256)) * 5
    packets, anomalies = decode_polling_payload(
        xhr2(["4" + "x" * 300, b"\x04" + big]), 3, "application/octet-stream"
    )
    assert anomalies == [] and packets == [EioPacket(T.MESSAGE, "x" * 300), EioPacket(T.MESSAGE, big)]


@pytest.mark.parametrize(
    "body",
    [
        H("000aff34"),  # length digit above 9
        H("0001"),  # no 0xff
        H("0005ff3468"),  # shorter than declared
        H("02"),  # kind byte neither 00 nor 01
        H("00ff34"),  # no digits
        H("00") + bytes(12) + H("ff"),  # too many digits
    ],
)
def test_xhr2_bad_records(body: bytes) -> None:
    _, anomalies = decode_polling_payload(body, 3, "application/octet-stream")
    assert codes_of(anomalies) == [codes.BAD_XHR2_RECORD]


def test_xhr2_bad_binary_type() -> None:
    packets, anomalies = decode_polling_payload(xhr2([b"\x09\x01", "4a"]), 3, "application/octet-stream")
    assert packets == [EioPacket(T.MESSAGE, "a")]
    assert codes_of(anomalies) == [codes.BAD_PACKET_TYPE]


def test_binary_body_without_octet_stream_content_type() -> None:
    # G8: binary body without application/octet-stream (and the reverse)
    packets, anomalies = decode_polling_payload(xhr2(["4a"]), 3, "text/plain; charset=UTF-8")
    assert packets == [EioPacket(T.MESSAGE, "a")] and codes_of(anomalies) == [codes.BINARY_CONTENT_TYPE]
    packets, anomalies = decode_polling_payload(b"2:4a", 3, "application/octet-stream")
    assert packets == [EioPacket(T.MESSAGE, "a")] and codes_of(anomalies) == [codes.BINARY_CONTENT_TYPE]


# --- JSONP --------------------------------------------------------------------------------------------
def test_jsonp_response_v3() -> None:
    inner = '6:4hello2:4"'
    body = ("___eio[3](" + json.dumps(inner) + ");").encode()
    packets, anomalies = decode_polling_payload(body, 3, "text/javascript; charset=UTF-8")
    assert anomalies == [] and [p.data for p in packets] == ["hello", '"']


def test_jsonp_response_python_engineio_style() -> None:
    # python-engineio only escapes double quotes; the browser evaluates the JS string literal
    inner = py_payload.Payload(packets=[py_packet.Packet(4, 'say "hi"'), py_packet.Packet(2)]).encode(
        jsonp_index=0
    )
    assert inner.startswith("___eio[0](")
    packets, anomalies = decode_polling_payload(inner.encode(), 4)
    assert anomalies == [] and [(p.type, p.data) for p in packets] == [(T.MESSAGE, 'say "hi"'), (T.PING, "")]


def jsonp_form(payload: str) -> bytes:
    """Reference engine.io-client JSONP POST: escaped newlines doubled, newlines escaped, form-encoded."""
    value = payload.replace("\\n", "\\\n").replace("\n", "\\n")
    return urlencode({"d": value}).encode()


def test_jsonp_form_post() -> None:
    text = "4a\nb\\nc"  # a newline, then a backslash followed by n
    body = jsonp_form(f"{utf16_len(text)}:{text}2:4x")
    packets, anomalies = decode_polling_payload(body, 3, "application/x-www-form-urlencoded")
    assert anomalies == []
    assert [p.data for p in packets] == [text[1:], "x"]


def test_bad_jsonp() -> None:
    for body, ctype in [(b"___eio[0](4hello);", None), (b"x=1", "application/x-www-form-urlencoded")]:
        _, anomalies = decode_polling_payload(body, 3, ctype)
        assert codes_of(anomalies) == [codes.BAD_JSONP]


# --- bounds -------------------------------------------------------------------------------------------
def test_packets_per_payload_bound() -> None:
    packets, anomalies = decode_polling_payload(b"\x1e".join([b"2"] * 50), 4, max_packets=10)
    assert len(packets) == 10 and codes_of(anomalies) == [codes.LIMIT_EXCEEDED]
    packets, anomalies = decode_polling_payload(b"1:2" * 50, 3, max_packets=10)
    assert len(packets) == 10 and codes_of(anomalies) == [codes.LIMIT_EXCEEDED]


def test_streaming_buffer_bound() -> None:
    dec = PollingPayloadDecoder(4, max_body=100)
    events = dec.feed(b"4" + b"x" * 200) + dec.feed(b"\x1e2") + dec.eof()
    assert [e.code for e in events if isinstance(e, ParserAnomaly)] == [codes.LIMIT_EXCEEDED]
    assert not any(isinstance(e, EioPacket) for e in events)


# --- whole, piecewise, trailing data ------------------------------------------------------------------
BODIES: list[tuple[bytes, int, str | None]] = [
    (b"4hello\x1e2\x1e4world", 4, None),
    (b"4hello\x1ebAQIDBA==", 4, None),
    (("96:" + OPEN3 + "2:40").encode(), 3, None),
    ("2:4€10:b4AQIDBA==".encode(), 3, None),
    (v3_text(["4😀a", "4" + "€" * 40, "2"]), 3, None),
    ("3:4😀a2:4x".encode(), 3, None),
    (H("0004ff34e282ac0105ff0401020304"), 3, "application/octet-stream"),
    (("___eio[3](" + json.dumps("6:4hello") + ");").encode(), 3, None),
    (b"d=6%3A4hello", 3, "application/x-www-form-urlencoded"),
    (b"x:4a", 3, None),
    (H("000aff34"), 3, "application/octet-stream"),
    (b"4a\xff\x1e4b", 4, None),
]


@pytest.mark.parametrize(("body", "version", "ctype"), BODIES)
def test_piecewise_equals_whole(body: bytes, version: int, ctype: str | None) -> None:
    whole = feed_whole(body, version, ctype)
    assert feed_pieces(body, version, ctype, [1]) == whole
    assert feed_pieces(body, version, ctype, [2, 3, 7]) == whole
    rng = random.Random(len(body))
    assert feed_pieces(body, version, ctype, [rng.randint(1, 9) for _ in range(20)]) == whole


@pytest.mark.parametrize(
    ("body", "extra", "version"),
    [
        (b"4hello\x1e2", b"\x1e4more", 4),
        (b"6:4hello", b"5:4more", 3),
        (("2:4€").encode(), b"2:40", 3),
    ],
)
def test_trailing_data_keeps_the_first_packets(body: bytes, extra: bytes, version: int) -> None:
    first, a1 = decode_polling_payload(body, version)
    more, a2 = decode_polling_payload(body + extra, version)
    assert a1 == a2 == []
    assert more[: len(first)] == first and len(more) == len(first) + 1


def test_trailing_data_xhr2() -> None:
    first = xhr2(["4a", b"\x04\x01"])
    p1, _ = decode_polling_payload(first, 3, "application/octet-stream")
    p2, _ = decode_polling_payload(first + xhr2(["2"]), 3, "application/octet-stream")
    assert p2 == [*p1, EioPacket(T.PING, "")]


# --- python-engineio as an oracle ---------------------------------------------------------------------
packet_st = st.one_of(
    st.tuples(st.sampled_from([1, 2, 3, 5, 6]), st.just(None)),
    st.tuples(st.just(4), st.text(max_size=30).filter(lambda s: "\x1e" not in s)),
    st.tuples(st.just(4), st.binary(max_size=30)),
)


@given(st.lists(packet_st, min_size=1, max_size=8))
def test_v4_payloads_encoded_by_python_engineio(items: list[tuple[int, str | bytes | None]]) -> None:
    py = [py_packet.Packet(t, d) for t, d in items]
    body = py_payload.Payload(packets=py).encode().encode("utf-8")
    packets, anomalies = decode_polling_payload(body, 4)
    assert anomalies == []
    assert [(int(p.type), p.data) for p in packets] == [(t, "" if d is None else d) for t, d in items]


@given(st.lists(packet_st, min_size=1, max_size=8), st.booleans())
def test_v3_payloads_by_reference_encoders(items: list[tuple[int, str | bytes | None]], binary: bool) -> None:
    texts: list[str | bytes] = []
    for t, d in items:
        if isinstance(d, bytes):
            texts.append(bytes([t]) + d if binary else f"b{t}" + base64.b64encode(d).decode())
        else:
            texts.append(f"{t}{d or ''}")
    if binary:
        body, ctype = xhr2(texts), "application/octet-stream"
    else:
        body, ctype = v3_text([t for t in texts if isinstance(t, str)]), "text/plain"
    packets, anomalies = decode_polling_payload(body, 3, ctype)
    assert anomalies == []
    assert [(int(p.type), p.data) for p in packets] == [(t, "" if d is None else d) for t, d in items]
    sizes = [1, 4, 2]
    assert feed_pieces(body, 3, ctype, sizes) == feed_whole(body, 3, ctype)


# --- never raises -------------------------------------------------------------------------------------
CTYPES = st.sampled_from(
    [None, "text/plain", "application/octet-stream", "application/x-www-form-urlencoded", "text/javascript"]
)
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _interesting_bytes() -> st.SearchStrategy[bytes]:
    parts = st.sampled_from(
        [
            b"4",
            b"2",
            b":",
            b"1",
            b"9",
            b"\x1e",
            b"b",
            b"\x00",
            b"\x01",
            b"\xff",
            b"\x09",
            "😀".encode(),
            "€".encode(),
            b"___eio[",
            b"](",
            b'"',
            b");",
            b"d=",
            b"%1E",
            b"\\n",
            b"AQID",
        ]
    )
    return st.one_of(st.binary(max_size=200), st.lists(parts, max_size=40).map(b"".join))


@FUZZ
@given(
    _interesting_bytes(), st.sampled_from([3, 4]), CTYPES, st.lists(st.integers(1, 9), min_size=1, max_size=5)
)
def test_polling_decoder_never_raises_and_is_chunking_independent(
    body: bytes, version: int, ctype: str | None, sizes: list[int]
) -> None:
    whole = feed_whole(body, version, ctype)
    for e in whole:
        assert isinstance(e, EioPacket | ParserAnomaly)
        if isinstance(e, ParserAnomaly):
            assert e.code in REGISTRY
    assert feed_pieces(body, version, ctype, sizes) == whole


@FUZZ
@given(st.text(max_size=60), st.sampled_from([3, 4]))
def test_packet_text_never_raises(text: str, version: int) -> None:
    packet, anomalies = decode_packet_text(text, version)
    assert (packet is None) == bool(anomalies) or codes_of(anomalies) == [codes.BAD_BASE64]
    if packet is not None and packet.type is T.OPEN:
        parse_open_packet(packet, version)


@FUZZ
@given(st.binary(max_size=60), st.booleans(), st.sampled_from([3, 4]))
def test_ws_message_never_raises(data: bytes, binary: bool, version: int) -> None:
    decode_ws_message(data, binary, version)


@FUZZ
@given(st.text(max_size=200))
def test_query_never_raises(target: str) -> None:
    parse_engineio_query(target)
    parse_engineio_query("/socket.io/?" + target)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
        max_leaves=12,
    )
)
def test_open_packet_never_raises(value: object) -> None:
    for version in (3, 4):
        parse_open_packet(EioPacket(T.OPEN, json.dumps(value)), version)


def test_a_version_of_thousands_of_digits_is_no_version_and_no_error() -> None:
    """#16 fuzz finding (seed 20261209): `EIO=` with 4400 digits made int() raise past Python's
    digit limit, and the whole analysis ended in a traceback."""
    from analyzer.protocols.engineio import parse_engineio_query

    q = parse_engineio_query("/socket.io/?EIO=" + "4" * 4400 + "&transport=polling")
    assert q is not None and q.eio is None and q.eio_raw == "4" * 4400
    assert parse_engineio_query("/socket.io/?EIO=1000000&transport=polling").eio == 1_000_000
    assert parse_engineio_query("/socket.io/?EIO=1000001&transport=polling").eio is None
