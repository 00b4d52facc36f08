"""The real applications behind the benchmark capture (run by benchmarks/generate.py).

Two roles, each one asyncio process:

``server``   a python-socketio ASGI server under uvicorn (namespaces ``/`` and ``/live``, rooms,
             acks both ways, binary attachments both ways, Engine.IO pings every 5 s), a python
             ``websockets`` server with permessage-deflate (echo, large replies over 64 KiB,
             fragmented replies, pings) and a second ``websockets`` server without compression
             (raw binary over 64 KiB each way).
``clients``  many python-socketio AsyncClients (polling then upgrade, websocket-only and
             polling-only) and python ``websockets`` clients, each looping: connect, a random
             number of actions, disconnect (or Close with a code), reconnect.

With ``--tls-dir DIR`` everything runs over TLS (https, wss): the servers use DIR/cert.pem and
DIR/key.pem, the clients trust that certificate and write the NSS key log DIR/keys.log
(``SSLContext.keylog_filename``), as a browser with SSLKEYLOGFILE would.

Both stop by themselves: when ``--stop-file`` appears or after ``--max-seconds``.  Payload
sizes and the mix of actions come from ``random.Random(--seed)``; what reaches the wire (its
timing, the interleaving of the clients, masks, sids) differs on every run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["main"]

WORDS = [
    *("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo"),
    *("lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform"),
    *(
        "victor",
        "whiskey",
        "xray",
        "yankee",
        "zulu",
        "price",
        "order",
        "fill",
        "cancel",
        "quote",
        "bid",
        "ask",
    ),
]


class Stop:
    """Stop condition shared by every task of one process."""

    def __init__(self, stop_file: str | None, max_seconds: float) -> None:
        self.stop_file = stop_file
        self.deadline = time.monotonic() + max_seconds
        self._last_check = 0.0
        self._stopped = False

    def __call__(self) -> bool:
        if self._stopped:
            return True
        now = time.monotonic()
        if now >= self.deadline:
            self._stopped = True
        elif now - self._last_check > 0.1:
            self._last_check = now
            if self.stop_file and os.path.exists(self.stop_file):
                self._stopped = True
        return self._stopped


def _text(rng: random.Random, nwords: int) -> str:
    return " ".join(rng.choices(WORDS, k=nwords))


def _size(rng: random.Random, small: int, large: int) -> int:
    """Log-uniform size between small and large: many small payloads, a few big ones."""
    return int(small * (large / small) ** rng.random())


def _state(rng: random.Random, target: int) -> Any:
    """Application state of about `target` bytes of JSON: a list of records, or a matrix."""
    if rng.random() < 0.5:
        n = max(1, target // 120)
        return {
            "rev": rng.randrange(1 << 20),
            "rows": [
                {
                    "id": rng.randrange(1 << 31),
                    "name": _text(rng, 2),
                    "qty": rng.randint(0, 999),
                    "px": round(rng.uniform(0, 1000), 3),
                    "tags": rng.sample(WORDS, 3),
                    "pos": {"x": rng.random(), "y": rng.random(), "ok": rng.random() < 0.5},
                    "note": None,
                }
                for _ in range(n)
            ],
        }
    side = max(1, int((target / 20) ** 0.5))
    return {"shape": [side, side], "m": [[round(rng.random(), 6) for _ in range(side)] for _ in range(side)]}


# ---------------------------------------------------------------- TLS


def server_tls(args: argparse.Namespace) -> ssl.SSLContext | None:
    if not args.tls_dir:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(args.tls_dir, "cert.pem"), os.path.join(args.tls_dir, "key.pem"))
    return ctx


def client_tls(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The clients' context: trusts the run's certificate, logs the keys (one file for every client)."""
    if not args.tls_dir:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(args.tls_dir, "cert.pem"))
    ctx.keylog_filename = os.path.join(args.tls_dir, "keys.log")
    return ctx


# ---------------------------------------------------------------- server


