"""SessionBuilder: Engine.IO sessions across TCP connections, upgrades, heartbeats, Socket.IO, anomalies.

The flows below mimic what python-socketio / node socket.io servers and their JS clients
put on the wire (PROTOCOLS.md §2-§3 and vectors 19-48): a polling handshake, POST 40,
GET 40{"sid"}, the WebSocket probe, the noop on the pending GET, 5, then events over
WebSocket. Long-poll GETs are handed to the builder when their response completes, as
the pipeline does, so exchanges arrive out of capture order.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.model.codes import engineio as eio_codes
from analyzer.model.codes import socketio as sio_codes
from analyzer.model.common import Anomaly, Direction
from analyzer.model.records import HttpExchange, HttpRequest, HttpResponse, WsMessageRecord
from analyzer.model.registry import REGISTRY
from analyzer.session import EngineIOSession, SessionBuilder

C, S = Direction.C2S, Direction.S2C
SID = "lv_VI97HAXpY6yYWAAAC"
OPEN4 = (
    '0{"sid":"'
    + SID
    + '","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'
)
OPEN3 = '0{"sid":"' + SID + '","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000}'
PH0 = '{"_placeholder":true,"num":0}'
PH1 = '{"_placeholder":true,"num":1}'
TEXT = "text/plain; charset=UTF-8"


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def v3(*records: str) -> bytes:
    """Reference EIO3 text payload: <UTF-16 length>:<packet>."""
    return "".join(f"{utf16_len(r)}:{r}" for r in records).encode()


def v4(*records: str) -> bytes:
    return "\x1e".join(records).encode()


class Flow:
    """Drives a SessionBuilder like the pipeline does, numbering frames and times as a capture would."""

    def __init__(self, builder: SessionBuilder | None = None) -> None:
        self.b = builder or SessionBuilder()
        self.frame = 0
        self.ts = 1000.0
        self.index: dict[int, int] = {}

    def tick(self, dt: float) -> tuple[int, float]:
        self.frame += 1
        self.ts = round(self.ts + dt, 6)
        return self.frame, self.ts

    def request(
        self, method: str, target: str, body: bytes = b"", ctype: str | None = None, dt: float = 0.001
    ) -> HttpRequest:
        frame, ts = self.tick(dt)
        headers = (("Host", "localhost:5000"),) + ((("Content-Type", ctype),) if ctype else ())
        return HttpRequest(frame, ts, method, target, "HTTP/1.1", headers, body)

    def respond(
        self,
        conn: int,
        req: HttpRequest | None,
        status: int = 200,
        body: bytes = b"",
        ctype: str = TEXT,
        dt: float = 0.001,
    ) -> HttpResponse:
        frame, ts = self.tick(dt)
        resp = HttpResponse(frame, ts, "HTTP/1.1", status, "OK", (("Content-Type", ctype),), body)
        idx = self.index.get(conn, 0)
        self.index[conn] = idx + 1
        self.b.on_http_exchange(HttpExchange(conn, idx, req, resp))
        return resp

    def get(self, conn: int, target: str, body: bytes, status: int = 200, ctype: str = TEXT) -> None:
        self.respond(conn, self.request("GET", target), status, body, ctype)

    def post(self, conn: int, target: str, body: bytes, reply: bytes = b"ok", status: int = 200) -> None:
        self.respond(
            conn, self.request("POST", target, body, "text/plain;charset=UTF-8"), status, reply, "text/html"
        )

    def ws_open(self, conn: int, target: str, status: int = 101) -> None:
        req = self.request("GET", target)
        if status != 101:
            self.respond(conn, req, status, b'{"code":3,"message":"Bad request"}', "application/json")
            return
        frame, ts = self.tick(0.001)
        resp = HttpResponse(frame, ts, "HTTP/1.1", 101, "Switching Protocols", (("Upgrade", "websocket"),))
        self.b.on_websocket_open(conn, req, resp)

    def ws(self, conn: int, direction: Direction, data: str | bytes, dt: float = 0.001) -> None:
        frame, ts = self.tick(dt)
        raw = data.encode() if isinstance(data, str) else data
        opcode = "text" if isinstance(data, str) else "binary"
        self.b.on_ws_message(WsMessageRecord(conn, direction, ts, frame, opcode, False, 1, raw, len(raw)))

    def ws_close(self, conn: int, direction: Direction, code: int = 1000) -> None:
        frame, ts = self.tick(0.001)
        self.b.on_websocket_close(conn, direction, code, ts, frame)

    def finish(self) -> tuple[list[EngineIOSession], list[Anomaly]]:
        return self.b.finish()


def poll(version: int = 4, sid: str | None = SID, path: str = "/socket.io/") -> str:
    return f"{path}?EIO={version}&transport=polling&t=N8hyd6w" + (f"&sid={sid}" if sid else "")


def wsurl(version: int = 4, sid: str | None = SID, path: str = "/socket.io/") -> str:
    return f"{path}?EIO={version}&transport=websocket" + (f"&sid={sid}" if sid else "")


def codes(anomalies: list[Anomaly]) -> list[str]:
    return [a.code for a in anomalies]


def only(sessions: list[EngineIOSession]) -> dict[str, Any]:
    assert len(sessions) == 1
    d = sessions[0].to_dict()
    json.dumps(d, allow_nan=False)
    return d


# --- flows ----------------------------------------------------------------------------------------------
def python_socketio_v5_flow(f: Flow) -> None:
    """python-socketio 5 server, socket.io-client 4: polling, then the upgrade, then WebSocket."""
    f.get(1, poll(sid=None), OPEN4.encode())  # handshake: open packet (vector 19)
    f.post(1, poll(), b"40")  # CONNECT to "/"
    pending = f.request("GET", poll())  # long poll on a second connection
    f.post(1, poll(), b'42["hello",{"a":1}]')
    f.respond(2, pending, body=b'40{"sid":"Nk7eAMq6xBl8Jq0WAAAB"}')
    waiting = f.request("GET", poll())
    f.ws_open(3, wsurl())
    f.ws(3, C, "2probe")  # vector 23
    f.ws(3, S, "3probe")
    f.respond(2, waiting, body=b"6")  # the noop on the pending GET
    f.ws(3, C, "5")
    f.ws(3, C, '421["ack-me",1]')  # event with ack id 1
    f.ws(3, S, '431["ok"]', dt=0.02)
    f.ws(3, S, '42["news",{"n":1}]')
    f.ws(3, C, f'451-["upload",{PH0}]')  # binary event + attachment frame
    f.ws(3, C, b"\x01\x02\x03")
    f.ws(3, S, '4212["server-asks"]')  # the server asks the client for an ack (id 12)
    f.ws(3, C, f"461-12[{PH0}]")
    f.ws(3, C, b"\xff")
    f.ws(3, S, "2", dt=25.0)  # v4: the server pings
    f.ws(3, C, "3", dt=0.003)
    f.ws(3, C, "41")
    f.ws_close(3, C)


def test_python_socketio_v5_flow() -> None:
    f = Flow()
    python_socketio_v5_flow(f)
    sessions, anomalies = f.finish()
    assert anomalies == []
    d = only(sessions)
    contract = {"sid", "protocol", "transport_path", "upgraded", "connections", "ping_interval_ms",
                "ping_timeout_ms", "max_payload", "packets", "socketio"}  # fmt: skip
    assert contract <= set(d)
    assert (d["sid"], d["protocol"], d["transport_path"], d["upgraded"], d["connections"]) == (
        SID,
        4,
        ["polling", "websocket"],
        True,
        [1, 2, 3],
    )
    assert (d["ping_interval_ms"], d["ping_timeout_ms"], d["max_payload"]) == (25000, 20000, 1000000)
    frames = [p["frame"] for p in d["packets"]]
    assert frames == sorted(frames)  # capture order, whatever the delivery order
    kinds = [(p["direction"], p["transport"], p["type"], p["data"]) for p in d["packets"]]
    assert kinds[:8] == [
        ("s2c", "polling", "open", OPEN4[1:]),
        ("c2s", "polling", "message", "0"),
        ("c2s", "polling", "message", '2["hello",{"a":1}]'),
        ("s2c", "polling", "message", '0{"sid":"Nk7eAMq6xBl8Jq0WAAAB"}'),
        ("c2s", "websocket", "ping", "probe"),
        ("s2c", "websocket", "pong", "probe"),
        ("s2c", "polling", "noop", None),
        ("c2s", "websocket", "upgrade", None),
    ]
    binary = [p for p in d["packets"] if p["binary"]]
    assert [(p["data"], p["data_hex"]) for p in binary] == [(None, "010203"), (None, "ff")]
    pkt_contract = {
        "direction",
        "ts",
        "frame",
        "transport",
        "connection",
        "type",
        "binary",
        "data",
        "data_hex",
    }
    assert all(pkt_contract <= set(p) for p in d["packets"])

    sio = d["socketio"]
    assert (sio["protocol"], sio["parser"]) == (5, "default")
    summary = [(p["direction"], p["type"], p["nsp"], p["ack_id"], p["event"]) for p in sio["packets"]]
    assert summary == [
        ("c2s", "CONNECT", "/", None, None),
        ("c2s", "EVENT", "/", None, "hello"),
        ("s2c", "CONNECT", "/", None, None),
        ("c2s", "EVENT", "/", 1, "ack-me"),
        ("s2c", "ACK", "/", 1, None),
        ("s2c", "EVENT", "/", None, "news"),
        ("c2s", "BINARY_EVENT", "/", None, "upload"),
        ("s2c", "EVENT", "/", 12, "server-asks"),
        ("c2s", "BINARY_ACK", "/", 12, None),
        ("c2s", "DISCONNECT", "/", None, None),
    ]
    upload = sio["packets"][6]
    assert (upload["args"], upload["data"], upload["attachments"]) == (
        [{"$hex": "010203"}],
        ["upload", {"$hex": "010203"}],
        1,
    )
    assert len(upload["frames"]) == 2 and upload["frames"][1] == upload["frame"] + 1
    assert sio["packets"][1]["args"] == [{"a": 1}]
    assert sio["packets"][2]["data"] == {"sid": "Nk7eAMq6xBl8Jq0WAAAB"}
    sio_contract = {"direction", "ts", "frame", "transport", "connection", "type", "nsp", "ack_id", "event",
                    "args", "data", "attachments"}  # fmt: skip
    assert all(sio_contract <= set(p) for p in sio["packets"])
    acks = [(a["nsp"], a["ack_id"], a["request_direction"], a["latency_ms"]) for a in sio["acks"]]
    assert acks == [("/", 1, "c2s", 20.0), ("/", 12, "s2c", 2.0)]
    assert set(sio["acks"][0]) >= {
        "nsp",
        "ack_id",
        "request_direction",
        "request_ts",
        "response_ts",
        "latency_ms",
    }
    assert sio["namespaces"] == [
        {
            "nsp": "/",
            "state": "disconnected",
            "sid": "Nk7eAMq6xBl8Jq0WAAAB",
            "connect_frame": sio["packets"][2]["frame"],
            "error": None,
        }
    ]

    [attempt] = d["upgrade"]["attempts"]
    assert (attempt["outcome"], attempt["connection"], attempt["probe_rtt_ms"], attempt["upgrade_ms"]) == (
        "upgraded",
        3,
        1.0,
        3.0,
    )
    assert attempt["noop_frame"] == next(p["frame"] for p in d["packets"] if p["type"] == "noop")
    hb = d["heartbeat"]
    assert (hb["pinger"], hb["pings"], hb["pongs"], hb["rtt_ms"], hb["unanswered"]) == ("s2c", 1, 1, [3.0], 0)
    assert d["end"]["reason"] == "ws-close" and d["end"]["direction"] == "c2s"
    assert d["handshake_captured"] is True and d["path"] == "/socket.io/"
    assert [r["method"] for r in d["requests"]] == ["GET", "POST", "GET", "POST", "GET"]


def test_node_flow_with_namespace_auth_and_binary_over_polling() -> None:
    # socket.io 4 (node) with a JS client that sends auth, joins /admin, and sends binary before the upgrade
    f = Flow()
    f.get(1, poll(sid=None), OPEN4.encode())
    f.post(1, poll(), b'40{"token":"abc"}\x1e40/admin,{"token":"abc"}')
    f.get(1, poll(), b'40{"sid":"a","pid":"p"}\x1e40/admin,{"sid":"b"}')  # pid: socket.io >= 4.6
    # binary attachments in v4 polling: b<base64> records after the header (PROTOCOLS.md §3.1)
    f.post(1, poll(), v4(f'452-/admin,7["file",{PH0},{PH1}]', "bAQID", "bBAU="))
    f.get(1, poll(), v4("43/admin,7[true]", "2"))
    f.post(1, poll(), b"3")
    sessions, anomalies = f.finish()
    assert anomalies == []
    d = only(sessions)
    assert d["transport_path"] == ["polling"] and d["upgraded"] is False and d["upgrade"] is None
    sio = d["socketio"]
    event = next(p for p in sio["packets"] if p["type"] == "BINARY_EVENT")
    assert (event["nsp"], event["ack_id"], event["transport"]) == ("/admin", 7, "polling")
    assert event["data"] == ["file", {"$hex": "010203"}, {"$hex": "0405"}]
    assert [n["nsp"] for n in sio["namespaces"]] == ["/", "/admin"]
    assert [n["sid"] for n in sio["namespaces"]] == ["a", "b"]
    assert sio["packets"][0]["data"] == {"token": "abc"}
    assert [(a["nsp"], a["ack_id"], a["response_ts"] is not None) for a in sio["acks"]] == [
        ("/admin", 7, True)
    ]
    assert d["heartbeat"]["rtt_ms"] == [1.0]
    assert d["end"]["reason"] == "unknown"


def eio3_flow(f: Flow) -> None:
    """socket.io 2 (EIO3 / SIO v4): the server connects "/" unasked; the client pings."""
    f.get(1, poll(3, None), ("96:" + OPEN3 + "2:40").encode())  # vector 47 (and 25)
    f.post(1, poll(3), b"1:2")  # vector 31: client ping...
    f.get(1, poll(3), b"1:3")  # ...server pong
    f.post(1, poll(3), v3("40/admin?token=1,"))
    # XHR2 binary body: a BINARY_EVENT and its attachment in one GET
    body = bytes([0]) + bytes(int(c) for c in str(len(b"40/admin,"))) + b"\xff40/admin,"
    header = f'451-/admin,["file",{PH0}]'.encode()
    body += bytes([0]) + bytes(int(c) for c in str(len(header))) + b"\xff" + header
    body += bytes([1, 3, 0xFF, 4, 0xCA, 0xFE])
    waiting = f.request("GET", poll(3))
    f.respond(1, waiting, body=body, ctype="application/octet-stream")
    pending = f.request("GET", poll(3))
    f.ws_open(2, wsurl(3))
    f.ws(2, C, "2probe")
    f.ws(2, S, "3probe")
    f.respond(1, pending, body=b"1:6")
    f.ws(2, C, "5")
    f.ws(2, C, "2", dt=25.0)
    f.ws(2, S, "3", dt=0.004)
    f.ws(2, C, '42/admin,1["get-file"]')
    f.ws(2, S, f"461-/admin,1[{PH0}]")  # vector 47: a BINARY_ACK ...
    f.ws(2, S, b"\x04\x03\x02\x01")  # ... its attachment behind the v3 type byte (vector 30)
    f.ws(2, C, "40/private,")
    f.ws(2, S, '44/private,"Not authorized"')  # v4 ERROR: a JSON string (vector 46)
    f.ws(2, C, "1")  # Engine.IO close


def test_eio3_flow() -> None:
    f = Flow()
    eio3_flow(f)
    sessions, anomalies = f.finish()
    assert codes(anomalies) == [sio_codes.CONNECT_REFUSED]
    d = only(sessions)
    assert (d["protocol"], d["max_payload"], d["ping_timeout_ms"], d["transport_path"]) == (
        3,
        None,
        5000,
        ["polling", "websocket"],
    )
    hb = d["heartbeat"]
    assert (hb["pinger"], hb["pings"], hb["pongs"], hb["rtt_ms"]) == ("c2s", 2, 2, [3.0, 4.0])
    # each answered ping with its pong, in the order of rtt_ms: the facts the web UI draws
    packets = {p["frame"]: p for p in d["packets"]}
    assert [p["rtt_ms"] for p in hb["pairs"]] == hb["rtt_ms"]
    for pair in hb["pairs"]:
        ping, pong = packets[pair["ping_frame"]], packets[pair["pong_frame"]]
        assert (ping["type"], ping["direction"], ping["ts"]) == ("ping", "c2s", pair["ping_ts"])
        assert (pong["type"], pong["direction"], pong["ts"]) == ("pong", "s2c", pair["pong_ts"])
        assert pair["rtt_ms"] == round((pair["pong_ts"] - pair["ping_ts"]) * 1000, 3)
    sio = d["socketio"]
    assert sio["protocol"] == 4
    first = sio["packets"][0]
    assert (first["direction"], first["type"], first["nsp"], first["frame"]) == ("s2c", "CONNECT", "/", 2)
    connect = sio["packets"][1]
    assert (connect["type"], connect["nsp"], connect["query"]) == ("CONNECT", "/admin", "token=1")
    binary = next(p for p in sio["packets"] if p["type"] == "BINARY_EVENT")
    assert binary["data"] == ["file", {"$hex": "cafe"}]
    back = next(p for p in sio["packets"] if p["type"] == "BINARY_ACK")
    assert (back["nsp"], back["ack_id"], back["data"]) == ("/admin", 1, [{"$hex": "030201"}])
    assert [n["state"] for n in sio["namespaces"]] == ["connected", "connected", "refused"]
    assert sio["namespaces"][2]["error"] == "Not authorized"
    assert d["end"]["reason"] == "close-packet" and d["end"]["direction"] == "c2s"


def websocket_only_flow(f: Flow, conn: int = 7) -> None:
    f.ws_open(conn, wsurl(4, None))
    f.ws(
        conn,
        S,
        '0{"sid":"wsonly","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}',
    )
    f.ws(conn, C, "40")
    f.ws(conn, S, '40{"sid":"s1"}')
    f.ws(conn, C, '42["chat","hi"]')
    f.ws(conn, S, "2", dt=20.0)
    f.ws(conn, C, "3")


def test_websocket_only_flow() -> None:
    f = Flow()
    websocket_only_flow(f)
    f.b.on_connection_end(7, "fin", f.ts + 1, f.frame + 1)
    sessions, anomalies = f.finish()
    assert anomalies == []
    d = only(sessions)
    assert (d["sid"], d["transport_path"], d["upgraded"], d["connections"], d["upgrade"]) == (
        "wsonly",
        ["websocket"],
        False,
        [7],
        None,
    )
    assert [p["type"] for p in d["socketio"]["packets"]] == ["CONNECT", "CONNECT", "EVENT"]
    assert d["end"]["reason"] == "tcp-end"


def msgpack_flow(f: Flow) -> None:
    pack = msgpack.packb
    f.ws_open(4, wsurl(4, None))
    f.ws(4, S, '0{"sid":"mp","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}')
    f.ws(4, C, pack({"type": 0, "nsp": "/", "data": {"token": "t"}}))
    f.ws(4, S, pack({"type": 0, "nsp": "/", "data": {"sid": "x"}}))
    f.ws(4, C, pack({"type": 2, "nsp": "/", "data": ["up", b"\x00\x01"], "id": 0}))
    f.ws(4, S, pack({"type": 3, "nsp": "/", "data": [None], "id": 0}))


def test_msgpack_flow() -> None:
    f = Flow()
    msgpack_flow(f)
    sessions, anomalies = f.finish()
    assert anomalies == []
    sio = only(sessions)["socketio"]
    assert sio["parser"] == "msgpack"
    assert [p["type"] for p in sio["packets"]] == ["CONNECT", "CONNECT", "EVENT", "ACK"]
    assert sio["packets"][2]["args"] == [{"$hex": "0001"}]
    assert sio["packets"][3]["data"] == [None]
    assert sio["acks"][0]["latency_ms"] == 1.0


def test_plain_engineio_is_not_socketio() -> None:
    f = Flow()
    f.get(1, poll(path="/engine.io/", sid=None), OPEN4.encode())
    f.post(1, poll(path="/engine.io/"), b"4hello")
    f.get(1, poll(path="/engine.io/"), b"4world\x1ebAQID")
    sessions, anomalies = f.finish()
    assert anomalies == []
    d = only(sessions)
    assert d["socketio"] is None and [p["type"] for p in d["packets"]] == [
        "open",
        "message",
        "message",
        "message",
    ]


def test_socketio_on_a_custom_path_is_found_by_its_connect() -> None:
    f = Flow()
    f.get(1, poll(path="/rt/", sid=None), OPEN4.encode())
    f.post(1, poll(path="/rt/"), b"40")
    f.get(1, poll(path="/rt/"), b'40{"sid":"q"}')
    sessions, _ = f.finish()
    assert only(sessions)["socketio"] is not None


def test_attachments_across_transports_and_cors_preflight() -> None:
    # the header travels in the last POST before the upgrade, its attachment over the new WebSocket
    f = Flow()
    f.respond(1, f.request("OPTIONS", poll(sid=None)), body=b"")
    handshake(f)
    f.post(1, poll(), b"40")
    f.get(1, poll(), b'40{"sid":"x"}')
    pending = f.request("GET", poll())
    f.respond(1, f.request("OPTIONS", poll()), body=b"")
    f.post(4, poll(), f'451-["late",{PH0}]'.encode())
    f.ws_open(3, wsurl())
    f.ws(3, C, "2probe")
    f.ws(3, S, "3probe")
    f.respond(2, pending, body=b"6")
    f.ws(3, C, "5")
    f.ws(3, C, b"\x07")
    sessions, anomalies = f.finish()
    assert anomalies == []
    event = only(sessions)["socketio"]["packets"][-1]
    assert (event["transport"], event["data"]) == ("polling", ["late", {"$hex": "07"}])
    assert len(event["frames"]) == 2


def test_truncated_message_is_not_decoded_as_socketio() -> None:
    f = Flow()
    websocket_only_flow(f)
    frame, ts = f.tick(0.001)
    cut = b'42["big","' + b"x" * 50
    f.b.on_ws_message(WsMessageRecord(7, C, ts, frame, "text", False, 1, cut, 10_000, True))
    sessions, anomalies = f.finish()
    assert codes(anomalies) == [sio_codes.LIMIT_EXCEEDED] and anomalies[0].frames == (frame,)
    last = only(sessions)["packets"][-1]
    assert (last["truncated"], last["size"], last["frame"]) == (True, 10_000, frame)


def test_several_sessions_and_order() -> None:
    f = Flow()
    websocket_only_flow(f, conn=9)
    python_socketio_v5_flow(f)
    sessions, anomalies = f.finish()
    assert anomalies == []
    assert [s.sid for s in sessions] == ["wsonly", SID]


# --- anomaly scenarios ----------------------------------------------------------------------------------
def handshake(f: Flow, open_packet: str = OPEN4, version: int = 4) -> None:
    body = ("96:" + open_packet).encode() if version == 3 else open_packet.encode()
    f.get(1, poll(version, None), body)


def upgraded(f: Flow, version: int = 4) -> None:
    handshake(f, OPEN4 if version == 4 else OPEN3, version)
    pending = f.request("GET", poll(version))
    f.ws_open(3, wsurl(version))
    f.ws(3, C, "2probe")
    f.ws(3, S, "3probe")
    f.respond(2, pending, body=b"6" if version == 4 else b"1:6")
    f.ws(3, C, "5")


def sc_unknown_sid(f: Flow) -> None:
    f.get(1, poll(sid="nope"), b'{"code":1,"message":"Session ID unknown"}', status=400)
    f.post(2, poll(sid="nope2"), b"40", reply=b'"Invalid session nope2"', status=400)  # python-engineio


def sc_concurrent_poll(f: Flow) -> None:
    handshake(f)
    first = f.request("GET", poll())
    second = f.request("GET", poll())
    f.respond(2, first, body=b"6")
    f.respond(3, second, 400, b'{"code":3,"message":"Bad request"}', "application/json")


def sc_bad_post_reply(f: Flow) -> None:
    handshake(f)
    f.post(1, poll(), b"40", reply=b"nok")


def sc_post_reply_upper_case(f: Flow) -> None:
    handshake(f)
    f.post(1, poll(), b"40", reply=b"OK")  # what python-engineio answers


def sc_wrong_side_heartbeat(f: Flow) -> None:
    upgraded(f)
    f.ws(3, C, "2")  # v4: the client does not ping
    f.ws(3, S, "3")  # nor does the server pong


def sc_ping_timeout(f: Flow) -> None:
    upgraded(f)
    f.ws(3, S, "2", dt=20)
    f.ws(3, C, "3", dt=21)  # pingTimeout is 20 s


def sc_ping_never_answered(f: Flow) -> None:
    upgraded(f)
    f.ws(3, S, "2", dt=20)
    f.ws(3, S, '42["x"]', dt=30)


def sc_ping_interval_exceeded(f: Flow) -> None:
    upgraded(f)
    f.ws(3, S, "2", dt=20)
    f.ws(3, C, "3")
    f.ws(3, S, "2", dt=60)  # 25 + 20 s is the most a client waits
    f.ws(3, C, "3")


def sc_upgrade_out_of_order(f: Flow) -> None:
    handshake(f)
    f.ws_open(3, wsurl())
    f.ws(3, C, "2probe")
    f.ws(3, C, "5")  # before 3probe
    f.ws(3, S, "3probe")
    f.ws(3, C, "5")


def sc_polling_after_upgrade(f: Flow) -> None:
    upgraded(f)
    f.get(4, poll(), b'{"code":3,"message":"Bad request"}', status=400)


def sc_second_websocket(f: Flow) -> None:
    upgraded(f)
    f.ws_open(5, wsurl())


def sc_failed_upgrades(f: Flow) -> None:
    handshake(f)
    f.ws_open(3, wsurl(), status=400)
    f.ws_open(4, wsurl())
    f.ws(4, C, "2probe")
    f.ws_close(4, S)


def sc_payload_too_large(f: Flow) -> None:
    small = OPEN4.replace('"maxPayload":1000000', '"maxPayload":100')
    handshake(f, small)
    f.post(1, poll(), b"4" + b"x" * 200)
    pending = f.request("GET", poll())
    f.ws_open(3, wsurl())
    f.ws(3, C, "2probe")
    f.ws(3, S, "3probe")
    f.respond(2, pending, body=b"6")
    f.ws(3, C, "5")
    f.ws(3, C, "4" + "y" * 300)


def sc_open_problems(f: Flow) -> None:
    f.get(1, poll(sid=None), OPEN4.replace(',"maxPayload":1000000', "").encode())  # v4 without maxPayload
    f.get(
        2,
        poll(sid=None),
        b'0{"sid":"s2","upgrades":"websocket","pingInterval":1,"pingTimeout":1,"maxPayload":1}',
    )
    f.get(3, poll(sid=None), b"4hello")  # no open packet at all
    f.get(4, poll(sid="s2"), b'0{"sid":"s2"}')  # a second open packet


def sc_websocket_only_without_open(f: Flow) -> None:
    f.ws_open(7, wsurl(4, None))
    f.ws(7, S, "40")


def sc_midstream(f: Flow) -> None:
    f.get(1, poll(sid="already"), b'42["x"]')


def sc_version_refused(f: Flow) -> None:
    f.get(1, poll(3, None), b'{"code":5,"message":"Unsupported protocol version"}', status=400)
    f.ws_open(2, wsurl(3, None), status=400)


def sc_bad_requests(f: Flow) -> None:
    f.post(1, poll(sid=None), b"")  # handshake must be GET
    f.get(2, "/socket.io/?EIO=4&transport=flashsocket", b"")
    handshake(f)
    f.get(3, poll(3), b"6")  # EIO differs from the session's
    f.get(3, poll(), b'{"code":3,"message":"Bad request"}', status=400)


def sc_after_close(f: Flow) -> None:
    upgraded(f)
    f.ws(3, C, "1")
    f.ws(3, C, '42["late"]')


def sc_bad_bodies(f: Flow) -> None:
    handshake(f)
    f.post(1, poll(), b"abc")  # vector 24
    f.post(1, poll(), b"")
    f.post(1, poll(), b"bAQ*ID")
    f.post(1, poll(), b"4\xff")
    f.get(2, poll(), b"___eio[0](4hello);", ctype="text/javascript")


def sc_bad_v3_bodies(f: Flow) -> None:
    handshake(f, OPEN3, 3)
    f.post(1, poll(3), "3:4😀a".encode())  # counted in code points
    f.get(1, poll(3), bytes([0, 10, 0xFF, 0x34]), ctype="application/octet-stream")  # digit above 9
    f.get(1, poll(3), bytes([0, 2, 0xFF]) + b"4a", ctype=TEXT)  # binary body, text content type


def sc_limits() -> Flow:
    f = Flow(SessionBuilder(max_packets_per_session=3, max_sessions=1))
    handshake(f)
    f.post(1, poll(), v4("2", "2", "2", "2"))
    f.get(2, poll(sid="other"), b"6")
    f.get(3, poll(sid=None).replace("t=N8hyd6w", "t=x"), b'0{"sid":"third"}')
    return f


def sc_sio_rules(f: Flow) -> None:
    handshake(f)
    f.post(1, poll(), v4('42["before-connect"]', "40", "40/admin,"))
    f.get(1, poll(), v4('40{"sid":"a"}', '40/admin,{"sid":"b"}'))
    f.post(1, poll(), v4('421["no-answer"]', "439[]", '425["twice"]', '425["twice"]'))
    f.get(1, poll(), v4("435[]", "435[]", '42/admin,8["ev"]'))
    f.post(1, poll(), v4("438[]", f'451-["x",{PH0}]', '42["interrupting"]'))
    f.post(
        1,
        poll(),
        v4("4abc", "42{}", '42abc["x"]', '45["x"]', '44"v4-style"', "4" + "2/" + "n" * 2000 + ",[1]"),
    )


def sc_sio_connect_error(f: Flow) -> None:
    handshake(f)
    f.post(1, poll(), b"40")
    f.get(1, poll(), b'44{"message":"Not authorized"}')


def sc_placeholder_repeated(f: Flow) -> None:
    """One attachment named by three placeholders (socket.io-parser writes one per attachment)."""
    upgraded(f)
    f.ws(3, C, "40")
    f.ws(3, S, '40{"sid":"a"}')
    f.ws(3, C, f'451-["up",{PH0},{PH0},{{"again":{PH0}}}]')
    f.ws(3, C, b"\x01\x02")


def sc_msgpack_bad(f: Flow) -> None:
    msgpack_flow(f)
    f.ws(4, C, b"\xc1")


SCENARIOS: dict[str, tuple[Callable[[Flow], None], set[str]]] = {
    "unknown-sid": (sc_unknown_sid, {eio_codes.UNKNOWN_SID}),
    "concurrent-poll": (sc_concurrent_poll, {eio_codes.CONCURRENT_POLL, eio_codes.REQUEST_REJECTED}),
    "bad-post-reply": (sc_bad_post_reply, {eio_codes.BAD_POST_REPLY}),
    "post-reply-upper-case": (sc_post_reply_upper_case, {eio_codes.POST_REPLY_CASE}),
    "wrong-side-heartbeat": (sc_wrong_side_heartbeat, {eio_codes.UNEXPECTED_PING, eio_codes.UNEXPECTED_PONG}),
    "ping-timeout": (sc_ping_timeout, {eio_codes.PING_TIMEOUT}),
    "ping-never-answered": (sc_ping_never_answered, {eio_codes.PING_TIMEOUT}),
    "ping-interval": (sc_ping_interval_exceeded, {eio_codes.PING_INTERVAL_EXCEEDED}),
    "upgrade-out-of-order": (sc_upgrade_out_of_order, {eio_codes.UPGRADE_OUT_OF_ORDER}),
    "polling-after-upgrade": (sc_polling_after_upgrade, {eio_codes.POLLING_AFTER_UPGRADE}),
    "second-websocket": (sc_second_websocket, {eio_codes.SECOND_WEBSOCKET, eio_codes.UPGRADE_FAILED}),
    "failed-upgrades": (sc_failed_upgrades, {eio_codes.UPGRADE_FAILED}),
    "payload-too-large": (sc_payload_too_large, {eio_codes.PAYLOAD_TOO_LARGE}),
    "open-problems": (
        sc_open_problems,
        {eio_codes.OPEN_MISSING_KEYS, eio_codes.BAD_OPEN_PACKET, eio_codes.OPEN_NOT_FIRST},
    ),
    "ws-only-without-open": (sc_websocket_only_without_open, {eio_codes.OPEN_NOT_FIRST}),
    "midstream": (sc_midstream, {eio_codes.HANDSHAKE_NOT_CAPTURED}),
    "version-refused": (sc_version_refused, {eio_codes.UNSUPPORTED_VERSION, eio_codes.REQUEST_REJECTED}),
    "bad-requests": (
        sc_bad_requests,
        {eio_codes.BAD_HANDSHAKE, eio_codes.BAD_QUERY, eio_codes.REQUEST_REJECTED},
    ),
    "after-close": (sc_after_close, {eio_codes.PACKET_AFTER_CLOSE}),
    "bad-bodies": (
        sc_bad_bodies,
        {
            eio_codes.BAD_PACKET_TYPE,
            eio_codes.EMPTY_PAYLOAD,
            eio_codes.BAD_BASE64,
            eio_codes.BAD_ENCODING,
            eio_codes.BAD_JSONP,
        },
    ),
    "bad-v3-bodies": (
        sc_bad_v3_bodies,
        {eio_codes.BAD_LENGTH_PREFIX, eio_codes.BAD_XHR2_RECORD, eio_codes.BINARY_CONTENT_TYPE},
    ),
    "sio-rules": (
        sc_sio_rules,
        {
            sio_codes.NO_CONNECT,
            sio_codes.ACK_UNANSWERED,
            sio_codes.ACK_UNKNOWN_ID,
            sio_codes.ACK_ID_REUSED,
            sio_codes.DUPLICATE_ACK,
            sio_codes.ACK_WRONG_NAMESPACE,
            sio_codes.ATTACHMENT_MISMATCH,
            sio_codes.BAD_PACKET_TYPE,
            sio_codes.BAD_PAYLOAD,
            sio_codes.BAD_ACK_ID,
            sio_codes.BAD_ATTACHMENT_COUNT,
            sio_codes.ERROR_PAYLOAD_VERSION_MIXUP,
            sio_codes.LIMIT_EXCEEDED,
        },
    ),
    "sio-connect-error": (sc_sio_connect_error, {sio_codes.CONNECT_REFUSED}),
    "msgpack-bad": (sc_msgpack_bad, {sio_codes.MSGPACK_BAD_PACKET}),
    "placeholder-repeated": (sc_placeholder_repeated, {sio_codes.PLACEHOLDER_REPEATED}),
}


def run(fn: Callable[[Flow], None]) -> tuple[list[EngineIOSession], list[Anomaly]]:
    f = Flow()
    fn(f)
    return f.finish()


def check_anomalies(sessions: list[EngineIOSession], anomalies: list[Anomaly]) -> None:
    connections = {c for s in sessions for c in s.connections}
    for a in anomalies:
        assert a.code in REGISTRY
        assert a.frames, a  # every anomaly points at a packet
        assert a.connection is not None
        if a.code.startswith("sio.") or a.code in (eio_codes.PING_TIMEOUT, eio_codes.UPGRADE_OUT_OF_ORDER):
            assert a.connection in connections
    for s in sessions:
        json.dumps(s.to_dict(), allow_nan=False)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_raises_its_codes(name: str) -> None:
    fn, expected = SCENARIOS[name]
    sessions, anomalies = run(fn)
    got = set(codes(anomalies))
    assert expected <= got, f"missing {expected - got}; got {sorted(got)}"
    check_anomalies(sessions, anomalies)


def test_unknown_sid_has_no_session() -> None:
    sessions, anomalies = run(sc_unknown_sid)
    assert sessions == [] and codes(anomalies) == [eio_codes.UNKNOWN_SID] * 2


def test_concurrent_poll_points_at_the_second_get() -> None:
    sessions, anomalies = run(sc_concurrent_poll)
    [a] = [a for a in anomalies if a.code == eio_codes.CONCURRENT_POLL]
    second = sessions[0].requests[2]
    assert (a.connection, a.direction, a.frames) == (3, C, (second.request_frame,))


def test_ping_timeout_details() -> None:
    sessions, anomalies = run(sc_ping_timeout)
    assert codes(anomalies) == [eio_codes.PING_TIMEOUT]
    hb = sessions[0].heartbeat
    assert hb is not None and hb.rtt_ms == (21000.0,) and hb.late_pongs == 1
    assert anomalies[0].frames == (sessions[0].packets[-1].frame,)


def test_upgrade_out_of_order_still_upgrades() -> None:
    sessions, anomalies = run(sc_upgrade_out_of_order)
    assert codes(anomalies) == [eio_codes.UPGRADE_OUT_OF_ORDER]
    assert sessions[0].upgraded and sessions[0].transport_path == ("polling", "websocket")


def test_failed_upgrades() -> None:
    sessions, anomalies = run(sc_failed_upgrades)
    d = sessions[0].to_dict()
    outcomes = [(a["connection"], a["outcome"], a["reason"]) for a in d["upgrade"]["attempts"]]
    assert outcomes == [(3, "failed", "handshake answered 400"), (4, "failed", "no 3probe")]
    assert d["upgraded"] is False and d["transport_path"] == ["polling"]
    assert d["connections"] == [1, 3, 4]
    assert codes(anomalies) == [eio_codes.UPGRADE_FAILED] * 2


def test_v3_heartbeat_roles() -> None:
    def flow(f: Flow) -> None:
        upgraded(f, 3)
        f.ws(3, S, "2")  # v3: the server does not ping
        f.ws(3, C, "3")

    _, anomalies = run(flow)
    assert codes(anomalies) == [eio_codes.UNEXPECTED_PING, eio_codes.UNEXPECTED_PONG]


def test_limits() -> None:
    f = sc_limits()
    sessions, anomalies = f.finish()
    assert [s.sid for s in sessions] == [SID]
    assert len(sessions[0].packets) == 3 and sessions[0].packets_dropped == 2
    assert codes(anomalies).count(eio_codes.LIMIT_EXCEEDED) == 2


def test_out_of_order_delivery_is_sorted() -> None:
    # the long poll started first but completes last: its packets sort by their frame
    f = Flow()
    handshake(f)
    waiting = f.request("GET", poll())
    f.post(1, poll(), b"40")
    f.respond(2, waiting, body=b'40{"sid":"x"}')
    sessions, _ = f.finish()
    frames = [p.frame for p in sessions[0].packets]
    assert frames == sorted(frames)
    assert [p.packet.data for p in sessions[0].packets][1:] == ["0", '0{"sid":"x"}']


def test_every_engineio_and_socketio_code_is_raised_somewhere() -> None:
    seen: set[str] = set()
    for fn, _ in SCENARIOS.values():
        seen |= set(codes(run(fn)[1]))
    seen |= set(codes(sc_limits().finish()[1]))
    registered = {c for c in REGISTRY if c.startswith(("eio.", "sio."))}
    assert registered - seen == set()


def test_finish_is_final() -> None:
    f = Flow()
    python_socketio_v5_flow(f)
    first = f.finish()
    f.ws(3, C, "4late")
    assert len(f.finish()[0][0].packets) == len(first[0][0].packets)


# --- never raises -----------------------------------------------------------------------------------------
BODIES = st.sampled_from(
    [b"", b"ok", OPEN4.encode(), OPEN3.encode(), ("96:" + OPEN3 + "2:40").encode(), b"40", b'40{"sid":"a"}',
     b"6", b"1:6", b"2", b"3", b"1", b"5", b"4abc", b'421["x"]', b"431[]", f"451-[{PH0}]".encode(), b"bAQID",
     b"\x00\x01\xff4", b"\x01\x02\xff\x04\x01", b'{"code":1,"message":"Session ID unknown"}', b"\xff\xfe",
     msgpack.packb({"type": 2, "nsp": "/", "data": ["x"], "id": 1}), b'0{"sid":"lv_VI97HAXpY6yYWAAAC"}']
)  # fmt: skip
TARGETS = st.sampled_from(
    [poll(4, None), poll(4), poll(3, None), poll(3), poll(4, "other"), wsurl(4), wsurl(4, None), wsurl(3),
     "/socket.io/?EIO=5&transport=polling", "/index.html", "/engine.io/?transport=polling&sid=" + SID]
)  # fmt: skip
OPS = st.lists(
    st.tuples(
        st.sampled_from(["get", "post", "ws_open", "ws", "close", "end"]),
        st.integers(1, 4),
        TARGETS,
        BODIES,
        st.sampled_from([200, 400, 101, 0]),
        st.booleans(),
        st.floats(0, 60),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_builder_never_raises(ops: list[tuple[str, int, str, bytes, int, bool, float]]) -> None:
    f = Flow(SessionBuilder(max_packets_per_session=50))
    for op, conn, target, body, status, flag, dt in ops:
        if op == "get":
            req = f.request("GET", target, dt=dt)
            if status:
                f.respond(conn, req, status, body, "application/octet-stream" if flag else TEXT)
            else:
                f.b.on_http_exchange(HttpExchange(conn, 0, req, None))
        elif op == "post":
            req = f.request("POST", target, body, dt=dt)
            f.respond(conn, req, status or 200, b"ok" if flag else body)
        elif op == "ws_open":
            f.ws_open(conn, target, 101 if flag else status or 101)
        elif op == "ws":
            data: str | bytes = body if flag else body.decode("utf-8", "replace")
            f.ws(conn, C if dt < 30 else S, data, dt=dt)
        elif op == "close":
            f.ws_close(conn, S if flag else C)
        else:
            f.b.on_connection_end(conn, "rst" if flag else "fin", f.ts, f.frame)
    sessions, anomalies = f.finish()
    for a in anomalies:
        assert a.code in REGISTRY
    for s in sessions:
        json.dumps(s.to_dict(), allow_nan=False)


def test_anomalies_of_a_session_are_bounded() -> None:
    """Found by tests/fuzz: each empty WebSocket message (2 bytes on the wire) of an Engine.IO
    session added an eio.bad-packet-type record, with no bound: a capture of such frames filled
    memory with records (and the document with lines). At most MAX_SESSION_ANOMALIES are listed,
    then one eio.limit-exceeded says how many more there were."""
    from analyzer.session.state import MAX_SESSION_ANOMALIES

    extra = 7
    f = Flow()
    websocket_only_flow(f)
    first_unlisted = 0
    for i in range(MAX_SESSION_ANOMALIES + extra):
        f.ws(7, C, "")
        if i == MAX_SESSION_ANOMALIES:
            first_unlisted = f.frame
    sessions, anomalies = f.finish()
    assert len(anomalies) == MAX_SESSION_ANOMALIES + 1
    assert codes(anomalies).count(eio_codes.BAD_PACKET_TYPE) == MAX_SESSION_ANOMALIES
    last = anomalies[-1]
    assert last.code == eio_codes.LIMIT_EXCEEDED and last.frames == (first_unlisted,)
    assert f"{extra} more anomalies" in last.message
    assert sessions[0].to_dict()["anomaly_count"] == MAX_SESSION_ANOMALIES + 1
