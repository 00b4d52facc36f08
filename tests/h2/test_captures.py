"""Real HTTP/2 traffic (captures/h2/): what the applications' own handlers logged (requests,
bodies, statuses, resets; Socket.IO events, acks and binary attachments over Engine.IO polling on
h2 streams; RFC 8441 WebSocket messages and close codes) comes out of socketscope."""

from __future__ import annotations

import hashlib

import pytest

from analyzer.model.analysis import ConnectionRecord
from tests.h2.common import analysis, capture, expected, names
from tests.sio_record import canon, recorded_acks, recorded_events

PYTHON = [n for n in names() if "python" in n]


def test_the_captures_are_there() -> None:
    assert {"h2c-python-prior-knowledge", "h2c-python-upgrade", "h2-python-tls13-rfc8441"} <= set(names())
    assert {"sio-chromium-h2", "ws-chromium-h2-rfc8441"} <= set(names())
    for n in names():
        assert capture(n).stat().st_size < 1 << 20


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _h2(name: str) -> list[ConnectionRecord]:
    return [c for c in analysis(name).connections if c.http2 is not None]


@pytest.mark.parametrize("name", PYTHON)
def test_requests_and_responses_equal_the_applications_record(name: str) -> None:
    want = expected(name)
    (conn,) = analysis(name).connections
    assert conn.http2 is not None
    h2x = [x for x in conn.http if x.response is not None and x.response.version == "HTTP/2"]
    server = [r for r in want["server"]["requests"] if "method" in r]
    got = [
        (x.response.stream_id, x.request.method, x.request.target, _sha(x.request.body), len(x.request.body))
        for x in h2x
        if x.request is not None and x.response is not None and x.request.method != "CONNECT"
    ]
    assert got == [
        (r["stream_id"], r["method"], r["path"], r["body_sha256"], r["body_length"]) for r in server
    ]
    for r in want["client"]["responses"]:
        (x,) = [x for x in h2x if x.response is not None and x.response.stream_id == r["stream_id"]]
        assert x.response is not None and x.response.status == r["status"]
        if "reset" in r:  # cancelled after its first DATA: what came is listed, cut
            continue
        body = x.response.body
        if x.request is not None and x.request.target == "/big":  # gzip undone (content-encoding)
            assert _sha(body) == want["big_decoded_sha256"]
        else:
            assert (_sha(body), len(body)) == (r["body_sha256"], r["body_length"])
    resets = [a for a in analysis(name).anomalies if a.code == "h2.stream-reset"]
    want_resets = [r for r in want["server"]["requests"] if "reset_by" in r]
    assert [a.message for a in resets] == [
        f"RST_STREAM CANCEL on stream {r['stream_id']}" for r in want_resets
    ]
    assert conn.http2["resets"] == ({"CANCEL": len(want_resets)} if want_resets else {})


def test_h2c_upgrade_request_is_stream_1() -> None:
    (conn,) = analysis("h2c-python-upgrade").connections
    first, second = conn.http[0], conn.http[1]
    assert first.response is not None and first.response.status == 101
    assert second.request is not None and second.request.version == "HTTP/1.1"  # RFC 7540 §3.2
    assert (
        second.response is not None and second.response.stream_id == 1 and second.response.version == "HTTP/2"
    )
    assert conn.to_dict()["http"][2]["request"]["stream_id"] == 3


def _messages(conn: ConnectionRecord) -> list[tuple[str, str, int, str]]:
    doc = conn.to_dict()["websocket"]
    out = []
    for m in doc["messages"]:
        raw = m["text"].encode() if m["text"] is not None else bytes.fromhex(m["data_hex"])
        out.append((m["direction"], m["opcode"], m["length"], _sha(raw)))
    return out