async def run_server(args: argparse.Namespace) -> None:
    import socketio  # type: ignore[import-untyped]
    import uvicorn
    from websockets.asyncio.server import ServerConnection, serve

    stop = Stop(args.stop_file, args.max_seconds)
    rng = random.Random(args.seed + 1)
    sio = socketio.AsyncServer(
        async_mode="asgi",
        ping_interval=5,
        ping_timeout=10,
        max_http_buffer_size=8 << 20,
        namespaces=["/", "/live"],
    )
    rooms = [f"room-{i}" for i in range(8)]

    @sio.event  # type: ignore[untyped-decorator]
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        await sio.enter_room(sid, rng.choice(rooms))

    @sio.event  # type: ignore[untyped-decorator]
    async def chat(sid: str, room: str, text: str) -> Any:
        await sio.emit("chat", {"from": sid[:6], "text": text, "ts": time.time()}, room=room, skip_sid=sid)
        return {"ok": True, "len": len(text)}

    @sio.event  # type: ignore[untyped-decorator]
    async def echo(sid: str, *data: Any) -> Any:
        return data  # an ack with the same arguments: binary ones make a BINARY_ACK

    @sio.event  # type: ignore[untyped-decorator]
    async def upload(sid: str, meta: dict[str, Any], blob: bytes) -> Any:
        return {"name": meta.get("name"), "size": len(blob), "head": blob[:8]}  # binary ack

    @sio.event  # type: ignore[untyped-decorator]
    async def fetch(sid: str, size: int) -> Any:
        return {"blob": rng.randbytes(max(0, min(int(size), 4 << 20))), "n": size}

    @sio.event  # type: ignore[untyped-decorator]
    async def quote(sid: str, symbols: list[str]) -> None:
        await sio.emit("quotes", [{"s": s, "p": round(rng.uniform(1, 500), 2)} for s in symbols], to=sid)

    @sio.event  # type: ignore[untyped-decorator]
    async def state(sid: str, doc: Any, *rest: Any) -> Any:
        if rng.random() < 0.3:  # state pushed back down (nested JSON, skewed size)
            await sio.emit("state", _state(rng, _size(rng, 64, 65_536)), to=sid)
        return {"rev": doc.get("rev") if isinstance(doc, dict) else None, "n": len(rest)}

    @sio.on("track", namespace="/live")  # type: ignore[untyped-decorator]
    async def track(sid: str, points: list[Any]) -> Any:
        return len(points)

    @sio.on("connect", namespace="/live")  # type: ignore[untyped-decorator]
    async def live_connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        await sio.emit("hello", {"sid": sid, "motd": _text(rng, 20)}, to=sid, namespace="/live")

    async def broadcaster() -> None:
        """Server-initiated traffic: ticks to every room, binary frames to one, calls with acks."""
        n = 0
        while not stop():
            n += 1
            room = rng.choice(rooms)
            await sio.emit(
                "tick", {"n": n, "prices": [rng.random() for _ in range(rng.randint(1, 30))]}, room=room
            )
            if n % 7 == 0:
                await sio.emit("frame", {"n": n, "png": rng.randbytes(_size(rng, 200, 60_000))}, room=room)
            if n % 11 == 0:
                participants = list(sio.manager.get_participants("/", room))
                if participants:
                    target = rng.choice(participants)[0]
                    with contextlib.suppress(Exception):
                        await sio.call("question", {"q": _text(rng, 5), "n": n}, to=target, timeout=5)
            await asyncio.sleep(0.03)

    async def ws_handler(conn: ServerConnection) -> None:
        with contextlib.suppress(Exception):
            async for msg in conn:
                if isinstance(msg, str) and msg.startswith("big:"):
                    n = int(msg[4:])
                    if rng.random() < 0.5:
                        await conn.send(rng.randbytes(n))
                    else:
                        await conn.send(_text(rng, n // 6)[:n])  # compressible text
                elif isinstance(msg, str) and msg.startswith("frag:"):
                    n = int(msg[5:])
                    chunk = max(1, n // 4)
                    parts = [rng.randbytes(chunk) for _ in range(4)]
                    await conn.send(parts)  # RFC 6455 §5.4: one message in four frames
                elif isinstance(msg, str) and msg == "ping-me":
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(await conn.ping(b"srv-" + rng.randbytes(4).hex().encode()), 5)
                    await conn.send("pong seen")
                elif isinstance(msg, bytes):
                    await conn.send(f"got {len(msg)} bytes")
                else:
                    await conn.send("echo: " + msg)

    tls = server_tls(args)
    config = uvicorn.Config(
        socketio.ASGIApp(sio),
        host=args.host,
        port=args.sio_port,
        log_level="error",
        lifespan="off",
        ws="websockets-sansio",
        backlog=1024,
        **(
            {
                "ssl_certfile": os.path.join(args.tls_dir, "cert.pem"),
                "ssl_keyfile": os.path.join(args.tls_dir, "key.pem"),
            }
            if tls is not None
            else {}
        ),
    )
    server = uvicorn.Server(config)
    server_task = asyncio.create_task(server.serve())
    async with (
        serve(
            ws_handler,
            args.host,
            args.ws_port,
            compression="deflate",
            ping_interval=3,
            max_size=16 << 20,
            ssl=tls,
        ),
        serve(
            ws_handler,
            "0.0.0.0",
            args.raw_ws_port,
            compression=None,
            ping_interval=3,
            max_size=16 << 20,
            ssl=tls,
        ),
    ):
        btask = asyncio.create_task(broadcaster())
        print("server ready", flush=True)
        while not stop():
            await asyncio.sleep(0.1)
        # Let the clients close their own connections first (they see the same stop file).
        await asyncio.sleep(args.linger)
        btask.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await btask
    server.should_exit = True
    with contextlib.suppress(Exception):
        await asyncio.wait_for(server_task, 10)


# ---------------------------------------------------------------- clients


async def sio_client_loop(args: argparse.Namespace, idx: int, stop: Stop, stats: dict[str, int]) -> None:
    import socketio

    rng = random.Random(args.seed * 1000 + idx)
    tls = client_tls(args)
    url = f"{'https' if tls else 'http'}://{args.host}:{args.sio_port}"
    while not stop():
        r = rng.random()
        transports = ["polling", "websocket"] if r < 0.65 else ["websocket"] if r < 0.92 else ["polling"]
        namespaces = ["/", "/live"] if rng.random() < 0.4 else ["/"]
        http = None
        if tls is not None:
            import aiohttp

            http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls))
        client = socketio.AsyncClient(reconnection=False, request_timeout=10, http_session=http)

        @client.event  # type: ignore[untyped-decorator]
        async def question(data: Any) -> Any:
            return {"answer": 42, "echo": data}

        @client.on("*")  # type: ignore[untyped-decorator]
        async def anything(event: str, *data: Any) -> None:
            return None

        try:
            await client.connect(
                url,
                transports=transports,
                namespaces=namespaces,
                auth={"user": f"u{idx}", "token": rng.randbytes(8).hex()},
                wait_timeout=10,
            )
            stats["sio_sessions"] += 1
            room = f"room-{rng.randrange(8)}"
            for _ in range(rng.randint(10, 150)):
                if stop():
                    break
                if args.profile == "state":
                    await _sio_state_action(client, rng, room)
                else:
                    await _sio_action(client, rng, room, namespaces, transports)
                stats["sio_actions"] += 1
                await asyncio.sleep(rng.random() * args.pace)
        except Exception:
            stats["sio_errors"] += 1
            await asyncio.sleep(0.2)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), 5)
            if http is not None:
                await http.close()
        await asyncio.sleep(rng.random() * 0.2)


