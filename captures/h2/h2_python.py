"""The python scenarios of captures/h2/ (make_h2_captures.py): hyper-h2 client and server, and an
RFC 8441 WebSocket tunnel with wsproto's frame layer, on loopback, in two threads.

Every scenario is lock-step (the client waits for each answer), so what each side's own h2 events
said is the record (`expected`): streams, methods, paths, statuses, body lengths and hashes,
resets, WebSocket messages and close codes. Nothing here reads the capture.
"""

from __future__ import annotations

import gzip
import hashlib
import random
import socket
import ssl
import threading
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Message, TextMessage
from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import CloseReason

HOST = "127.0.0.1"
BIG = random.Random(9113).randbytes(20_000) + b"engine.io " * 2000  # several DATA frames, gzip-able


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Peer:
    """One side: a socket and an h2 connection, read until a condition holds."""

    def __init__(self, sock: socket.socket, client: bool, settings: dict[int, int] | None = None) -> None:
        self.sock = sock
        config = h2.config.H2Configuration(client_side=client, header_encoding=None)
        self.h2 = h2.connection.H2Connection(config=config)
        self.settings = settings or {}
        self.events: list[Any] = []

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def read(self) -> list[Any]:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        events = self.h2.receive_data(data)
        for ev in events:
            if isinstance(ev, h2.events.DataReceived):
                self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        self.flush()
        return events

    def until(self, want: type, stream_id: int | None = None) -> Any:
        while True:
            for i, ev in enumerate(self.events):
                if isinstance(ev, want) and (
                    stream_id is None or getattr(ev, "stream_id", None) == stream_id
                ):
                    return self.events.pop(i)
            self.events.extend(self.read())


def _headers(fields: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in fields}


class Server:
    """An h2 server: /hello, /echo (POST), /big (gzip), /slow (the client cancels it),
    and, with `tunnel`, RFC 8441 WebSocket at /ws (an echo with permessage-deflate)."""

    def __init__(self, sock: socket.socket, tunnel: bool, upgrade: bool = False) -> None:
        settings = {h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1} if tunnel else {}
        self.peer = Peer(sock, client=False, settings=settings)
        self.tunnel = tunnel
        self.upgrade = upgrade
        self.bodies: dict[int, bytearray] = {}
        self.requests: dict[int, dict[str, str]] = {}
        self.ws: dict[int, tuple[Connection, PerMessageDeflate]] = {}
        self.seen: list[dict[str, Any]] = []
        self.ws_seen: list[dict[str, Any]] = []

    def run(self) -> None:
        p = self.peer
        if self.upgrade:
            head = b""
            while b"\r\n\r\n" not in head:
                head += p.sock.recv(65536)
            head, _, rest = head.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            fields = dict(line.split(b": ", 1) for line in lines[1:])
            p.sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
            p.h2.initiate_upgrade_connection(fields[b"HTTP2-Settings"])
            p.flush()
            method, path, _ = lines[0].split(b" ")
            self.requests[1] = {":method": method.decode(), ":path": path.decode()}
            self._answer(1)
            if rest:
                self._events(p.h2.receive_data(rest))
        else:
            p.h2.initiate_connection()
            if p.settings:
                p.h2.update_settings(p.settings)
            p.flush()
        try:
            while True:
                self._events(p.read())
        except (ConnectionError, OSError):
            return

    def _events(self, events: list[Any]) -> None:
        p = self.peer
        for ev in events:
            if isinstance(ev, h2.events.RequestReceived):
                self.requests[ev.stream_id] = _headers(ev.headers)
                self.bodies[ev.stream_id] = bytearray()
                if self.requests[ev.stream_id].get(":protocol") == "websocket":
                    self._accept_ws(ev.stream_id)
            elif isinstance(ev, h2.events.DataReceived):
                if ev.stream_id in self.ws:
                    self._ws_data(ev.stream_id, ev.data)
                else:
                    self.bodies[ev.stream_id] += ev.data
            elif isinstance(ev, h2.events.StreamEnded):
                if ev.stream_id in self.ws:
                    p.h2.end_stream(ev.stream_id)  # RFC 8441 §5: the server ends its side too
                else:
                    self._answer(ev.stream_id)
            elif isinstance(ev, h2.events.StreamReset):
                self.seen.append(
                    {"stream_id": ev.stream_id, "reset_by": "client", "error_code": int(ev.error_code)}
                )
            elif isinstance(ev, h2.events.ConnectionTerminated):
                p.flush()
        p.flush()

    def _answer(self, sid: int) -> None:
        p = self.peer
        req = self.requests[sid]
        body = bytes(self.bodies.get(sid, b""))
        path = req[":path"]
        self.seen.append(
            {
                "stream_id": sid,
                "method": req[":method"],
                "path": path,
                "body_sha256": sha(body),
                "body_length": len(body),
            }
        )
        if path == "/slow":
            p.h2.send_headers(sid, [(":status", "200"), ("content-type", "text/plain")])
            p.h2.send_data(sid, b"first part, then the client cancels")
            return
        if path == "/big":
            data = gzip.compress(BIG, mtime=0)
            headers = [
                (":status", "200"),
                ("content-type", "application/octet-stream"),
                ("content-encoding", "gzip"),
            ]
        elif path.startswith("/echo"):
            data, headers = body, [(":status", "200"), ("content-type", "text/plain")]
        else:
            data, headers = b"hello over HTTP/2", [(":status", "200"), ("content-type", "text/plain")]
        p.h2.send_headers(sid, [*headers, ("content-length", str(len(data)))])
        for i in range(0, len(data), 16000):
            chunk = data[i : i + 16000]
            p.h2.send_data(sid, chunk, end_stream=i + 16000 >= len(data), pad_length=8 if i == 0 else None)
        if not data:
            p.h2.end_stream(sid)

    def _accept_ws(self, sid: int) -> None:
        req = self.requests[sid]
        ext = PerMessageDeflate()
        answer = ext.accept(req.get("sec-websocket-extensions", ""))
        headers = [(":status", "200")]
        if isinstance(answer, str):
            headers.append(("sec-websocket-extensions", f"permessage-deflate; {answer}".rstrip("; ")))
        self.peer.h2.send_headers(sid, headers)
        self.ws[sid] = (Connection(ConnectionType.SERVER, extensions=[ext] if answer else []), ext)

    def _ws_data(self, sid: int, data: bytes) -> None:
        conn, _ = self.ws[sid]
        if not data:
            return  # the empty DATA that carries END_STREAM
        conn.receive_data(data)
        out = b""
        for ev in conn.events():
            if isinstance(ev, TextMessage | BytesMessage):
                raw = ev.data.encode() if isinstance(ev, TextMessage) else bytes(ev.data)
                self.ws_seen.append(
                    {
                        "direction": "c2s",
                        "opcode": "text" if isinstance(ev, TextMessage) else "binary",
                        "length": len(raw),
                        "sha256": sha(raw),
                    }
                )
                out += conn.send(Message(data=ev.data))
            elif isinstance(ev, CloseConnection):
                self.ws_seen.append({"direction": "c2s", "close": ev.code})
                out += conn.send(ev.response())
        if out:
            self.peer.h2.send_data(sid, out)


