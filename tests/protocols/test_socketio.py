"""Socket.IO v4/v5 decoding: PROTOCOLS.md vectors 32-48, checklist S1-S3/S6-S8, attachments, msgpack.

Expected values come from the spec's examples and from python-socketio's own encoders
(`socketio.packet.Packet`, `socketio.msgpack_packet.MsgPackPacket`) and `msgpack.packb`,
independent implementations used as oracles.
"""

from __future__ import annotations

import json
import math
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from socketio import msgpack_packet as py_msgpack_packet
from socketio import packet as py_packet

from analyzer.model.codes import socketio as codes
from analyzer.model.common import Direction, ParserAnomaly
from analyzer.model.registry import REGISTRY
from analyzer.model.socketio import SioPacket, SioPacketType
from analyzer.model.values import MAX_DEPTH, to_jsonable
from analyzer.protocols.socketio import SioEvent, SioStreamDecoder, decode_sio_msgpack, decode_sio_text

T = SioPacketType
C, S = Direction.C2S, Direction.S2C
H = bytes.fromhex


def ph(n: int) -> dict[str, Any]:
    return {"_placeholder": True, "num": n}


def codes_of(anomalies: list[ParserAnomaly] | tuple[ParserAnomaly, ...]) -> list[str]:
    return [a.code for a in anomalies]


def clean(text: str, version: int = 5) -> SioPacket:
    packet, anomalies = decode_sio_text(text, version)
    assert anomalies == [], anomalies
    assert packet is not None
    return packet


def test_codes_are_registered_in_the_socketio_layer() -> None:
    for name in codes.__all__:
        code = getattr(codes, name)
        assert code.startswith("sio.")
        assert REGISTRY[code].layer.value == "socketio"


# --- vectors 32-39 (SIO v5 README) --------------------------------------------------------------------
def test_vector_32_connect_reply_on_admin() -> None:
    p = clean('0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}')
    assert (p.type, p.nsp, p.ack_id, p.data) == (T.CONNECT, "/admin", None, {"sid": "oSO0OpakMV_3jnilAAAA"})


def test_vector_33_connect_error() -> None:
    p = clean('4{"message":"Not authorized"}')
    assert (p.type, p.nsp, p.data) == (T.CONNECT_ERROR, "/", {"message": "Not authorized"})


def test_vector_34_events() -> None:
    p = clean('2/admin,["bar"]')
    assert (p.type, p.nsp, p.ack_id, p.event, p.args) == (T.EVENT, "/admin", None, "bar", [])
    p = clean('212["foo"]')
    assert (p.type, p.nsp, p.ack_id, p.event) == (T.EVENT, "/", 12, "foo")


def test_vector_35_ack() -> None:
    p = clean('3/admin,13["bar"]')
    assert (p.type, p.nsp, p.ack_id, p.data, p.event, p.args) == (T.ACK, "/admin", 13, ["bar"], None, None)


def test_vector_36_binary_event() -> None:
    dec = SioStreamDecoder(5)
    assert dec.feed_text(C, '51-["baz",{"_placeholder":true,"num":0}]', 1) == []
    [ev] = dec.feed_binary(C, H("01020304"), 2)
    assert ev.anomalies == () and ev.complete and ev.tags == (1, 2)
    assert ev.packet is not None
    assert (ev.packet.type, ev.packet.attachments, ev.packet.data) == (
        T.BINARY_EVENT,
        1,
        ["baz", H("01020304")],
    )
    assert ev.packet.json_data() == ["baz", {"$hex": "01020304"}]