async def _sio_state_action(client: Any, rng: random.Random, room: str) -> None:
    """The ``state`` profile: nested JSON up to 64 KiB, binary events with 16 B-40 KiB attachments."""
    r = rng.random()
    if r < 0.55:
        await client.emit("state", _state(rng, _size(rng, 64, 65_536)))
    elif r < 0.70:
        await client.call("state", (_state(rng, _size(rng, 64, 16_384)), _text(rng, 3)), timeout=10)
    elif r < 0.85:
        blobs = [rng.randbytes(_size(rng, 16, 40_960)) for _ in range(rng.randint(1, 3))]
        await client.emit("state", {"rev": rng.randrange(1000), "parts": blobs})
    else:
        await client.emit("chat", (room, _text(rng, rng.randint(1, 40))))


async def _sio_action(
    client: Any, rng: random.Random, room: str, namespaces: list[str], transports: list[str]
) -> None:
    r = rng.random()
    # polling-only sessions carry big binaries as base64 in HTTP bodies: keep them smaller
    big = 400_000 if transports != ["polling"] else 100_000
    if r < 0.35:
        await client.emit("chat", (room, _text(rng, rng.randint(1, 40))))
    elif r < 0.50:
        await client.call("chat", (room, _text(rng, rng.randint(1, 15))), timeout=10)
    elif r < 0.62:
        await client.call(
            "echo", ({"n": rng.randrange(1 << 30), "w": _text(rng, 8)}, [1, 2.5, None]), timeout=10
        )
    elif r < 0.72:
        await client.emit("quote", [rng.choice(WORDS).upper() for _ in range(rng.randint(1, 12))])
    elif r < 0.84:
        blob = rng.randbytes(_size(rng, 64, big))
        await client.call("upload", ({"name": f"f{rng.randrange(1000)}.bin"}, blob), timeout=20)
    elif r < 0.90:
        # two attachments in one packet, nested
        await client.call(
            "echo", {"a": [rng.randbytes(rng.randint(1, 3000)), {"b": rng.randbytes(16)}]}, timeout=10
        )
    elif r < 0.96:
        await client.call("fetch", _size(rng, 100, big), timeout=20)
    elif "/live" in namespaces:
        await client.call(
            "track",
            [[rng.random(), rng.random()] for _ in range(rng.randint(1, 50))],
            namespace="/live",
            timeout=10,
        )
    else:
        await client.emit("chat", (room, json.dumps({"emoji": "✓ ☃ 😀", "n": rng.random()})))


