"""A python-socketio server and client on loopback, in one process, bounded in time.

Usage: python sio_app.py PORT TRANSPORTS   (TRANSPORTS: "websocket" or "polling,websocket")

Prints one JSON line: what the applications themselves sent and received (the handlers'
view), for the live tests to compare with what `socketscope live` decoded off the wire.
"""

from __future__ import annotations

import asyncio
import json
import sys

import socketio
from aiohttp import web


async def main(port: int, transports: list[str]) -> dict[str, object]:
    received_by_server: list[dict[str, object]] = []
    received_by_client: list[dict[str, object]] = []
    acks: list[dict[str, object]] = []

    sio = socketio.AsyncServer(async_mode="aiohttp", ping_interval=5)
    app = web.Application()
    sio.attach(app)

    @sio.on("chat")  # type: ignore[misc]
    async def chat(sid: str, *args: object) -> object:
        received_by_server.append({"event": "chat", "args": list(args)})
        await sio.emit("reply", {"echo": args[0] if args else None}, to=sid)
        return "ok:" + str(args[0] if args else "")

    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    client = socketio.AsyncClient()
    got_reply = asyncio.Event()

    @client.on("reply")  # type: ignore[misc]
    async def reply(data: object) -> None:
        received_by_client.append({"event": "reply", "args": [data]})
        got_reply.set()

    try:
        await asyncio.wait_for(client.connect(f"http://127.0.0.1:{port}", transports=transports), timeout=10)
        for i in range(3):
            got_reply.clear()
            answer = await asyncio.wait_for(client.call("chat", f"hello {i}", timeout=5), 6)
            acks.append({"event": "chat", "ack": answer})
            await asyncio.wait_for(got_reply.wait(), 5)
        await asyncio.sleep(0.2)
        await asyncio.wait_for(client.disconnect(), 5)
        await asyncio.sleep(0.3)
    finally:
        await runner.cleanup()
    return {"server_received": received_by_server, "client_received": received_by_client, "acks": acks}


if __name__ == "__main__":
    result = asyncio.run(asyncio.wait_for(main(int(sys.argv[1]), sys.argv[2].split(",")), 30))
    print(json.dumps(result))
