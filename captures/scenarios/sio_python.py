"""Scenarios sio-python-*: a python-socketio ASGI server (uvicorn) and a python-socketio client.

Variants:
  polling-upgrade  transports polling then websocket (the client upgrades right after the handshake)
  websocket-only   transports=['websocket']
  polling-only     transports=['polling']: every packet in long-polling HTTP bodies
  xss              HTML/JS injection strings in headers, query, namespace, event names and args

Each side records what its Socket.IO layer received, from the library's decoded packet
(subclasses of AsyncServer / AsyncClient wrap ``_handle_event`` and ``_handle_ack``, which
get the namespace, the ack id and the arguments with binary attachments already in place),
so the direction of every entry is certain.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
import socketio  # type: ignore[import-untyped]
import uvicorn
from _record import jsonable, parse_args, sio_recording_classes, write_record

VARIANTS = ["polling-upgrade", "websocket-only", "polling-only", "xss"]
TRANSPORTS = {
    "polling-upgrade": ["polling", "websocket"],
    "websocket-only": ["websocket"],
    "polling-only": ["polling"],
    "xss": ["polling", "websocket"],
}

XSS_EVENT = "<script>alert(1)</script>"
XSS_ATTR = '"><img src=x onerror=alert(1)>'
XSS_NSP = "/<img src=x onerror=alert(1)>"
XSS_SERVER_EVENT = "<svg onload=alert(3)>"


class Log:
    """One list per kind, appended in the order the handlers run."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.acks: list[dict[str, Any]] = []
        self.connects: list[dict[str, Any]] = []
        self.disconnects: list[dict[str, Any]] = []


LOG = Log()


# each side records what its Socket.IO layer received
RecordingServer, RecordingClient = sio_recording_classes(LOG.events, LOG.acks)


def make_server(variant: str, state: dict[str, Any]) -> Any:
    sio = RecordingServer(
        async_mode="asgi",
        ping_interval=1,  # Engine.IO heartbeats inside the capture
        ping_timeout=5,
        namespaces="*" if variant == "xss" else ["/", "/admin"],
    )

    if variant == "xss":

        @sio.on("connect", namespace="*")  # type: ignore[untyped-decorator]
        async def any_connect(namespace: str, sid: str, environ: dict[str, Any], auth: Any) -> None:
            state.setdefault("eio_sid", sio.manager.eio_sid_from_sid(sid, namespace))
            state.setdefault("server_headers", {})
            for key in ("HTTP_X_EVIL", "HTTP_USER_AGENT", "QUERY_STRING"):
                state["server_headers"][key] = environ.get(key)
            LOG.connects.append({"direction": "c2s", "nsp": namespace, "auth": auth})

        @sio.on("*", namespace="*")  # type: ignore[untyped-decorator]
        async def any_event(event: str, namespace: str, sid: str, *args: Any) -> Any:
            if event == XSS_EVENT:
                await sio.emit(
                    XSS_SERVER_EVENT,
                    ("'\"`${alert(4)}`", {"html": "<iframe src=javascript:alert(5)>"}),
                    to=sid,
                    namespace=namespace,
                )
                return "</script><script>alert(2)</script>", {"<b>bold</b>": "<i>&amp;</i>"}
            return None

        @sio.on("disconnect", namespace="*")  # type: ignore[untyped-decorator]
        async def any_disconnect(namespace: str, sid: str, reason: str) -> None:
            LOG.disconnects.append({"side": "server", "nsp": namespace, "reason": str(reason)})

        return sio

    @sio.event  # type: ignore[untyped-decorator]
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        state["eio_sid"] = sio.manager.eio_sid_from_sid(sid, "/")
        LOG.connects.append({"direction": "c2s", "nsp": "/", "auth": auth})

    @sio.event  # type: ignore[untyped-decorator]
    async def disconnect(sid: str, reason: str) -> None:
        LOG.disconnects.append({"side": "server", "nsp": "/", "reason": str(reason)})

    @sio.event  # type: ignore[untyped-decorator]
    async def chat(sid: str, text: str, meta: dict[str, Any]) -> Any:
        return "ack:" + text, {"n": meta.get("n", 0) + 1}  # a tuple: two ack arguments

    @sio.event  # type: ignore[untyped-decorator]
    async def upload(sid: str, name: str, data: bytes) -> Any:
        return {"name": name, "size": len(data), "head": data[:4]}  # binary ack

    @sio.event  # type: ignore[untyped-decorator]
    async def ready(sid: str) -> Any:
        await sio.emit("news", {"headline": "server says hi", "items": [1, 2.5, None, True]}, to=sid)
        answer = await sio.call("question", "what is 6*7?", to=sid, timeout=5)
        blob = await sio.call(
            "server_blob", {"blob": b"\xde\xad\xbe\xef", "parts": [b"\x00", b"\x01\x02"]}, to=sid, timeout=5
        )
        state["server_call_results"] = [answer, blob]
        return "ready-ok"

    @sio.on("connect", namespace="/admin")  # type: ignore[untyped-decorator]
    async def admin_connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        LOG.connects.append({"direction": "c2s", "nsp": "/admin", "auth": auth})

    @sio.on("disconnect", namespace="/admin")  # type: ignore[untyped-decorator]
    async def admin_disconnect(sid: str, reason: str) -> None:
        LOG.disconnects.append({"side": "server", "nsp": "/admin", "reason": str(reason)})

    @sio.on("admin_cmd", namespace="/admin")  # type: ignore[untyped-decorator]
    async def admin_cmd(sid: str, cmd: str) -> Any:
        await sio.emit("admin_notice", {"cmd": cmd, "by": "server"}, to=sid, namespace="/admin")
        return {"ok": True, "cmd": cmd}

    return sio