async def ws_client_loop(
    args: argparse.Namespace,
    idx: int,
    stop: Stop,
    stats: dict[str, int],
    *,
    host: str,
    port: int,
    compress: bool,
) -> None:
    from websockets.asyncio.client import connect

    rng = random.Random(args.seed * 2000 + idx + (7 if compress else 0))
    tls = client_tls(args)
    while not stop():
        path = rng.choice(["/feed", "/chat?room=1", "/stream"])
        try:
            async with connect(
                f"{'wss' if tls else 'ws'}://{host}:{port}{path}",
                ssl=tls,
                compression="deflate" if compress else None,
                max_size=16 << 20,
                open_timeout=10,
                close_timeout=5,
                ping_interval=4,
            ) as ws:
                stats["ws_sessions"] += 1
                for _ in range(rng.randint(5, 80)):
                    if stop():
                        break
                    await _ws_action(ws, rng)
                    stats["ws_actions"] += 1
                    await asyncio.sleep(rng.random() * args.pace)
                code = rng.choice([1000, 1000, 1000, 1001, 4000])
                await ws.close(code, "" if code == 1000 else f"bye {rng.randrange(100)}")
        except Exception:
            stats["ws_errors"] += 1
            await asyncio.sleep(0.2)


async def _ws_action(ws: Any, rng: random.Random) -> None:
    r = rng.random()
    if r < 0.40:
        await ws.send(
            json.dumps({"op": "sub", "topic": rng.choice(WORDS), "text": _text(rng, rng.randint(1, 30))})
        )
        await ws.recv()
    elif r < 0.60:
        await ws.send(rng.randbytes(_size(rng, 16, 200_000)))
        await ws.recv()
    elif r < 0.72:
        await ws.send(f"big:{_size(rng, 65_536, 600_000)}")  # > 64 KiB: 64-bit length
        await ws.recv()
    elif r < 0.82:
        await ws.send(f"frag:{_size(rng, 100, 300_000)}")
        await ws.recv()
    elif r < 0.90:
        # a fragmented message from the client: three frames
        await ws.send([_text(rng, 50), _text(rng, 500), _text(rng, 5)])
        await ws.recv()
    elif r < 0.95:
        await ws.send("ping-me")
        await ws.recv()
    else:
        # compressible text over 64 KiB
        await ws.send(_text(rng, rng.randint(12_000, 30_000)))
        await ws.recv()


async def run_clients(args: argparse.Namespace) -> None:
    stop = Stop(args.stop_file, args.max_seconds)
    stats: dict[str, int] = dict.fromkeys(
        ("sio_sessions", "sio_actions", "sio_errors", "ws_sessions", "ws_actions", "ws_errors"), 0
    )
    tasks: list[Awaitable[None]] = []
    for i in range(args.sio_clients):
        tasks.append(sio_client_loop(args, i, stop, stats))
    for i in range(args.ws_clients):
        compress = i % 3 != 2 and args.ws_mode == "mixed"
        port = args.ws_port if compress else args.raw_ws_port
        tasks.append(ws_client_loop(args, i, stop, stats, host=args.host, port=port, compress=compress))
    await _staggered(tasks, 0.05)
    print(json.dumps(stats), flush=True)


async def _staggered(tasks: list[Awaitable[None]], delay: float) -> None:
    running = []
    for t in tasks:
        running.append(asyncio.ensure_future(t))
        await asyncio.sleep(delay)
    await asyncio.gather(*running, return_exceptions=True)


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("role", choices=["server", "clients"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--sio-port", type=int, default=80)
    p.add_argument("--ws-port", type=int, default=8080)
    p.add_argument("--raw-ws-port", type=int, default=8088)
    p.add_argument("--sio-clients", type=int, default=30)
    p.add_argument("--ws-clients", type=int, default=9)
    p.add_argument("--ws-mode", choices=["mixed", "raw"], default="mixed", help="raw: no compression")
    p.add_argument("--pace", type=float, default=0.05, help="mean pause between a client's actions x2 (s)")
    p.add_argument(
        "--profile",
        choices=["mixed", "state"],
        default="mixed",
        help="state: Socket.IO events carry nested JSON state up to 64 KiB and binary attachments",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--stop-file")
    p.add_argument("--max-seconds", type=float, default=300.0)
    p.add_argument("--linger", type=float, default=3.0, help="server: seconds to wait for clients to leave")
    p.add_argument("--tls-dir", help="TLS: cert.pem and key.pem here; the clients write keys.log here")
    args = p.parse_args(argv)
    runner: Callable[[argparse.Namespace], Awaitable[None]] = (
        run_server if args.role == "server" else run_clients
    )
    asyncio.run(asyncio.wait_for(runner(args), args.max_seconds + 60))
    return 0


if __name__ == "__main__":
    sys.exit(main())