def test_vector_37_two_attachments_on_admin() -> None:
    dec = SioStreamDecoder(5)
    assert (
        dec.feed_text(C, '52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
        == []
    )
    assert dec.feed_binary(C, H("0102")) == []
    [ev] = dec.feed_binary(C, H("0304"))
    assert ev.packet is not None and ev.anomalies == ()
    assert (ev.packet.nsp, ev.packet.data) == ("/admin", ["baz", H("0102"), H("0304")])


def test_vector_38_binary_ack() -> None:
    dec = SioStreamDecoder(5)
    dec.feed_text(S, '61-15["bar",{"_placeholder":true,"num":0}]')
    [ev] = dec.feed_binary(S, b"\x00\xff")
    assert ev.packet is not None
    assert (ev.packet.type, ev.packet.ack_id, ev.packet.data) == (T.BINARY_ACK, 15, ["bar", b"\x00\xff"])


def test_vector_39_disconnect() -> None:
    assert (clean("1").type, clean("1").nsp, clean("1").has_data) == (T.DISCONNECT, "/", False)
    assert (clean("1/admin,").type, clean("1/admin,").nsp) == (T.DISCONNECT, "/admin")


def test_namespace_without_comma() -> None:
    # "41/admin without a comma is accepted by both JS and Python" (PROTOCOLS.md §3.1)
    assert clean("1/admin").nsp == "/admin"
    assert clean("0/admin").nsp == "/admin"


# --- vectors 40-44 (SIO test suite, socket.io-parser tests) -------------------------------------------
def test_vector_40_invalid_namespace() -> None:
    assert clean("0/random").nsp == "/random"
    p = clean('4/random,{"message":"Invalid namespace"}')
    assert (p.type, p.nsp, p.data) == (T.CONNECT_ERROR, "/random", {"message": "Invalid namespace"})


def test_vector_41_event_with_ack_and_its_ack() -> None:
    p = clean('2456["message-with-ack",1,"2",{"3":[false]}]')
    assert (p.ack_id, p.event, p.args) == (456, "message-with-ack", [1, "2", {"3": [False]}])
    p = clean('3456[1,"2",{"3":[false]}]')
    assert (p.type, p.ack_id, p.data) == (T.ACK, 456, [1, "2", {"3": [False]}])


def test_vector_42_binary_event_and_binary_ack() -> None:
    dec = SioStreamDecoder(5)
    dec.feed_text(C, '52-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    dec.feed_binary(C, H("010203"))
    [ev] = dec.feed_binary(C, H("040506"))
    assert ev.packet is not None
    assert (ev.packet.ack_id, ev.packet.event, ev.packet.args) == (
        789,
        "message-with-ack",
        [H("010203"), H("040506")],
    )
    dec.feed_text(S, '62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    dec.feed_binary(S, H("010203"))
    [ev] = dec.feed_binary(S, H("040506"))
    assert ev.packet is not None and ev.anomalies == ()
    assert (ev.packet.type, ev.packet.ack_id, ev.packet.data) == (
        T.BINARY_ACK,
        789,
        [H("010203"), H("040506")],
    )


@pytest.mark.parametrize(
    ("text", "code", "has_packet"),
    [
        ("abc", codes.BAD_PACKET_TYPE, False),  # vector 43: 4abc, the EIO message "abc"
        ("2{}", codes.BAD_PAYLOAD, True),  # vector 43: 42{}
        ('2abc["x"]', codes.BAD_ACK_ID, True),  # vector 43: 42abc[...]
        ('2["connect"]', codes.BAD_PAYLOAD, True),  # vector 44
        ("0[]", codes.BAD_PAYLOAD, True),
        ("1/admin,{}", codes.BAD_PAYLOAD, True),
        ("999", codes.BAD_PACKET_TYPE, False),  # "unknown packet type 9"
    ],
)
def test_vectors_43_44_invalid_packets(text: str, code: str, has_packet: bool) -> None:
    packet, anomalies = decode_sio_text(text, 5)
    assert codes_of(anomalies) == [code]
    assert (packet is not None) is has_packet


@pytest.mark.parametrize(
    "text",
    [
        "2",  # EVENT without payload: v5 events MUST be non-empty arrays
        "2[]",
        "2[null]",
        "2[true]",
        '2[{"a":1}]',
        '2["disconnecting"]',
        '2["newListener",1]',
        "3",  # ACK without payload
        "3{}",
        '4["x"]',  # CONNECT_ERROR neither string nor object
        '0"token"',
        "2[1,",  # not JSON
        "2NaN",  # JSON.parse rejects NaN
    ],
)
def test_payload_shapes_s2(text: str) -> None:
    _, anomalies = decode_sio_text(text, 5)
    assert codes_of(anomalies) == [codes.BAD_PAYLOAD]


def test_numeric_event_names_are_allowed() -> None:
    p = clean("2[42,1]")
    assert (p.event, p.args) == ("42", [1])


def test_error_payload_version_mixup_s7() -> None:
    packet, anomalies = decode_sio_text('4"Not authorized"', 5)
    assert packet is not None and codes_of(anomalies) == [codes.ERROR_PAYLOAD_VERSION_MIXUP]
    packet, anomalies = decode_sio_text('4/admin,{"message":"x"}', 4)
    assert packet is not None and codes_of(anomalies) == [codes.ERROR_PAYLOAD_VERSION_MIXUP]


# --- vectors 45-46 (SIO v4 README) --------------------------------------------------------------------
def test_vector_45_v4_event_and_ack() -> None:
    p = clean('2/admin,456["project:delete",123]', 4)
    assert (p.nsp, p.ack_id, p.event, p.args) == ("/admin", 456, "project:delete", [123])
    p = clean("3/admin,456[]", 4)
    assert (p.type, p.nsp, p.ack_id, p.data) == (T.ACK, "/admin", 456, [])


def test_vector_46_v4_error_string_and_binary_ack() -> None:
    p = clean('4/admin,"Not authorized"', 4)
    assert (p.type, p.nsp, p.data) == (T.CONNECT_ERROR, "/admin", "Not authorized")
    dec = SioStreamDecoder(4)
    dec.feed_text(S, '61-/admin,456[{"_placeholder":true,"num":0}]')
    [ev] = dec.feed_binary(S, H("030201"))
    assert ev.packet is not None
    assert (ev.packet.type, ev.packet.nsp, ev.packet.ack_id, ev.packet.data) == (
        T.BINARY_ACK,
        "/admin",
        456,
        [H("030201")],
    )


def test_v4_connect_with_query_in_namespace() -> None:
    p = clean("0/admin?token=1234&uid=abcd,", 4)
    assert (p.nsp, p.query) == ("/admin", "token=1234&uid=abcd")


def test_v4_connect_carries_no_payload() -> None:
    _, anomalies = decode_sio_text('0{"token":"1"}', 4)
    assert codes_of(anomalies) == [codes.BAD_PAYLOAD]
    # while v5 takes an auth object
    assert clean('0{"token":"123"}').data == {"token": "123"}


def test_v4_allows_reserved_names() -> None:
    # the reserved-name rule is socket.io-parser 4.x (SIO v5)
    assert clean('2["connect"]', 4).event == "connect"


# --- S1, S3 and bounds --------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ['5["x",{}]', '5x-["x"]', '51["x"]', '5-["x"]', '512345678901-["x"]'])
def test_bad_attachment_count_s1(text: str) -> None:
    packet, anomalies = decode_sio_text(text, 5)
    assert packet is None and codes_of(anomalies) == [codes.BAD_ATTACHMENT_COUNT]


def test_ack_id_bounds() -> None:
    p = clean("2" + "9" * 100 + '["x"]')
    assert p.ack_id == int("9" * 100)
    packet, anomalies = decode_sio_text("2" + "9" * 101 + '["x"]')
    assert packet is not None and packet.ack_id is None and codes_of(anomalies) == [codes.BAD_ACK_ID]


def test_long_namespace_is_cut() -> None:
    packet, anomalies = decode_sio_text("2/" + "a" * 5000 + ',["x"]')
    assert packet is not None and len(packet.nsp) == 1024
    assert codes_of(anomalies) == [codes.LIMIT_EXCEEDED]


def test_payload_size_bound() -> None:
    packet, anomalies = decode_sio_text('2["x","' + "y" * 100 + '"]', max_json_chars=50)
    assert packet is not None and packet.data is None and codes_of(anomalies) == [codes.LIMIT_EXCEEDED]


def test_deep_nesting_is_bounded() -> None:
    packet, anomalies = decode_sio_text('2["x",' + "[" * 500 + "]" * 500 + "]")
    assert packet is not None and codes_of(anomalies) == [codes.LIMIT_EXCEEDED]
    depth, node = 1, packet.data[1]
    while isinstance(node, list) and node:
        node, depth = node[0], depth + 1
    assert depth == MAX_DEPTH and node == {"$truncated": "depth"}
    json.dumps(packet.json_data())
    # deeper than the JSON decoder itself accepts: a bad payload, not a crash
    packet, anomalies = decode_sio_text("2" + "[" * 100_000 + "]" * 99_999)
    assert packet is not None and codes_of(anomalies) == [codes.BAD_PAYLOAD]


def test_deep_valid_json_keeps_its_head() -> None:
    """#16 item 13: valid JSON nested deeper than json.loads recurses (~1000 levels) is JSON: the
    event name, ack id and namespace are kept, the deep part cut at MAX_DEPTH as documented."""
    for depth in (1_000, 100_000):
        deep = "[" * depth + '{"k":"v"}' + "]" * depth
        packet, anomalies = decode_sio_text(f'2/chat,17["update",{deep},3]')
        assert packet is not None and codes_of(anomalies) == [codes.LIMIT_EXCEEDED]
        assert (packet.event, packet.ack_id, packet.nsp) == ("update", 17, "/chat")
        assert packet.data[2] == 3
        node, level = packet.data[1], 1
        while isinstance(node, list):
            node, level = node[0], level + 1
        assert level == MAX_DEPTH and node == {"$truncated": "depth"}
        json.dumps(packet.json_data())
    # the same text with a syntax error deep inside is still not JSON
    bad = '2["update",' + "[" * 5000 + "1,," + "]" * 5000 + "]"
    packet, anomalies = decode_sio_text(bad)
    assert packet is not None and codes_of(anomalies) == [codes.BAD_PAYLOAD]


def test_trailing_data_after_the_json() -> None:
    packet, anomalies = decode_sio_text('2["a"]x')
    assert packet is not None and codes_of(anomalies) == [codes.BAD_PAYLOAD]
    packet, anomalies = decode_sio_text('2["a"]  ')
    assert packet is not None and anomalies == [] and packet.event == "a"


# --- attachments (S6) ---------------------------------------------------------------------------------
def test_text_before_the_attachments_are_done() -> None:
    dec = SioStreamDecoder(5)
    dec.feed_text(C, '52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]', 1)
    dec.feed_binary(C, b"\x01", 2)
    first, second = dec.feed_text(C, '2["b"]', 3)
    assert not first.complete and codes_of(first.anomalies) == [codes.ATTACHMENT_MISMATCH]
    assert first.packet is not None and first.packet.data == ["a", b"\x01", ph(1)]
    assert first.tags == (1, 2)
    assert second.packet is not None and second.packet.event == "b" and second.tags == (3,)


def test_binary_with_no_attachment_expected() -> None:
    dec = SioStreamDecoder(5)
    dec.feed_text(C, '2["a"]')
    [ev] = dec.feed_binary(C, b"\x01\x02")
    assert ev.packet is None and codes_of(ev.anomalies) == [codes.ATTACHMENT_MISMATCH]


def test_placeholder_out_of_range() -> None:
    dec = SioStreamDecoder(5)
    dec.feed_text(C, '51-["a",{"_placeholder":true,"num":3}]')
    [ev] = dec.feed_binary(C, b"\x01")
    assert codes_of(ev.anomalies) == [codes.ATTACHMENT_MISMATCH]
    assert ev.packet is not None and ev.packet.data == ["a", ph(3)]


def test_attachment_not_referenced() -> None:
    dec = SioStreamDecoder(5)
    dec.feed_text(C, '52-["a",{"_placeholder":true,"num":0}]')
    dec.feed_binary(C, b"\x01")
    [ev] = dec.feed_binary(C, b"\x02")
    assert codes_of(ev.anomalies) == [codes.ATTACHMENT_MISMATCH]


def test_a_repeated_placeholder_is_filled_then_referenced_past_the_bound() -> None:
    """socket.io-parser writes one placeholder per attachment; 200 of one must not make 200 copies
    of it in the output (issue #16): repeats are filled while they hold at most the bound."""
    from analyzer.protocols.socketio import MAX_REPEATED_ATTACHMENT_BYTES, REF_ATTACHMENT

    blob = bytes(range(256)) * (MAX_REPEATED_ATTACHMENT_BYTES // 256 // 4)  # a quarter of the bound
    dec = SioStreamDecoder(5)
    dec.feed_text(C, '51-["up",' + ",".join(['{"_placeholder":true,"num":0}'] * 200) + "]", 1)
    [ev] = dec.feed_binary(C, blob, 2)
    assert ev.complete and codes_of(ev.anomalies) == [codes.PLACEHOLDER_REPEATED]
    assert ev.packet is not None
    args = ev.packet.data[1:]
    assert args[:5] == [blob] * 5 and all(a is blob for a in args[:5])  # the first, then 4 repeats
    assert args[5:] == [{REF_ATTACHMENT: 0}] * 195
    assert "199 placeholders" in ev.anomalies[0].message and "195 past the bound" in ev.anomalies[0].message
    out = json.dumps(ev.packet.json_data())
    assert len(out) < 2 * 5 * len(blob) + 200 * 30


def test_each_placeholder_once_is_no_repeat() -> None:
    dec = SioStreamDecoder(5)
    dec.feed_text(C, '52-["a",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]')
    dec.feed_binary(C, b"\x01")
    [ev] = dec.feed_binary(C, b"\x02")
    assert ev.anomalies == () and ev.packet is not None and ev.packet.data == ["a", b"\x02", b"\x01"]


def test_small_repeats_are_filled_and_reported() -> None:
    dec = SioStreamDecoder(5)
    dec.feed_text(C, '51-["a",{"_placeholder":true,"num":0},[{"_placeholder":true,"num":0}]]')
    [ev] = dec.feed_binary(C, b"\x01")
    assert codes_of(ev.anomalies) == [codes.PLACEHOLDER_REPEATED]
    assert ev.packet is not None and ev.packet.data == ["a", b"\x01", [b"\x01"]]
    assert "past the bound" not in ev.anomalies[0].message


def test_zero_attachments_are_emitted_at_once() -> None:
    dec = SioStreamDecoder(5)
    [ev] = dec.feed_text(C, '50-["a",1]')
    assert ev.packet is not None and ev.anomalies == () and ev.packet.data == ["a", 1]


def test_attachments_per_direction() -> None:
    dec = SioStreamDecoder(5)
    dec.feed_text(C, '51-["up",{"_placeholder":true,"num":0}]', 1)
    [ev_s] = dec.feed_text(S, '2["other"]', 2)  # the other side's text does not interrupt
    [ev_c] = dec.feed_binary(C, b"\xaa", 3)
    assert ev_s.packet is not None and ev_s.packet.event == "other"
    assert ev_c.packet is not None and ev_c.packet.data == ["up", b"\xaa"] and ev_c.tags == (1, 3)


def test_attachment_count_bound() -> None:
    dec = SioStreamDecoder(5, max_attachments=3)
    [ev] = dec.feed_text(C, '55-["a"]')
    assert not ev.complete and codes_of(ev.anomalies) == [codes.LIMIT_EXCEEDED]


def test_eof_with_attachments_missing() -> None:
    dec = SioStreamDecoder(5)
    dec.feed_text(C, '51-["a",{"_placeholder":true,"num":0}]', 7)
    [ev] = dec.eof()
    assert not ev.complete and ev.tags == (7,) and codes_of(ev.anomalies) == [codes.ATTACHMENT_MISMATCH]
    assert dec.eof() == []


def test_trailing_messages_after_a_binary_packet() -> None:
    dec = SioStreamDecoder(5)
    dec.feed_text(C, '51-["a",{"_placeholder":true,"num":0}]')
    [ev] = dec.feed_binary(C, b"\x01")
    more = dec.feed_text(C, '2["b"]') + dec.feed_binary(C, b"\x02")
    assert ev.packet is not None and ev.packet.data == ["a", b"\x01"]
    assert more[0].packet is not None and more[0].packet.event == "b"
    assert codes_of(more[1].anomalies) == [codes.ATTACHMENT_MISMATCH]


# --- msgpack (vector 48, S8) --------------------------------------------------------------------------
VECTOR_48 = H("83a474797065 02a36e7370a12fa464617461 92a568656c6c6fa3796f75".replace(" ", ""))


def test_vector_48_msgpack_readme_example() -> None:
    assert msgpack.unpackb(VECTOR_48) == {"type": 2, "nsp": "/", "data": ["hello", "you"]}
    packet, anomalies = decode_sio_msgpack(VECTOR_48)
    assert anomalies == [] and packet is not None
    assert (packet.type, packet.nsp, packet.event, packet.args, packet.parser) == (
        T.EVENT,
        "/",
        "hello",
        ["you"],
        "msgpack",
    )


def test_msgpack_bin_and_undefined() -> None:
    raw = msgpack.packb({"type": 2, "nsp": "/", "data": ["up", b"\x01\x02", None], "id": 3})
    packet, anomalies = decode_sio_msgpack(raw)
    assert anomalies == [] and packet is not None and packet.ack_id == 3
    assert packet.json_data() == ["up", {"$hex": "0102"}, None]
    # notepack.io < 3 wrote `undefined` as fixext 1 [0, 0]
    raw = H("83a474797065 02a36e7370a12fa464617461 92a178d40000".replace(" ", ""))
    packet, anomalies = decode_sio_msgpack(raw)
    assert anomalies == [] and packet is not None and packet.data == ["x", None]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ({"nsp": "/", "data": ["x"]}, codes.MSGPACK_BAD_PACKET),  # no type
        ({"type": 2, "data": ["x"]}, codes.MSGPACK_BAD_PACKET),  # no nsp
        ({"type": 5, "nsp": "/", "data": ["x"]}, codes.MSGPACK_BAD_PACKET),  # 3.x knows 0-4 only
        ({"type": "2", "nsp": "/", "data": ["x"]}, codes.MSGPACK_BAD_PACKET),
        ({"type": 2, "nsp": 1, "data": ["x"]}, codes.MSGPACK_BAD_PACKET),
        ({"type": 2, "nsp": "/", "data": ["x"], "id": "1"}, codes.MSGPACK_BAD_PACKET),
        ({"type": 2, "nsp": "/", "data": {"x": 1}}, codes.BAD_PAYLOAD),
        ([1, 2], codes.MSGPACK_BAD_PACKET),
    ],
)
def test_msgpack_bad_packets_s8(value: object, code: str) -> None:
    _, anomalies = decode_sio_msgpack(msgpack.packb(value))
    assert codes_of(anomalies) == [code]


def test_msgpack_not_msgpack() -> None:
    for data in (b"", b"\xc1", b"\x92\x01", b"\x81\x01"):
        packet, anomalies = decode_sio_msgpack(data)
        assert packet is None and codes_of(anomalies) == [codes.MSGPACK_BAD_PACKET]


def test_msgpack_v4_parser_allows_binary_types() -> None:
    packet, anomalies = decode_sio_msgpack(msgpack.packb({"type": 5, "nsp": "/", "data": ["a", b"\x01"]}), 4)
    assert anomalies == [] and packet is not None and packet.type is T.BINARY_EVENT


def test_stream_detects_msgpack() -> None:
    dec = SioStreamDecoder(5)
    [ev] = dec.feed_binary(C, msgpack.packb({"type": 0, "nsp": "/", "data": {"token": "1"}}))
    assert dec.parser == "msgpack" and ev.packet is not None and ev.packet.type is T.CONNECT
    [ev] = dec.feed_binary(S, VECTOR_48)
    assert ev.packet is not None and ev.packet.event == "hello"
    [ev] = dec.feed_binary(S, b"\xc1")
    assert ev.packet is None and codes_of(ev.anomalies) == [codes.MSGPACK_BAD_PACKET]
    [ev] = dec.feed_text(S, '2["x"]')
    assert codes_of(ev.anomalies) == [codes.MSGPACK_BAD_PACKET]


def test_stream_msgpack_v4_json_text_packets() -> None:
    # msgpack-parser 2.x sends CONNECT/DISCONNECT/ERROR as JSON text: 4{"type":0,"nsp":"/admin"}
    dec = SioStreamDecoder(4)
    [ev] = dec.feed_text(S, '{"type":0,"nsp":"/admin"}')
    assert dec.parser == "msgpack" and ev.packet is not None
    assert (ev.packet.type, ev.packet.nsp) == (T.CONNECT, "/admin")
    [ev] = dec.feed_binary(C, msgpack.packb({"type": 2, "nsp": "/admin", "data": ["e"], "options": {}}))
    assert ev.packet is not None and ev.packet.event == "e" and ev.anomalies == ()


def test_stream_default_parser_is_not_switched_by_binary() -> None:
    dec = SioStreamDecoder(5)
    dec.feed_text(C, "0")
    [ev] = dec.feed_binary(C, VECTOR_48)
    assert dec.parser == "default" and codes_of(ev.anomalies) == [codes.ATTACHMENT_MISMATCH]


# --- to_jsonable --------------------------------------------------------------------------------------
def test_to_jsonable() -> None:
    value = [b"\x01", {1: msgpack.ExtType(5, b"\x02"), "t": msgpack.Timestamp(0, 0)}, math.nan, (1, 2), "s"]
    out = to_jsonable(value)
    assert out == [
        {"$hex": "01"},
        {"1": {"$ext": 5, "$hex": "02"}, "t": {"$timestamp": "1970-01-01T00:00:00+00:00"}},
        {"$float": "nan"},
        [1, 2],
        "s",
    ]
    json.dumps(out, allow_nan=False)
    assert to_jsonable(None) is None and to_jsonable(3) == 3 and to_jsonable(math.inf) == {"$float": "inf"}


# --- python-socketio as an oracle ---------------------------------------------------------------------
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
binary_value = st.recursive(
    st.binary(max_size=8) | st.integers(0, 9) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
namespaces = st.sampled_from(["/", "/admin", "/a-b_c", "/ünï"])
ack_ids = st.none() | st.integers(0, 10**12)


@given(st.text(min_size=1, max_size=10), st.lists(json_value, max_size=3), namespaces, ack_ids)
def test_events_encoded_by_python_socketio(name: str, args: list[Any], nsp: str, ack_id: int | None) -> None:
    wire = py_packet.Packet(py_packet.EVENT, [name, *args], namespace=nsp, id=ack_id).encode()
    assert isinstance(wire, str)
    packet, anomalies = decode_sio_text(wire, 5)
    assert packet is not None
    assert (packet.type, packet.nsp, packet.ack_id, packet.event, packet.args) == (
        T.EVENT,
        nsp,
        ack_id,
        name,
        args,
    )
    reserved = name in {
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
    }
    assert codes_of(anomalies) == ([codes.BAD_PAYLOAD] if reserved else [])


@given(st.lists(binary_value, min_size=1, max_size=3), namespaces, ack_ids, st.booleans())
def test_binary_packets_encoded_by_python_socketio(
    data: list[Any], nsp: str, ack_id: int | None, is_ack: bool
) -> None:
    ptype = py_packet.ACK if is_ack else py_packet.EVENT
    payload = data if is_ack else ["ev", *data]
    encoded = py_packet.Packet(ptype, payload, namespace=nsp, id=ack_id).encode()
    parts = encoded if isinstance(encoded, list) else [encoded]
    dec = SioStreamDecoder(5)
    events: list[SioEvent] = []
    for i, part in enumerate(parts):
        events += dec.feed_text(C, part, i) if isinstance(part, str) else dec.feed_binary(C, part, i)
    [ev] = events
    assert ev.packet is not None and ev.complete
    assert (ev.packet.nsp, ev.packet.ack_id, ev.packet.data) == (nsp, ack_id, payload)
    assert ev.tags == tuple(range(len(parts)))
    assert ev.anomalies == ()


@given(st.sampled_from([0, 1, 2, 3, 4]), json_value, namespaces, ack_ids)
def test_msgpack_packets_encoded_by_python_socketio(
    ptype: int, data: Any, nsp: str, ack_id: int | None
) -> None:
    wire = py_msgpack_packet.MsgPackPacket(ptype, data, namespace=nsp, id=ack_id).encode()
    packet, _ = decode_sio_msgpack(wire)
    assert packet is not None
    assert (int(packet.type), packet.nsp, packet.ack_id) == (ptype, nsp, ack_id)
    assert packet.data == data


# --- never raises -------------------------------------------------------------------------------------
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
sio_text = st.one_of(
    st.text(max_size=60),
    st.lists(
        st.sampled_from(
            [
                "0",
                "2",
                "3",
                "4",
                "5",
                "6",
                "1-",
                "/admin",
                ",",
                "12",
                "[",
                "]",
                "{",
                "}",
                '"a"',
                '{"_placeholder":true,"num":0}',
                "-",
                "?x=1",
                "null",
                "NaN",
            ]
        ),
        max_size=12,
    ).map("".join),
)


@FUZZ
@given(sio_text, st.sampled_from([4, 5]))
def test_decode_text_never_raises(text: str, version: int) -> None:
    packet, anomalies = decode_sio_text(text, version)
    assert packet is not None or anomalies
    for a in anomalies:
        assert a.code in REGISTRY
    if packet is not None:
        json.dumps(packet.json_data())


msgpack_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=6)
    | st.binary(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.one_of(st.text(max_size=4), st.integers(-(2**63), 2**63 - 1), st.binary(max_size=2)),
            inner,
            max_size=3,
        )
    ),
    max_leaves=10,
)


