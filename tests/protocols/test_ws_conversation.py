"""WsConversation: close handshake, ping/pong pairing, W12-W15."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from analyzer.model.codes import websocket as codes
from analyzer.model.common import Direction
from analyzer.protocols.websocket import WsFrame
from analyzer.protocols.ws_conversation import MASK_WINDOW, WsConversation

C2S, S2C = Direction.C2S, Direction.S2C


def wsframe(
    opcode: int,
    payload: bytes = b"",
    *,
    key: bytes | None = None,
    code: int | None = None,
    reason: str | None = None,
) -> WsFrame:
    return WsFrame(
        0, 2 + len(payload), True, False, False, False, opcode, key is not None, key,
        len(payload), "7-bit", payload, False, code, reason,
    )  # fmt: skip


def close(code: int | None = 1000, reason: str | None = "", raw: bytes | None = None) -> WsFrame:
    text = raw if raw is not None else (reason or "").encode()
    body = b"" if code is None else code.to_bytes(2, "big") + text
    return wsframe(8, body, code=code, reason=reason)


def codes_of(conv: WsConversation) -> list[str]:
    return [a[0] for a in conv.finish().anomalies]


def test_clean_close_handshake() -> None:
    conv = WsConversation()
    conv.on_frame(C2S, wsframe(1, b"hi", key=b"abcd"), 1.0, 3)
    conv.on_frame(C2S, close(1000, "bye"), 2.0, 5)
    conv.on_frame(S2C, close(1000, ""), 2.1, 6)
    conv.on_tcp_end(S2C, "fin", 2.2, 7)
    conv.on_tcp_end(C2S, "fin", 2.3, 8)
    s = conv.finish()
    assert s.anomalies == ()
    assert (s.first_closer, s.close_completed) == (C2S, True)
    assert s.to_dict() == {
        "c2s": {"code": 1000, "reason": "bye", "reason_hex": "627965", "frame": 5},
        "s2c": {"code": 1000, "reason": "", "reason_hex": "", "frame": 6},
    }


def test_close_reason_not_utf8_keeps_its_bytes() -> None:
    """#16 item 11: the reason as sent (reason_hex) beside the lossy text the decoder gives."""
    conv = WsConversation()
    conv.on_frame(S2C, close(1000, "caf\ufffd!", raw=b"caf\xe9!"), 1.0, 4)
    assert conv.finish().to_dict()["s2c"] == {
        "code": 1000, "reason": "caf\ufffd!", "reason_hex": "636166e921", "frame": 4,
    }  # fmt: skip


def test_close_without_code_and_only_first_counts() -> None:
    conv = WsConversation()
    conv.on_frame(S2C, close(None, None), 1.0, 2)
    conv.on_frame(S2C, close(1001, "again"), 1.5, 3)
    assert conv.finish().to_dict() == {
        "c2s": None,
        "s2c": {"code": None, "reason": None, "reason_hex": None, "frame": 2},
    }
    assert conv.finish().first_closer is S2C


def test_w12_no_close() -> None:
    conv = WsConversation()
    conv.on_frame(S2C, wsframe(1, b"x"), 1.0, 2)
    conv.on_tcp_end(C2S, "rst", 1.5, 4)
    s = conv.finish()
    assert [(a[0], a[2], a[3]) for a in s.anomalies] == [(codes.NO_CLOSE, C2S, (4,))]
    assert s.to_dict() == {"c2s": None, "s2c": None}


def test_w12_close_not_answered() -> None:
    conv = WsConversation()
    conv.on_frame(C2S, close(1000), 1.0, 2)
    conv.on_tcp_end(S2C, "fin", 1.5, 3)
    (a,) = conv.finish().anomalies
    assert (a[0], a[2], a[3]) == (codes.CLOSE_NOT_ANSWERED, S2C, (2, 3))


def test_w12_not_judged_while_tcp_open() -> None:
    conv = WsConversation()
    conv.on_frame(C2S, close(1000), 1.0, 2)
    assert codes_of(conv) == []
    assert conv.finish().close_completed is False


def test_w13_client_closed_tcp_first() -> None:
    conv = WsConversation()
    conv.on_frame(S2C, close(1000), 1.0, 2)
    conv.on_frame(C2S, close(1000), 1.1, 3)
    conv.on_tcp_end(C2S, "fin", 1.2, 4)
    conv.on_tcp_end(S2C, "fin", 1.3, 5)
    (a,) = conv.finish().anomalies
    assert (a[0], a[2], a[3]) == (codes.CLIENT_CLOSED_TCP_FIRST, C2S, (4,))


