"""A document with many connections and Engine.IO sessions (each connection a WebSocket with its
Upgrade, each session with a heartbeat): the views of a big capture stay bounded."""

from __future__ import annotations

from typing import Any

__all__ = ["T0", "many_doc", "many_frame_ts"]

T0 = 1_700_000_000.0


def many_frame_ts(n: int) -> list[float]:
    """A time for each of the 3 * n frames: frame 3k+1..3k+3 around second k."""
    return [T0 + (f - 1) // 3 + 0.001 * ((f - 1) % 3) for f in range(1, 3 * n + 1)]


def many_doc(n: int = 40) -> dict[str, Any]:
    conns, sessions = [], []
    frame = 0
    for k in range(n):
        frame += 3
        busy = 1 + (k % 7) * 3  # some connections carry more than others
        conns.append(
            {
                "id": k,
                "client": {"ip": "127.0.0.1", "port": 40000 + k},
                "server": {"ip": "127.0.0.1", "port": 8000},
                "tcp": {
                    "handshake": {
                        "syn_frame": frame - 2,
                        "synack_frame": frame - 1,
                        "ack_frame": frame,
                        "rtt_ms": 0.1 + k,
                    },
                    "first_ts": T0 + k,
                    "end": "fin",
                    "packets": {"c2s": 3, "s2c": 2},
                },
                "http": [],
                "websocket": {
                    "handshake": {"request_frame": frame, "response_frame": frame},
                    "frames": [],
                    "messages": [
                        {
                            "direction": "c2s",
                            "ts": T0 + k + 0.01 * j,
                            "frame": frame,
                            "opcode": "text",
                            "length": 2,
                            "text": "hi",
                        }
                        for j in range(busy)
                    ],
                },
            }
        )
        sessions.append(
            {
                "sid": f"sid{k:03d}",
                "protocol": 4,
                "connections": [k],
                "packets": [
                    {
                        "direction": d,
                        "ts": T0 + k + 0.5 + 0.1 * j,
                        "frame": frame,
                        "type": kind,
                        "data": None,
                        "connection": k,
                    }
                    for j, (d, kind) in enumerate([("s2c", "ping"), ("c2s", "pong")])
                ],
                "socketio": None,
                "heartbeat": {
                    "pinger": "s2c",
                    "pairs": [
                        {
                            "ping_frame": frame,
                            "ping_ts": T0 + k + 0.5,
                            "pong_frame": frame,
                            "pong_ts": T0 + k + 0.6,
                            "rtt_ms": 100.0,
                        }
                    ],
                },
            }
        )
    return {
        "capture": {"first_ts": T0, "packets": frame},
        "connections": conns,
        "engineio_sessions": sessions,
    }