@FUZZ
@given(st.one_of(st.binary(max_size=80), msgpack_value.map(msgpack.packb)), st.sampled_from([4, 5]))
def test_decode_msgpack_never_raises(data: bytes, version: int) -> None:
    packet, anomalies = decode_sio_msgpack(data, version)
    assert packet is not None or anomalies
    if packet is not None:
        json.dumps(packet.json_data(), allow_nan=False)


@FUZZ
@given(
    st.dictionaries(st.sampled_from(["type", "nsp", "data", "id", "x"]), msgpack_value, max_size=5),
    st.sampled_from([4, 5]),
)
def test_decode_msgpack_maps_never_raise(value: dict[str, Any], version: int) -> None:
    packet, _ = decode_sio_msgpack(msgpack.packb(value), version)
    if packet is not None:
        json.dumps(packet.json_data(), allow_nan=False)


def test_msgpack_deep_nesting() -> None:
    deep = b"\x91" * 5000 + b"\xc0"
    raw = b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data" + deep
    packet, anomalies = decode_sio_msgpack(raw)
    assert packet is not None or codes_of(anomalies) == [codes.MSGPACK_BAD_PACKET]
    if packet is not None:
        json.dumps(packet.json_data())


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from([C, S]),
            st.one_of(sio_text, st.binary(max_size=20), msgpack_value.map(msgpack.packb)),
        ),
        max_size=12,
    ),
    st.sampled_from([4, 5]),
)
def test_stream_never_raises(messages: list[tuple[Direction, str | bytes]], version: int) -> None:
    dec = SioStreamDecoder(version, max_attachments=5)
    events: list[SioEvent] = []
    for i, (direction, data) in enumerate(messages):
        if isinstance(data, str):
            events += dec.feed_text(direction, data, i)
        else:
            events += dec.feed_binary(direction, data, i)
    events += dec.eof()
    seen: list[int] = []
    for ev in events:
        seen += ev.tags
        if ev.packet is not None:
            json.dumps(ev.packet.json_data(), allow_nan=False)
    assert sorted(seen) == sorted(set(seen))  # every message is used at most once
