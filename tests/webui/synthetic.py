"""A hand-written analysis document in the ANALYSIS_JSON.md schema, for the web UI tests.

It describes one Engine.IO v4 session (polling on TCP #0, then a WebSocket upgrade on
TCP #1) with Socket.IO v5 events, an ack, a binary event, WebSocket pings, a fragmented
message and a Close, and it carries script/HTML in every captured string (sid, namespace,
event name, arguments, headers, close reason). Frame numbers stay within the 60 packets of
captures/sio-python-websocket-only.pcap so that packet drill-downs have real bytes.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["EVIL", "EVIL_EVENT", "EVIL_NSP", "EVIL_SID", "T0", "synthetic_doc", "synthetic_frame_ts"]

T0 = 1_700_000_000.0
EVIL = "<script>window.__pwned=1;alert(1)</script>"
EVIL_EVENT = '<img src=x onerror="window.__pwned=2">'
EVIL_NSP = "/<b>admin</b>"
EVIL_SID = "<svg onload=alert(3)>"


def synthetic_frame_ts() -> list[float]:
    return [T0 + 0.01 * i for i in range(60)]


def _ts(frame: int) -> float:
    return T0 + 0.01 * (frame - 1)


def _frame(
    direction: str, frame: int, opcode: int, payload: bytes, fin: bool = True, **kw: Any
) -> dict[str, Any]:
    masked = direction == "c2s"
    d: dict[str, Any] = {
        "direction": direction,
        "frame": frame,
        "packets": [frame],
        "ts": _ts(frame),
        "fin": fin,
        "rsv1": False,
        "rsv2": False,
        "rsv3": False,
        "opcode": opcode,
        "masked": masked,
        "mask_key": "0a0b0c0d" if masked else None,
        "payload_length": len(payload),
        "length_form": "7-bit" if len(payload) < 126 else "16-bit",
        "payload_hex": payload.hex(),
        "close_code": None,
        "close_reason": None,
    }
    d.update(kw)
    return d


def _msg(
    direction: str, frame: int, text: str, frames: int = 1, packets: list[int] | None = None
) -> dict[str, Any]:
    return {
        "direction": direction,
        "ts": _ts(frame),
        "frame": frame,
        "packets": packets or [frame],
        "opcode": "text",
        "compressed": False,
        "frames": frames,
        "length": len(text.encode()),
        "text": text,
        "data_hex": None,
    }


def _bin(direction: str, frame: int, data: bytes) -> dict[str, Any]:
    return {
        "direction": direction,
        "ts": _ts(frame),
        "frame": frame,
        "packets": [frame],
        "opcode": "binary",
        "compressed": False,
        "frames": 1,
        "length": len(data),
        "text": None,
        "data_hex": data.hex(),
    }


def _eio(
    direction: str,
    frame: int,
    transport: str,
    conn: int,
    kind: str,
    data: str | None,
    binary: bool = False,
    data_hex: str | None = None,
) -> dict[str, Any]:
    return {
        "direction": direction,
        "ts": _ts(frame),
        "frame": frame,
        "packets": [frame],
        "transport": transport,
        "connection": conn,
        "type": kind,
        "binary": binary,
        "data": data,
        "data_hex": data_hex,
    }


def _sio(
    direction: str,
    frame: int,
    transport: str,
    conn: int,
    kind: str,
    nsp: str,
    ack_id: int | None,
    event: str | None,
    args: list[Any] | None,
    data: Any,
    attachments: int = 0,
) -> dict[str, Any]:
    return {
        "direction": direction,
        "ts": _ts(frame),
        "frame": frame,
        "packets": [frame],
        "transport": transport,
        "connection": conn,
        "type": kind,
        "nsp": nsp,
        "ack_id": ack_id,
        "event": event,
        "args": args,
        "data": data,
        "attachments": attachments,
    }


def _tcp(syn: int, synack: int, ack: int, fins: dict[str, int], first: int, last: int) -> dict[str, Any]:
    return {
        "handshake": {
            "syn_frame": syn,
            "synack_frame": synack,
            "ack_frame": ack,
            "rtt_ms": round((_ts(ack) - _ts(syn)) * 1000, 3),
            "complete": True,
        },
        "end": "fin",
        "teardown": {"fin_frames": fins, "rst_frame": None, "rst_direction": None},
        "packets": {"c2s": 10, "s2c": 9},
        "payload_bytes": {"c2s": 900, "s2c": 800},
        "retransmissions": 0,
        "gaps": 0,
        "first_ts": _ts(first),
        "last_ts": _ts(last),
    }


def synthetic_doc() -> dict[str, Any]:
    open_data = json.dumps(
        {
            "sid": EVIL_SID,
            "upgrades": ["websocket"],
            "pingInterval": 25000,
            "pingTimeout": 20000,
            "maxPayload": 1000000,
        }
    )
    chat = f'42["chat",{json.dumps(EVIL)},{{"x":1}}]'
    evil_event = "42" + json.dumps([EVIL_EVENT, "arg"])
    admin_event = f'42{EVIL_NSP},7["hello"]'
    ack = '431[{"ok":true}]'
    bin_head = '451-["upload",{"_placeholder":true,"num":0}]'
    conn0 = {
        "id": 0,
        "client": {"ip": "127.0.0.1", "port": 40000},
        "server": {"ip": "127.0.0.1", "port": 3000},
        "ip_version": 4,
        "tcp": _tcp(1, 2, 3, {"c2s": 58, "s2c": 59}, 1, 59),
        "http": [
            {
                "request": {
                    "frame": 4,
                    "ts": _ts(4),
                    "method": "GET",
                    "target": "/socket.io/?EIO=4&transport=polling&x=" + EVIL,
                    "version": "HTTP/1.1",
                    "headers": [["Host", "127.0.0.1:3000"], ["X-Evil", EVIL]],
                    "body": {"length": 0, "text": "", "hex": None, "cut": False},
                    "frames": [4],
                },
                "response": {
                    "frame": 6,
                    "ts": _ts(6),
                    "version": "HTTP/1.1",
                    "status": 200,
                    "reason": "OK",
                    "headers": [["Content-Type", "text/plain"]],
                    "body": {
                        "length": len(open_data) + 1,
                        "text": "0" + open_data,
                        "hex": None,
                        "cut": False,
                    },
                    "frames": [5, 6],
                },
            },
            {
                "request": {
                    "frame": 8,
                    "ts": _ts(8),
                    "method": "POST",
                    "target": "/socket.io/?EIO=4&transport=polling&sid=x",
                    "version": "HTTP/1.1",
                    "headers": [["Content-Type", "text/plain"]],
                    "body": {"length": 2, "text": "40", "hex": None, "cut": False},
                    "frames": [8],
                },
                "response": {
                    "frame": 9,
                    "ts": _ts(9),
                    "version": "HTTP/1.1",
                    "status": 200,
                    "reason": "OK",
                    "headers": [],
                    "body": {"length": 2, "text": "ok", "hex": None, "cut": False},
                    "frames": [9],
                },
            },
        ],
        "websocket": None,
    }
    ws_frames = [
        _frame("c2s", 17, 1, b"2probe"),
        _frame("s2c", 18, 1, b"3probe"),
        _frame("c2s", 19, 1, b"5"),
        _frame("c2s", 20, 1, chat.encode()[:10], fin=False),
        _frame("c2s", 21, 0, chat.encode()[10:]),
        _frame("s2c", 22, 1, ack.encode()),
        _frame("s2c", 23, 9, b"hi"),
        _frame("c2s", 24, 10, b"hi"),
        _frame("s2c", 25, 1, b"2"),
        _frame("c2s", 26, 1, b"3"),
        _frame("c2s", 27, 1, bin_head.encode()),
        _frame("c2s", 28, 2, b"\x00\x01\x02\xff"),
        _frame("s2c", 29, 1, evil_event.encode()),
        _frame("s2c", 30, 1, admin_event.encode()),
        _frame("c2s", 31, 8, b"\x03\xe8bye <b>x</b>", close_code=1000, close_reason="bye <b>x</b>"),
        _frame("s2c", 32, 8, b"\x03\xe8", close_code=1000, close_reason=""),
    ]
    conn1 = {
        "id": 1,
        "client": {"ip": "127.0.0.1", "port": 40001},
        "server": {"ip": "127.0.0.1", "port": 3000},
        "ip_version": 4,
        "tcp": _tcp(12, 13, 14, {"c2s": 33, "s2c": 34}, 12, 34),
        "http": [
            {
                "request": {
                    "frame": 15,
                    "ts": _ts(15),
                    "method": "GET",
                    "target": "/socket.io/?EIO=4&transport=websocket&sid=x",
                    "version": "HTTP/1.1",
                    "headers": [["Upgrade", "websocket"], ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="]],
                    "body": {"length": 0, "text": "", "hex": None, "cut": False},
                    "frames": [15],
                },
                "response": {
                    "frame": 16,
                    "ts": _ts(16),
                    "version": "HTTP/1.1",
                    "status": 101,
                    "reason": "Switching Protocols",
                    "headers": [
                        ["Upgrade", "websocket"],
                        ["Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="],
                    ],
                    "body": {"length": 0, "text": "", "hex": None, "cut": False},
                    "frames": [16],
                },
            },
        ],
        "websocket": {
            "handshake": {
                "request_frame": 15,
                "response_frame": 16,
                "key": "dGhlIHNhbXBsZSBub25jZQ==",
                "accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                "accept_valid": True,
                "subprotocol": None,
                "extensions": None,
                "permessage_deflate": None,
            },
            "frames": ws_frames,
            "messages": [
                _msg("c2s", 17, "2probe"),
                _msg("s2c", 18, "3probe"),
                _msg("c2s", 19, "5"),
                _msg("c2s", 21, chat, frames=2, packets=[20, 21]),
                _msg("s2c", 22, ack),
                _msg("s2c", 25, "2"),
                _msg("c2s", 26, "3"),
                _msg("c2s", 27, bin_head),
                _bin("c2s", 28, b"\x00\x01\x02\xff"),
                _msg("s2c", 29, evil_event),
                _msg("s2c", 30, admin_event),
            ],
            "close": {
                "c2s": {"code": 1000, "reason": "bye <b>x</b>", "frame": 31},
                "s2c": {"code": 1000, "reason": "", "frame": 32},
            },
            # the analysis pairs a Ping with the Pong of the same data (RFC 6455 §5.5.2-3)
            "pings": [
                {
                    "direction": "s2c",
                    "ping_frame": 23,
                    "ping_ts": _ts(23),
                    "pong_frame": 24,
                    "pong_ts": _ts(24),
                    "rtt_ms": (_ts(24) - _ts(23)) * 1000,
                    "payload_hex": "6869",
                }
            ],
        },
    }
    eio = [
        _eio("s2c", 6, "polling", 0, "open", open_data),
        _eio("c2s", 8, "polling", 0, "message", "0"),
        _eio("s2c", 9, "polling", 0, "noop", None),
        _eio("c2s", 17, "websocket", 1, "ping", "probe"),
        _eio("s2c", 18, "websocket", 1, "pong", "probe"),
        _eio("c2s", 19, "websocket", 1, "upgrade", None),
        _eio("c2s", 21, "websocket", 1, "message", chat[1:]),
        _eio("s2c", 22, "websocket", 1, "message", ack[1:]),
        _eio("s2c", 25, "websocket", 1, "ping", None),
        _eio("c2s", 26, "websocket", 1, "pong", None),
        _eio("c2s", 27, "websocket", 1, "message", bin_head[1:]),
        _eio("c2s", 28, "websocket", 1, "message", None, binary=True, data_hex="000102ff"),
        _eio("s2c", 29, "websocket", 1, "message", evil_event[1:]),
        _eio("s2c", 30, "websocket", 1, "message", admin_event[1:]),
    ]
    sio = [
        _sio("c2s", 8, "polling", 0, "CONNECT", "/", None, None, None, None),
        _sio("c2s", 21, "websocket", 1, "EVENT", "/", 1, "chat", [EVIL, {"x": 1}], ["chat", EVIL, {"x": 1}]),
        _sio("s2c", 22, "websocket", 1, "ACK", "/", 1, None, None, [{"ok": True}]),
        _sio(
            "c2s",
            28,
            "websocket",
            1,
            "BINARY_EVENT",
            "/",
            None,
            "upload",
            [{"$hex": "000102ff"}],
            ["upload", {"$hex": "000102ff"}],
            attachments=1,
        ),
        _sio("s2c", 29, "websocket", 1, "EVENT", "/", None, EVIL_EVENT, ["arg"], [EVIL_EVENT, "arg"]),
        _sio("s2c", 30, "websocket", 1, "EVENT", EVIL_NSP, 7, "hello", [], ["hello"]),
    ]
    session = {
        "sid": EVIL_SID,
        "protocol": 4,
        "transport_path": ["polling", "websocket"],
        "upgraded": True,
        "connections": [0, 1],
        "ping_interval_ms": 25000,
        "ping_timeout_ms": 20000,
        "max_payload": 1000000,
        "packets": eio,
        "upgrade": {
            "upgrade_ms": 20.0,
            "attempts": [
                {
                    "connection": 1,
                    "outcome": "upgraded",
                    "reason": None,
                    "status": 101,
                    "probe_frame": 17,
                    "probe_reply_frame": 18,
                    "noop_frame": None,
                    "upgrade_frame": 19,
                    "probe_rtt_ms": 10.0,
                    "upgrade_ms": 20.0,
                }
            ],
        },
        "heartbeat": {
            "pinger": "s2c",
            "pings": 1,
            "pongs": 1,
            "rtt_ms": [10.0],
            "pairs": [
                {"ping_frame": 25, "ping_ts": _ts(25), "pong_frame": 26, "pong_ts": _ts(26), "rtt_ms": 10.0}
            ],
        },
        "socketio": {
            "protocol": 5,
            "parser": "default",
            "packets": sio,
            "acks": [
                {
                    "nsp": "/",
                    "ack_id": 1,
                    "request_direction": "c2s",
                    "request_ts": _ts(21),
                    "response_ts": _ts(22),
                    "latency_ms": 10.0,
                    "request_frame": 21,
                    "response_frame": 22,
                    "event": "chat",
                },
                {
                    "nsp": EVIL_NSP,
                    "ack_id": 7,
                    "request_direction": "s2c",
                    "request_ts": _ts(30),
                    "response_ts": None,
                    "latency_ms": None,
                    "request_frame": 30,
                    "response_frame": None,
                    "event": "hello",
                },
            ],
        },
    }
    return {
        "schema_version": 1,
        "tool": {"name": "socketscope", "version": "test"},
        "capture": {
            "path": "synthetic",
            "format": "pcap",
            "link_types": ["EN10MB"],
            "packets": 60,
            "bytes": 6000,
            "first_ts": T0,
            "last_ts": _ts(60),
            "complete": True,
        },
        "connections": [conn0, conn1],
        "engineio_sessions": [session],
        "anomalies": [
            {
                "code": "ws.client-frame-unmasked",
                "severity": "error",
                "layer": "websocket",
                "message": "frame " + EVIL,
                "connection": 1,
                "direction": "c2s",
                "frames": [20],
            },
            {
                "code": "tcp.retransmission",
                "severity": "note",
                "layer": "transport",
                "message": "bytes already seen",
                "connection": 0,
                "direction": "s2c",
                "frames": [5],
            },
            {
                "code": "not.registered-code",
                "severity": "warn",
                "layer": "socketio",
                "message": {"what": "an unknown code", "said": EVIL},  # not text: shown as JSON
                "connection": None,
                "direction": None,
                "frames": [],
            },
        ],
        "layer_stats": {
            "packets": 60,
            "bytes": 6000,
            "tcp_packets": 60,
            "ipv4": 60,
            "ipv6": 0,
            "link_header_bytes": 840,
            "ip_header_bytes": 1200,
            "tcp_header_bytes": 1920,
            "tcp_payload_bytes": 2040,
        },
    }