def test_w13_server_first_is_fine() -> None:
    conv = WsConversation()
    conv.on_frame(S2C, close(1000), 1.0, 2)
    conv.on_frame(C2S, close(1000), 1.1, 3)
    conv.on_tcp_end(S2C, "fin", 1.2, 4)
    conv.on_tcp_end(C2S, "fin", 1.3, 5)
    assert codes_of(conv) == []


def test_ping_pong_rtt() -> None:
    conv = WsConversation()
    conv.on_frame(S2C, wsframe(9, b"p1"), 10.0, 2)
    conv.on_frame(C2S, wsframe(10, b"p1", key=b"k001"), 10.025, 3)
    s = conv.finish()
    assert s.anomalies == ()
    (p,) = s.pings
    assert (p.direction, p.ping_frame, p.pong_frame) == (S2C, 2, 3)
    assert p.rtt_ms is not None and abs(p.rtt_ms - 25.0) < 1e-6
    assert s.pings_to_list() == [
        {
            "direction": "s2c",
            "ping_frame": 2,
            "ping_ts": 10.0,
            "pong_frame": 3,
            "pong_ts": 10.025,
            "rtt_ms": p.rtt_ms,
            "payload_hex": "7031",
        }
    ]


def test_pong_answers_latest_ping_only() -> None:
    conv = WsConversation()
    conv.on_frame(C2S, wsframe(9, b"a", key=b"k001"), 1.0, 2)
    conv.on_frame(C2S, wsframe(9, b"b", key=b"k002"), 2.0, 3)
    conv.on_frame(S2C, wsframe(10, b"b"), 2.5, 4)
    conv.on_tcp_end(S2C, "fin", 3.0, 5)
    s = conv.finish()
    assert [c for c, *_ in s.anomalies] == [codes.NO_CLOSE]  # §5.5.3 allows answering the latest only
    assert [(p.ping_frame, p.pong_frame) for p in s.pings] == [(2, None), (3, 4)]


def test_pongs_in_order() -> None:
    conv = WsConversation()
    conv.on_frame(C2S, wsframe(9, b"a", key=b"k001"), 1.0, 2)
    conv.on_frame(C2S, wsframe(9, b"b", key=b"k002"), 1.1, 3)
    conv.on_frame(S2C, wsframe(10, b"a"), 1.2, 4)
    conv.on_frame(S2C, wsframe(10, b"b"), 1.3, 5)
    s = conv.finish()
    assert s.anomalies == ()
    assert [(p.ping_frame, p.pong_frame) for p in s.pings] == [(2, 4), (3, 5)]


def test_w14_ping_unanswered() -> None:
    conv = WsConversation()
    conv.on_frame(S2C, wsframe(9, b"hb"), 1.0, 2)
    conv.on_frame(C2S, wsframe(1, b"still talking", key=b"k001"), 5.0, 3)
    (a,) = conv.finish().anomalies
    assert (a[0], a[2], a[3]) == (codes.PING_UNANSWERED, S2C, (2,))


def test_w14_ping_at_capture_end_not_judged() -> None:
    conv = WsConversation()
    conv.on_frame(S2C, wsframe(9, b"hb"), 1.0, 2)
    assert codes_of(conv) == []
    assert [p.pong_frame for p in conv.finish().pings] == [None]


def test_w14_ping_after_close_is_excused() -> None:
    conv = WsConversation()
    conv.on_frame(C2S, close(1000), 1.0, 2)
    conv.on_frame(S2C, wsframe(9, b"late"), 1.1, 3)
    conv.on_frame(S2C, close(1000), 1.2, 4)
    conv.on_tcp_end(S2C, "fin", 1.3, 5)
    assert codes_of(conv) == []


def test_w14_pong_mismatch() -> None:
    conv = WsConversation()
    conv.on_frame(S2C, wsframe(9, b"expected"), 1.0, 2)
    conv.on_frame(C2S, wsframe(10, b"other", key=b"k001"), 1.1, 3)
    got = [(a[0], a[2], a[3]) for a in conv.finish().anomalies]
    assert (codes.PONG_MISMATCH, C2S, (2, 3)) in got
    assert codes.PING_UNANSWERED in [g[0] for g in got]


