"""The HTTP/2 connection parser on the byte vectors of PROTOCOLS-TLS-H2.md §8.9 and §9.3 (RFC 9113,
RFC 7541 Appendix C, RFC 8441), one rule at a time, and its bounds."""

from __future__ import annotations

import struct

from hpack import Encoder

from analyzer.model.codes import h2 as codes
from analyzer.model.common import Direction
from analyzer.protocols.h2 import PREFACE, H2Anomaly, H2Connection, H2Data, H2Head, H2Reset, H2Settings
from analyzer.protocols.h2.connection import MAX_BLOCK
from analyzer.protocols.h2.frames import looks_like_h2

C, S = Direction.C2S, Direction.S2C
EMPTY_SETTINGS = bytes.fromhex("000000040000000000")
SETTINGS_ACK = bytes.fromhex("000000040100000000")
CONNECT_ON = bytes.fromhex("000006040000000000000800000001")  # §8.9 #3


def frame(ftype: int, flags: int, sid: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") + payload


def codes_of(events: list[object]) -> list[str]:
    return [e.code for e in events if isinstance(e, H2Anomaly)]


def started() -> H2Connection:
    conn = H2Connection()
    assert conn.feed(C, PREFACE + EMPTY_SETTINGS)
    assert conn.feed(S, EMPTY_SETTINGS + SETTINGS_ACK)
    conn.feed(C, SETTINGS_ACK)
    return conn


def test_rfc7541_c3_requests_and_padded_data() -> None:
    conn = started()
    c31 = bytes.fromhex("828684410f7777772e6578616d706c652e636f6d")
    c32 = bytes.fromhex("828684be58086e6f2d6361636865")
    ev = conn.feed(C, frame(1, 4, 1, c31) + frame(1, 5, 3, c32))
    heads = [e for e in ev if isinstance(e, H2Head)]
    assert heads[0].fields == (
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
    )
    assert heads[1].fields is not None and ("cache-control", "no-cache") in heads[1].fields  # index 62 reused
    assert heads[1].end_stream and not heads[0].end_stream
    ev = conn.feed(C, bytes.fromhex("000005000900000001026869 0000".replace(" ", "")))  # §8.9 #4
    (data,) = [e for e in ev if isinstance(e, H2Data)]
    assert data.data == b"hi" and data.end_stream and data.data_start == data.start + 10
    assert codes_of(ev) == []


def test_bad_preface_and_first_frame() -> None:
    conn = H2Connection()
    assert codes_of(conn.feed(C, b"GET / HTTP/1.1\r\n\r\n" + b"x" * 10)) == [codes.H2_PROTOCOL_ERROR]
    conn = H2Connection()
    ev = conn.feed(S, frame(6, 0, 0, b"12345678"))  # §3.4: the server's first frame is SETTINGS
    assert codes_of(ev) == [codes.H2_PROTOCOL_ERROR]


def test_frame_sizes() -> None:
    conn = started()
    ev = conn.feed(C, frame(6, 0, 0, b"1234567") + frame(8, 0, 0, b"\0\0\0\0"))  # §8.9 #8
    assert codes_of(ev) == [codes.H2_FRAME_SIZE, codes.H2_PROTOCOL_ERROR]
    ev = conn.feed(C, frame(0, 0, 1, b"x" * 16385))  # over the default SETTINGS_MAX_FRAME_SIZE
    assert codes_of(ev) == [codes.H2_FRAME_SIZE]
    ev = conn.feed(C, frame(4, 1, 0, b"\0" * 6))  # an ACK with a payload
    assert codes_of(ev) == [codes.H2_FRAME_SIZE]


def test_max_frame_size_applies_from_the_ack() -> None:
    conn = started()
    conn.feed(S, frame(4, 0, 0, struct.pack("!HI", 5, 32768)))
    assert codes_of(conn.feed(C, frame(0, 0, 1, b"x" * 20000))) == [codes.H2_FRAME_SIZE]  # not acked yet
    conn.feed(C, SETTINGS_ACK)
    conn.feed(C, frame(1, 4, 3, bytes.fromhex("828684")))
    assert codes_of(conn.feed(C, frame(0, 0, 3, b"x" * 20000))) == []


def test_hpack_error_desynchronises_the_direction() -> None:
    conn = started()
    ev = conn.feed(C, frame(1, 5, 1, b"\x80"))  # §8.9 #14: index 0
    assert codes_of(ev) == [codes.H2_HPACK_ERROR]
    ev = conn.feed(C, frame(1, 5, 3, bytes.fromhex("828684")))  # valid, but the table is lost
    (head,) = [e for e in ev if isinstance(e, H2Head)]
    assert head.fields is None and codes_of(ev) == []
    ev = conn.feed(S, frame(1, 5, 1, b"\x88"))  # the other direction still decodes
    assert [e.fields for e in ev if isinstance(e, H2Head)] == [((":status", "200"),)]


def test_continuation_rules() -> None:
    conn = started()
    enc = Encoder()
    block = enc.encode([(":method", "GET"), (":scheme", "https"), (":path", "/x"), (":authority", "a")])
    ev = conn.feed(C, frame(1, 1, 1, block[:3]) + frame(9, 4, 1, block[3:]))
    (head,) = [e for e in ev if isinstance(e, H2Head)]
    assert head.end_stream and head.fields is not None and (":path", "/x") in head.fields
    ev = conn.feed(C, frame(9, 4, 3, b"\x82"))  # no open block
    assert codes.H2_PROTOCOL_ERROR in codes_of(ev)


def test_interrupted_block() -> None:
    conn = started()
    ev = conn.feed(C, frame(1, 0, 1, b"\x82") + frame(6, 0, 0, b"12345678"))
    assert codes_of(ev) == [codes.H2_PROTOCOL_ERROR, codes.H2_HPACK_ERROR]


def test_stream_ids_and_states() -> None:
    conn = started()
    ev = conn.feed(C, frame(1, 5, 2, b"\x82\x86\x84"))  # even id from the client
    assert codes_of(ev) == [codes.H2_PROTOCOL_ERROR]
    ev = conn.feed(C, frame(0, 0, 9, b"x"))  # DATA on an idle stream
    assert codes_of(ev) == [codes.H2_PROTOCOL_ERROR]
    ev = conn.feed(C, frame(3, 0, 11, b"\0\0\0\x08"))  # RST_STREAM on an idle stream
    assert codes.H2_PROTOCOL_ERROR in codes_of(ev)
    assert [e.error_code for e in ev if isinstance(e, H2Reset)] == [8]
    conn.feed(C, frame(1, 4, 13, b"\x82\x86\x84"))
    conn.feed(C, frame(0, 1, 13, b"body"))
    assert codes_of(conn.feed(C, frame(0, 0, 13, b"more"))) == [codes.H2_PROTOCOL_ERROR]  # after END_STREAM


def test_settings_values() -> None:
    conn = H2Connection()
    ev = conn.feed(S, frame(4, 0, 0, struct.pack("!HIHIHI", 2, 1, 5, 100, 8, 2)))
    assert codes_of(ev) == [codes.H2_PROTOCOL_ERROR] * 3
    (settings,) = [e for e in ev if isinstance(e, H2Settings)]
    assert settings.values == ((2, 1), (5, 100), (8, 2))


def test_extended_connect_needs_the_setting() -> None:
    hello = bytes.fromhex(
        "0000540104000000010207434f4e4e45435400093a70726f746f636f6c09776562736f636b657487"
        "04052f6368617401127365727665722e6578616d706c652e636f6d00157365632d776562736f636b"
        "65742d76657273696f6e023133"
    )  # §9.3 #1
    conn = started()
    assert codes_of(conn.feed(C, hello)) == [codes.H2_CONNECT_PROTOCOL_NOT_ENABLED]  # §9.3 #5
    conn = started()
    conn.feed(S, CONNECT_ON)
    assert codes_of(conn.feed(C, hello)) == []
    assert conn.connect_enabled


def test_gap_stops_the_direction() -> None:
    conn = started()
    assert codes_of(conn.gap(C, 100)) == [codes.H2_GAP]
    assert conn.feed(C, frame(1, 5, 1, b"\x82\x86\x84")) == []
    assert conn.gap(C, 10) == []


def test_bounds() -> None:
    conn = started()
    big = frame(1, 0, 1, b"\0" * 16384) + b"".join(
        frame(9, 0, 1, b"\0" * 16384) for _ in range(MAX_BLOCK // 16384)
    )
    ev = conn.feed(C, big + frame(9, 4, 1, b""))
    assert codes.H2_LIMIT in codes_of(ev)
    (head,) = [e for e in ev if isinstance(e, H2Head)]
    assert head.fields is None


def test_server_first_detection() -> None:
    assert looks_like_h2(False, bytes.fromhex("000006040000000000000800000001"))
    assert looks_like_h2(True, PREFACE[:10]) and not looks_like_h2(True, b"GET / HTTP/1.1\r\n")
    assert not looks_like_h2(False, b"HTTP/1.1 200 OK\r\n")


def test_message_rules() -> None:
    from analyzer.protocols.h2.fields import field_rules

    req = ((":method", "GET"), (":scheme", "https"), (":path", "/"), (":authority", "a"))
    assert field_rules(req, True, True) is None
    assert field_rules((*req, ("Upper", "x")), True, True) is not None  # §8.2.1
    assert field_rules((*req, ("te", "trailers")), True, True) is None  # §8.2.2
    assert field_rules((*req, ("te", "gzip")), True, True) is not None
    assert field_rules((("x", "1"), *req), True, True) is not None  # pseudo after regular, §8.3
    assert field_rules(req[:2], True, True) == "request without :path (§8.3.1)"
    assert field_rules(((":method", "CONNECT"), (":authority", "h:443")), True, True) is None  # §8.5
    tunnel = ((":method", "CONNECT"), (":protocol", "websocket"), (":authority", "h"))
    assert field_rules(tunnel, True, True) == "request without :scheme and :path (§8.3.1)"  # RFC 8441 §4
    assert field_rules((("x", "1"),), False, True) == "response without :status (§8.3.2)"
    assert field_rules(((":status", "200"),), False, False) is not None  # trailers, §8.1
    assert field_rules((("grpc-status", "0"),), False, False) is None


def test_malformed_reported_once_per_block() -> None:
    conn = started()
    enc = Encoder()
    ev = conn.feed(C, frame(1, 5, 1, enc.encode([(":method", "GET"), (":path", "/")])))
    assert codes_of(ev) == [codes.H2_MALFORMED]