class Client:
    def __init__(self, sock: socket.socket) -> None:
        self.peer = Peer(sock, client=True)
        self.got: list[dict[str, Any]] = []

    def request(self, method: str, path: str, body: bytes = b"", authority: str = "localhost") -> int:
        p = self.peer
        sid = p.h2.get_next_available_stream_id()
        headers = [(":method", method), (":scheme", "https"), (":authority", authority), (":path", path)]
        p.h2.send_headers(sid, [*headers, ("user-agent", "hyper-h2")], end_stream=not body)
        if body:
            half = len(body) // 2
            p.h2.send_data(sid, body[:half])
            p.h2.send_data(sid, body[half:], end_stream=True, pad_length=5)
        p.flush()
        return sid

    def response(self, sid: int) -> None:
        p = self.peer
        resp = p.until(h2.events.ResponseReceived, sid)
        body = bytearray()
        while True:
            ev = p.until(h2.events.DataReceived | h2.events.StreamEnded, sid)  # type: ignore[arg-type]
            if isinstance(ev, h2.events.StreamEnded):
                break
            body += ev.data
        self.got.append(
            {
                "stream_id": sid,
                "status": int(_headers(resp.headers)[":status"]),
                "body_length": len(body),
                "body_sha256": sha(bytes(body)),
            }
        )

    def run(self, tunnel: bool) -> list[dict[str, Any]]:
        p = self.peer
        self.response(self.request("GET", "/hello"))
        self.response(self.request("POST", "/echo?n=1", b"x=" + b"payload " * 300))
        self.response(self.request("GET", "/big"))
        sid = self.request("GET", "/slow")
        p.until(h2.events.ResponseReceived, sid)
        p.until(h2.events.DataReceived, sid)
        p.h2.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        p.flush()
        self.got.append({"stream_id": sid, "status": 200, "reset": "CANCEL"})
        p.h2.ping(b"socketsc")
        p.flush()
        p.until(h2.events.PingAckReceived)
        ws: list[dict[str, Any]] = []
        if tunnel:
            ws = self.websocket()
        p.h2.close_connection()
        p.flush()
        return ws

    def websocket(self) -> list[dict[str, Any]]:
        """RFC 8441: extended CONNECT, then WebSocket frames in the stream's DATA."""
        p = self.peer
        while not p.h2.remote_settings.enable_connect_protocol:  # RFC 8441 §3
            p.events.extend(p.read())
        sid = p.h2.get_next_available_stream_id()
        ext = PerMessageDeflate()
        p.h2.send_headers(sid, [
            (":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"), (":path", "/ws?room=1"),
            (":authority", "localhost"), ("sec-websocket-version", "13"),
            ("sec-websocket-extensions", f"permessage-deflate; {ext.offer()}"),
        ])  # fmt: skip
        p.flush()
        resp = _headers(p.until(h2.events.ResponseReceived, sid).headers)
        answer = resp.get("sec-websocket-extensions", "")
        ext.finalize(answer.split(";", 1)[1].strip() if ";" in answer else "")
        conn = Connection(ConnectionType.CLIENT, extensions=[ext])
        log: list[dict[str, Any]] = []
        sends: list[str | bytes] = ["hello over RFC 8441", bytes(range(256)) * 4, "compress me " * 200]
        for msg in sends:
            raw = msg.encode() if isinstance(msg, str) else msg
            log.append(
                {
                    "direction": "c2s",
                    "opcode": "text" if isinstance(msg, str) else "binary",
                    "length": len(raw),
                    "sha256": sha(raw),
                }
            )
            p.h2.send_data(sid, conn.send(Message(data=msg)))
            p.flush()
            got = self._ws_event(conn, sid)
            raw = got.data.encode() if isinstance(got, TextMessage) else bytes(got.data)
            log.append(
                {
                    "direction": "s2c",
                    "opcode": "text" if isinstance(got, TextMessage) else "binary",
                    "length": len(raw),
                    "sha256": sha(raw),
                }
            )
        p.h2.send_data(sid, conn.send(CloseConnection(code=CloseReason.NORMAL_CLOSURE, reason="done")))
        p.flush()
        close = self._ws_event(conn, sid)
        log.append({"direction": "s2c", "close": close.code})
        p.h2.end_stream(sid)
        p.flush()
        p.until(h2.events.StreamEnded, sid)
        return log

    def _ws_event(self, conn: Connection, sid: int) -> Any:
        p = self.peer
        while True:
            for ev in conn.events():
                return ev
            ev = p.until(h2.events.DataReceived, sid)
            conn.receive_data(ev.data)