def test_unsolicited_pong_is_fine() -> None:
    conv = WsConversation()
    conv.on_frame(C2S, wsframe(10, b"heartbeat", key=b"k001"), 1.0, 2)
    s = conv.finish()
    assert s.anomalies == () and s.pings == ()


def test_w15_zero_mask_key() -> None:
    conv = WsConversation()
    conv.on_frame(C2S, wsframe(1, b"a", key=b"\x00\x00\x00\x00"), 1.0, 2)
    conv.on_frame(C2S, wsframe(1, b"b", key=b"\x00\x00\x00\x00"), 1.0, 3)
    (a,) = conv.finish().anomalies
    assert (a[0], a[2], a[3]) == (codes.ZERO_MASK_KEY, C2S, (2, 3))


def test_w15_repeated_mask_key() -> None:
    conv = WsConversation()
    for i, key in enumerate([b"k001", b"k002", b"k001", b"k003", b"k003"]):
        conv.on_frame(C2S, wsframe(1, b"x", key=key), 1.0, 10 + i)
    (a,) = conv.finish().anomalies
    assert (a[0], a[2], a[3]) == (codes.REPEATED_MASK_KEY, C2S, (12, 14))
    assert a[1].startswith("2 ")


def test_w15_window_is_bounded() -> None:
    conv = WsConversation()
    conv.on_frame(C2S, wsframe(1, key=b"old!"), 1.0, 1)
    for i in range(MASK_WINDOW):
        conv.on_frame(C2S, wsframe(1, key=i.to_bytes(4, "big") if i else b"\x00\x00\x00\x01"), 1.0, 2 + i)
    conv.on_frame(C2S, wsframe(1, key=b"old!"), 1.0, 9999)  # out of the window by now
    assert codes_of(conv) == [codes.REPEATED_MASK_KEY]  # only the b"\x00\x00\x00\x01" twin
    assert conv.finish().anomalies[0][3] == (3,)


def test_server_keys_are_not_tracked() -> None:
    conv = WsConversation()
    conv.on_frame(S2C, wsframe(1, key=b"\x00\x00\x00\x00"), 1.0, 2)
    assert codes_of(conv) == []


@given(
    st.lists(
        st.tuples(
            st.sampled_from([C2S, S2C]),
            st.sampled_from([1, 2, 8, 9, 10]),
            st.binary(max_size=3),
            st.one_of(st.none(), st.binary(min_size=4, max_size=4)),
        ),
        max_size=30,
    ),
    st.lists(st.tuples(st.sampled_from([C2S, S2C]), st.sampled_from(["fin", "rst"])), max_size=2),
)
def test_never_raises(
    events: list[tuple[Direction, int, bytes, bytes | None]], ends: list[tuple[Direction, str]]
) -> None:
    conv = WsConversation(max_outstanding=2, max_pings=3, max_listed=2)
    for i, (d, op, payload, key) in enumerate(events):
        conv.on_frame(d, wsframe(op, payload, key=key), float(i), i + 1)
    for j, (d, kind) in enumerate(ends):
        conv.on_tcp_end(d, kind, 100.0, 100 + j)
    s = conv.finish()
    assert len(s.pings) <= 3
    s.to_dict()
    s.pings_to_list()


def test_pong_handed_over_before_its_ping_pairs_by_time() -> None:
    """#16 item 6: after a resync a Ping may reach the conversation after the Pong that answered
    it 1 ms later; they pair by packet, and the next pairs do not shift by one."""
    conv = WsConversation()
    conv.on_frame(S2C, wsframe(10, b"a"), 25.001, 11)  # the Pong first ...
    conv.on_frame(C2S, wsframe(9, b"a", key=b"k001"), 25.000, 10)  # ... then its Ping
    conv.on_frame(C2S, wsframe(9, b"a", key=b"k002"), 50.000, 20)
    conv.on_frame(S2C, wsframe(10, b"a"), 50.002, 21)
    conv.on_tcp_end(C2S, "fin", 60.0, 30)
    s = conv.finish()
    pairs = [(p.ping_frame, p.pong_frame, round(p.rtt_ms or 0, 3)) for p in s.pings]
    assert pairs == [(10, 11, 1.0), (20, 21, 2.0)]
    assert [a[0] for a in s.anomalies if a[0] == codes.PING_UNANSWERED] == []