def test_rfc8441_python_tunnel() -> None:
    want = expected("h2-python-tls13-rfc8441")
    (conn,) = analysis("h2-python-tls13-rfc8441").connections
    assert conn.app_protocol == "websocket" and conn.websocket is not None and conn.http2 is not None
    assert conn.http2["enable_connect_protocol"] is True
    log = [m for m in want["client"]["websocket"] if "sha256" in m]
    assert _messages(conn) == [(m["direction"], m["opcode"], m["length"], m["sha256"]) for m in log]
    hs = conn.websocket.handshake
    assert hs is not None and hs["h2_stream_id"] == 9 and hs["permessage_deflate"] is not None
    close = conn.websocket.close
    assert close["c2s"]["code"] == 1000 and close["s2c"]["code"] == want["client"]["websocket"][-1]["close"]
    assert conn.websocket.url == "wss://localhost/ws?room=1"
    assert not [
        a
        for a in analysis("h2-python-tls13-rfc8441").anomalies
        if a.layer.value in ("websocket", "http") and a.severity.value in ("error", "warn")
    ]


def test_rfc8441_chromium_tunnel() -> None:
    want = expected("ws-chromium-h2-rfc8441")
    (conn,) = [c for c in _h2("ws-chromium-h2-rfc8441") if c.websocket is not None]
    browser = want["browser"]
    exp = []
    for m in browser["messages"]:
        raw = m["text"].encode() if "text" in m else bytes.fromhex(m["hex"])
        exp.append((m["direction"], m["opcode"], m["length"], _sha(raw)))
    assert _messages(conn) == exp
    assert [(m["opcode"], m["length"], m["sha256"]) for m in want["server"]["received"]] == [
        e[1:] for e in exp if e[0] == "c2s"
    ]
    assert conn.websocket is not None
    close = conn.websocket.close
    assert close["c2s"]["code"] == want["server"]["close"]["code"] == 1000
    assert close["c2s"]["reason"] == want["server"]["close"]["reason"]
    assert close["s2c"]["code"] == browser["close"]["code"]
    assert (
        conn.websocket.handshake is not None
        and conn.websocket.handshake["extensions"] == browser["extensions"]
    )
    connect = [x for x in conn.http if x.request is not None and x.request.method == "CONNECT"]
    assert connect and connect[0].response is not None and connect[0].response.status == 200
    assert not [a for a in analysis("ws-chromium-h2-rfc8441").anomalies if a.code.startswith("h2.")]


def test_socketio_polling_over_h2() -> None:
    want = expected("sio-chromium-h2")
    a = analysis("sio-chromium-h2")
    (s,) = [s.to_dict() for s in a.engineio_sessions if s.sid == want["server"]["eio_sid"]]
    assert s["transport_path"] == ["polling", "websocket"] and s["upgraded"] is True
    h2conns = {c.id for c in _h2("sio-chromium-h2")}
    polling = {p["connection"] for p in s["packets"] if p["transport"] == "polling"}
    assert polling and polling <= h2conns  # every poll rode an HTTP/2 stream
    pk = s["socketio"]["packets"]
    events = recorded_events(pk)
    acks = recorded_acks(pk)
    assert canon(events) == canon(want["server"]["events"] + want["browser"]["events"])
    assert canon(acks) == canon(want["server"]["acks"] + want["browser"]["acks"])
    polls = [
        x
        for c in _h2("sio-chromium-h2")
        for x in c.http
        if x.request is not None and "EIO=4" in x.request.target
    ]
    assert len(polls) >= 4 and all(
        x.request.version == "HTTP/2" and x.request.stream_id for x in polls if x.request
    )


@pytest.mark.parametrize("name", names())
def test_http2_records_carry_integer_nanosecond_times(name: str) -> None:
    """#16 item 19: durations are computed from integer nanoseconds; HTTP/2 requests, responses
    and interim responses carry them as HTTP/1.x ones do (the Engine.IO polling packets on h2
    streams take their times from these records)."""
    records = [
        r
        for c in _h2(name)
        for x in c.http
        for r in (x.request, x.response, *x.interim)
        if r is not None and r.version == "HTTP/2"
    ]
    assert records
    for r in records:
        assert r.ts_ns is not None and abs(r.ts_ns / 1e9 - r.ts) < 1e-5
    polling = [p for s in analysis(name).engineio_sessions for p in s.packets if p.transport == "polling"]
    assert all(p.ts_ns is not None for p in polling)