def tls_contexts(cert: str, key: str, keylog: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    server.keylog_filename = keylog
    server.set_alpn_protocols(["h2"])
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(cert)
    client.set_alpn_protocols(["h2", "http/1.1"])
    return server, client


def run(
    port: int, *, tls: tuple[ssl.SSLContext, ssl.SSLContext] | None, tunnel: bool, upgrade: bool = False
) -> dict[str, Any]:
    """One connection: the server in a thread, the client here; what each side saw."""
    listener = socket.create_server((HOST, port))
    out: dict[str, Any] = {}

    def serve() -> None:
        conn, _ = listener.accept()
        if tls is not None:
            conn = tls[0].wrap_socket(conn, server_side=True)
        server = Server(conn, tunnel, upgrade)
        server.run()
        out["server"] = {"requests": server.seen, "websocket": server.ws_seen}
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    sock = socket.create_connection((HOST, port), timeout=10)
    if tls is not None:
        sock = tls[1].wrap_socket(sock, server_hostname="localhost")
        out["alpn"] = sock.selected_alpn_protocol()
    client = Client(sock)
    if upgrade:
        client_ws = _upgrade_client(client)
    else:
        client.peer.h2.initiate_connection()
        client.peer.flush()
        client_ws = client.run(tunnel)
    sock.close()
    thread.join(timeout=10)
    listener.close()
    out["client"] = {"responses": client.got, "websocket": client_ws}
    return out


def _upgrade_client(client: Client) -> list[dict[str, Any]]:
    """h2c Upgrade (RFC 7540 §3.2): an HTTP/1.1 request that becomes stream 1."""
    p = client.peer
    settings = p.h2.initiate_upgrade_connection()
    assert settings is not None
    p.sock.sendall(
        b"GET /upgrade HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: " + settings + b"\r\n\r\n"
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += p.sock.recv(65536)
    head, _, rest = head.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    p.flush()  # the preface and SETTINGS
    if rest:
        p.events.extend(p.h2.receive_data(rest))
    client.response(1)
    client.response(client.request("GET", "/hello"))
    p.h2.close_connection()
    p.flush()
    return []