def make_client(variant: str) -> Any:
    client = RecordingClient(reconnection=False, request_timeout=5)

    if variant == "xss":

        @client.on("*", namespace="*")  # type: ignore[untyped-decorator]
        async def any_event(event: str, namespace: str, *args: Any) -> None:
            return None

        return client

    @client.event  # type: ignore[untyped-decorator]
    async def news(data: Any) -> None:
        return None

    @client.event  # type: ignore[untyped-decorator]
    async def question(text: str) -> Any:
        return 42

    @client.event  # type: ignore[untyped-decorator]
    async def server_blob(data: dict[str, Any]) -> Any:
        return b"\xca\xfe" + data["blob"]  # binary ack c2s

    @client.on("admin_notice", namespace="/admin")  # type: ignore[untyped-decorator]
    async def admin_notice(data: Any) -> None:
        return None

    return client


async def scenario(host: str, port: int, variant: str) -> dict[str, Any]:
    state: dict[str, Any] = {}
    sio = make_server(variant, state)
    config = uvicorn.Config(
        socketio.ASGIApp(sio),
        host=host,
        port=port,
        log_level="warning",
        lifespan="off",
        ws="websockets-sansio",
    )
    server = uvicorn.Server(config)
    server_task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.025)
    client = make_client(variant)
    transports = TRANSPORTS[variant]
    url = f"http://{host}:{port}"
    try:
        if variant == "xss":
            namespaces = ["/", XSS_NSP]
            await client.connect(
                url + "?q=" + XSS_EVENT,
                headers={"X-Evil": XSS_EVENT, "User-Agent": XSS_ATTR},
                namespaces=namespaces,
                transports=transports,
                auth={"token": XSS_ATTR},
                wait_timeout=5,
            )
            await client.emit(XSS_ATTR, XSS_EVENT)
            await client.call(
                XSS_EVENT, (XSS_ATTR, {"<b>key</b>": "javascript:alert(1)"}), namespace=XSS_NSP, timeout=5
            )
            await asyncio.sleep(0.3)
        else:
            namespaces = ["/", "/admin"]
            await client.connect(
                url,
                namespaces=namespaces,
                transports=transports,
                auth={"token": "secret-token"},
                wait_timeout=5,
            )
            await client.call("chat", ("hello server", {"lang": "en", "n": 3}), timeout=5)
            await client.call("upload", ("photo.bin", bytes(range(16))), timeout=5)
            await client.emit("note", "fire and forget ✓")
            # two attachments inside one packet, nested
            await client.emit("nested", {"a": [1, b"\x01\x02", {"b": b"\x03"}], "s": "x"})
            await client.call("ready", timeout=10)
            await client.call("admin_cmd", "restart", namespace="/admin", timeout=5)
            await asyncio.sleep(2.3)  # two or three Engine.IO ping/pong rounds (ping_interval=1 s)
            await client.emit("bye")
            await asyncio.sleep(0.2)
        sids = {nsp: client.get_sid(nsp) for nsp in namespaces}
        client_eio_sid = client.eio.sid
        transport = client.transport()
        await client.disconnect()
        await asyncio.sleep(0.3)
    finally:
        server.should_exit = True
        await asyncio.wait_for(server_task, 10)
    assert client_eio_sid == state.get("eio_sid"), (client_eio_sid, state.get("eio_sid"))
    path = ["polling", "websocket"] if transport == "websocket" and "polling" in transports else [transport]
    socketio_record: dict[str, Any] = {
        "eio": 4,
        "sid": client_eio_sid,
        "transport_path": path,
        "parser": "default",
        "namespaces": sids,
        "ping_interval_ms": 1000,
        "ping_timeout_ms": 5000,
        "events": LOG.events,
        "acks": LOG.acks,
        "connects": LOG.connects,
        "disconnects": LOG.disconnects,
    }
    record: dict[str, Any] = {
        "websocket": None,
        "socketio": socketio_record,
        "libraries": {
            "python": sys.version.split()[0],
            "python-socketio": _version("python-socketio"),
            "python-engineio": _version("python-engineio"),
            "uvicorn": uvicorn.__version__,
            "aiohttp": aiohttp.__version__,
            "websockets": _version("websockets"),
        },
        "notes": (
            f"Variant {variant}: client transports={transports}. python-socketio's client upgrades to "
            f"websocket right after the polling handshake, before the Socket.IO CONNECT, so with "
            f"polling+websocket all Socket.IO packets travel over the websocket. The server uses uvicorn's "
            f"websockets-sansio implementation (permessage-deflate offered by the server only if the client "
            f"asks; aiohttp does not). events/acks: each entry recorded by the receiving side from the "
            f"decoded packet. server_call_results (what the server's call() returned): "
            f"{jsonable(state.get('server_call_results'))}."
        ),
    }
    reasons = {d["reason"] for d in LOG.disconnects if d["side"] == "server"}
    record["notes"] += (
        " aiohttp keeps its HTTP connection alive, so the polling requests and the WebSocket upgrade can "
        "share "
        f"one TCP connection. Server-side disconnect reasons: {sorted(reasons)}"
        + (
            " (python-socketio's client queues its DISCONNECT packets and then closes the websocket at once, "
            "so they are not on the wire)."
            if reasons == {"transport close"}
            else "."
        )
    )
    if variant == "xss":
        record["http"] = {"server_saw": state.get("server_headers")}
        record["notes"] += (
            " Injection strings: HTTP header X-Evil and User-Agent, the query parameter q (aiohttp percent-"
            "encodes it), the CONNECT auth, the namespace, event names, args and ack args."
        )
    return record


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def main() -> None:
    args = parse_args(__doc__ or "", VARIANTS)
    record = asyncio.run(asyncio.wait_for(scenario(args.host, args.port, args.variant), 40))
    write_record(args.out, record)


if __name__ == "__main__":
    main()
