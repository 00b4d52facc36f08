"""Scenario ws-python-websockets: a python `websockets` server and client on loopback.

permessage-deflate with context takeover (websockets' defaults), a subprotocol, text
and binary messages, a fragmented message each way, a 100 000-byte binary message
(64-bit length on the wire), a 70 000-character text message (small on the wire,
large once inflated), pings both ways, and a Close 1000 with a reason.

The conversation is lock-step (the client waits for each answer before it sends
the next message), so the order in which the handlers record messages is the
order on the wire.  The server records what it received (c2s), the client what
it received (s2c).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _record import INLINE_LIMIT, message_entry, parse_args, write_record
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

SUBPROTOCOL = "socketscope.v1"
BIG_BINARY = random.Random(6455).randbytes(100_000)
BIG_TEXT = "".join(f"line {i:05d}: the quick brown fox jumps over the lazy dog\n" for i in range(1300))[
    :70_000
]


async def scenario(host: str, port: int) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    pings: list[dict[str, Any]] = []
    server_view: dict[str, Any] = {}
    handler_done = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        server_view["path"] = ws.request.path
        server_view["request_extensions"] = ws.request.headers.get("Sec-WebSocket-Extensions")
        try:
            async for msg in ws:
                messages.append(message_entry("c2s", msg))
                if isinstance(msg, bytes):
                    if len(msg) > INLINE_LIMIT:
                        await ws.send(f"received {len(msg)} bytes, sha256={hashlib.sha256(msg).hexdigest()}")
                    else:
                        await ws.send(msg[::-1])
                elif msg == "please send fragments":
                    # RFC 6455 §5.4: one binary message in three frames
                    await ws.send([b"\x10" * 200, b"\x20" * 300, b"\x30" * 400])
                elif msg == "please ping me":
                    payload = b"server-ping-1"
                    waiter = await ws.ping(payload)
                    await asyncio.wait_for(waiter, 5)
                    pings.append({"direction": "s2c", "payload_hex": payload.hex(), "pong_received": True})
                    await ws.send("pong received")
                elif msg == "please send big text":
                    await ws.send(BIG_TEXT)
                else:
                    await ws.send("echo: " + msg)
        finally:
            proto = ws.protocol
            server_view["close_rcvd"] = (
                {"code": proto.close_rcvd.code, "reason": proto.close_rcvd.reason}
                if proto.close_rcvd
                else None
            )
            server_view["close_sent"] = (
                {"code": proto.close_sent.code, "reason": proto.close_sent.reason}
                if proto.close_sent
                else None
            )
            handler_done.set()

    client_view: dict[str, Any] = {}
    async with serve(
        handler,
        host,
        port,
        subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
        ping_interval=None,  # no automatic keepalive pings: every ping is in the record
        compression="deflate",
    ):
        async with connect(
            f"ws://{host}:{port}/chat?room=1",
            subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
            ping_interval=None,
            compression="deflate",
            open_timeout=5,
            close_timeout=5,
        ) as ws:
            assert ws.response is not None
            client_view["extensions"] = ws.response.headers.get("Sec-WebSocket-Extensions")
            client_view["subprotocol"] = ws.subprotocol

            async def exchange(message: Any) -> None:
                await ws.send(message)
                reply = await asyncio.wait_for(ws.recv(), 5)
                messages.append(message_entry("s2c", reply))

            await exchange("héllo from the python client ✓")
            await exchange(bytes(range(256)))
            # RFC 6455 §5.4: a text message sent as three frames
            await exchange(["fragment one, ", "fragment two, ", "fragment three"])
            waiter = await ws.ping(b"client-ping-1")
            await asyncio.wait_for(waiter, 5)
            pings.append({"direction": "c2s", "payload_hex": b"client-ping-1".hex(), "pong_received": True})
            await exchange("please send fragments")
            await exchange("please ping me")
            # context takeover: the second copy compresses to a few bytes
            await exchange("context takeover: the quick brown fox jumps over the lazy dog")
            await exchange("context takeover: the quick brown fox jumps over the lazy dog")
            await exchange(BIG_BINARY)
            await exchange("please send big text")
            await ws.close(code=1000, reason="client done")
            proto = ws.protocol
            client_view["close_rcvd"] = (
                {"code": proto.close_rcvd.code, "reason": proto.close_rcvd.reason}
                if proto.close_rcvd
                else None
            )
        await asyncio.wait_for(handler_done.wait(), 5)

    return {
        "websocket": {
            "connections": 1,
            "handshake": {
                "path": server_view["path"],
                "subprotocol": client_view["subprotocol"],
                "request_extensions": server_view["request_extensions"],
                "extensions": client_view["extensions"],
            },
            "messages": messages,
            "pings": pings,
            "close": {"c2s": server_view["close_rcvd"], "s2c": client_view["close_rcvd"]},
        },
        "socketio": None,
        "libraries": {"python": sys.version.split()[0], "websockets": version("websockets")},
        "notes": (
            "Lock-step conversation, so the messages are listed in wire order. c2s entries were recorded by "
            "the server's handler, s2c entries by the client. Messages over 4096 bytes give length and "
            "sha256 only (length = bytes after inflating; text as UTF-8). Fragmented: c2s 'fragment one, "
            "fragment two, fragment three' (3 text frames) and the s2c binary 0x10*200+0x20*300+0x30*400 "
            "(3 frames). permessage-deflate with context takeover, window bits 12 both ways (websockets' "
            "defaults). Pings are sent by the library's ping() and awaited; automatic keepalive is off."
        ),
    }


def main() -> None:
    args = parse_args(__doc__ or "")
    record = asyncio.run(asyncio.wait_for(scenario(args.host, args.port), 30))
    write_record(args.out, record)


if __name__ == "__main__":
    main()
