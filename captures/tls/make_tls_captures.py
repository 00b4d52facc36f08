"""Record the TLS captures of captures/tls/ (issue #17): real libraries over TLS on loopback.

    python captures/tls/make_tls_captures.py            # every scenario (as root, about 20 s)
    python captures/tls/make_tls_captures.py --only ws-websockets-tls13

Each scenario runs a server and a client in one asyncio loop, over TLS with a self-signed
certificate made here with `cryptography` (CN and SAN localhost), the server's SSLContext
writing the NSS key log (`SSLContext.keylog_filename`), while tcpdump records the port on `lo`.
Beside each capture: `<name>.keys` (its key log) and `<name>.expected.json` (what the
applications' own handlers sent and received, never a dissector's output). One capture also
gets its keys injected as a pcapng Decryption Secrets Block (`editcap --inject-secrets`).
The key logs are of throwaway sessions on loopback: committing them is the point.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import ipaddress
import json
import random
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path += [str(HERE.parent), str(HERE.parent / "scenarios")]  # loopback_recorder, _record

from _record import message_entry, sio_recording_classes  # noqa: E402
from loopback_recorder import Recorder  # noqa: E402

HOST = "127.0.0.1"
SSL_OP_NO_ENCRYPT_THEN_MAC = 1 << 19  # OpenSSL 3 ssl.h: SSL_OP_BIT(19)


# -- certificate and TLS contexts ----------------------------------------------------------------
def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed RSA certificate for localhost / 127.0.0.1 (RFC 5280), valid one day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class Tls:
    """How a scenario's TLS is set up: the version, TLS 1.2 ciphers, encrypt-then-MAC."""

    version: str = "1.3"
    ciphers: str | None = None  # OpenSSL names, TLS 1.2 only
    etm: bool = True
    alpn: list[str] = field(default_factory=lambda: ["http/1.1"])

    def contexts(self, cert: Path, key: Path, keylog: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
        tls = ssl.TLSVersion.TLSv1_3 if self.version == "1.3" else ssl.TLSVersion.TLSv1_2
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(cert, key)
        server.keylog_filename = str(keylog)
        client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client.load_verify_locations(cert)
        for ctx in (server, client):
            ctx.minimum_version = ctx.maximum_version = tls
            if self.ciphers:
                ctx.set_ciphers(self.ciphers)
            if not self.etm:
                ctx.options |= SSL_OP_NO_ENCRYPT_THEN_MAC
            if self.alpn:
                ctx.set_alpn_protocols(self.alpn)
        return server, client


# -- the applications ----------------------------------------------------------------------------
BIG = random.Random(8446).randbytes(40_960)  # incompressible: three TLS records, a 64-bit WebSocket length


async def websockets_scenario(
    port: int,
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
    proxy_url: str | None = None,
    connect_port: int | None = None,
) -> dict[str, Any]:
    """python `websockets` over TLS: text, binary, a fragmented message, a 40 KiB message,
    a ping each way, Close 1000 with a reason. Lock-step, so the record order is wire order."""
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import ServerConnection, serve

    messages: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        async for msg in ws:
            messages.append(message_entry("c2s", msg))
            if msg == "fragments please":
                await ws.send(["part one, ", "part two, ", "part three"])
            elif msg == "ping me":
                await asyncio.wait_for(await ws.ping(b"server-ping"), 5)
                await ws.send("pinged")
            elif isinstance(msg, bytes):
                await ws.send(hashlib.sha256(msg).hexdigest())
            else:
                await ws.send(f"echo: {msg}")
        done.set()

    async with serve(handler, HOST, port, ssl=server_ctx):
        uri = f"wss://localhost:{port}/tls-chat"
        how: dict[str, Any] = {"proxy": proxy_url}
        if connect_port is not None:  # a load balancer in front: TCP to it, TLS and Host for the server
            how = {"host": HOST, "port": connect_port, "proxy": None}
        async with connect(uri, ssl=client_ctx, subprotocols=None, max_size=None, **how) as ws:
            for out in ("hello over TLS", b"\x00\x01binary\xff", "fragments please", BIG, "ping me", "bye"):
                await ws.send(out)
                messages.append(message_entry("s2c", await ws.recv()))
            await asyncio.wait_for(await ws.ping(b"client-ping"), 5)
            await ws.close(1000, "done over TLS")
        await asyncio.wait_for(done.wait(), 5)
    # the handlers recorded in the order they ran; the conversation is lock-step
    return {"websocket": {"messages": messages, "close": {"c2s": {"code": 1000, "reason": "done over TLS"}}}}


async def socketio_scenario(
    port: int, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> dict[str, Any]:
    """python-socketio over aiohttp with TLS: polling, then the upgrade to WebSocket; events with
    acks both ways, a binary attachment each way, a namespace, Engine.IO pings."""
    import aiohttp
    from aiohttp import web

    events: list[dict[str, Any]] = []
    acks: list[dict[str, Any]] = []

    Server, Client = sio_recording_classes(events, acks)
    sio = Server(async_mode="aiohttp", ping_interval=1, ping_timeout=5, namespaces=["/", "/admin"])
    state: dict[str, Any] = {}

    @sio.event  # type: ignore[untyped-decorator]
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        state["sid"] = sio.manager.eio_sid_from_sid(sid, "/")

    @sio.event  # type: ignore[untyped-decorator]
    async def chat(sid: str, text: str) -> Any:
        return "ack:" + text

    @sio.event  # type: ignore[untyped-decorator]
    async def upload(sid: str, data: bytes) -> Any:
        await sio.emit("news", {"headline": "over TLS", "blob": b"\xde\xad\xbe\xef"}, to=sid)
        return {"size": len(data)}

    @sio.on("admin_cmd", namespace="/admin")  # type: ignore[untyped-decorator]
    async def admin_cmd(sid: str, cmd: str) -> Any:
        return {"ok": True, "cmd": cmd}

    app = web.Application()
    sio.attach(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, HOST, port, ssl_context=server_ctx)
    await site.start()
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_ctx))
    client = Client(reconnection=False, request_timeout=5, http_session=http)
    news = asyncio.Event()
    client.on("news", lambda data: news.set())
    try:
        await client.connect(
            f"https://localhost:{port}", namespaces=["/", "/admin"], transports=["polling", "websocket"]
        )
        await client.call("chat", "hello over polling or websocket", timeout=5)
        await client.sleep(1.5)  # the upgrade is done, and a heartbeat goes by
        await client.call("upload", b"\x00\x01\x02" * 10, timeout=5)
        await asyncio.wait_for(news.wait(), 5)
        await client.call("admin_cmd", "restart", namespace="/admin", timeout=5)
        await client.disconnect()
    finally:
        await http.close()
        await runner.cleanup()
    return {
        "socketio": {
            "sid": state.get("sid"),
            "transport_path": ["polling", "websocket"],
            "events": events,
            "acks": acks,
        }
    }


SOCKS_PORT_OFFSET = 100  # the proxy listens on the scenario's port + 100


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    """Copy src to dst until src ends, then close dst (one direction of a relay)."""
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    finally:
        dst.close()


async def socks5_relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A tiny SOCKS5 proxy (RFC 1928): no authentication, CONNECT only, then a byte relay. The
    reply is sent before the relay starts, so the client's TLS follows the SOCKS bytes on the
    same TCP connection."""
    greeting = await reader.readexactly(2)
    await reader.readexactly(greeting[1])  # the methods (§3)
    writer.write(b"\x05\x00")  # version 5, method "no authentication required"
    head = await reader.readexactly(4)  # VER CMD RSV ATYP (§4)
    if head[3] == 1:
        host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
    elif head[3] == 3:
        host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
    else:
        host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
    port = int.from_bytes(await reader.readexactly(2))
    up_reader, up_writer = await asyncio.open_connection(host, port)
    writer.write(b"\x05\x00\x00\x01" + ipaddress.IPv4Address(HOST).packed + port.to_bytes(2))  # §6
    await writer.drain()
    await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)


async def websockets_socks_scenario(
    port: int, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> dict[str, Any]:
    """python `websockets` over TLS through a SOCKS5 proxy on loopback (the client side is
    websockets' own proxy support, with python-socks): on the client's connection to the proxy
    the SOCKS5 handshake comes first, then TLS, so every stream offset of the TLS records and
    of the WebSocket frames is counted after the proxy's bytes."""
    proxy = await asyncio.start_server(socks5_relay, HOST, port + SOCKS_PORT_OFFSET)
    async with proxy:
        result = await websockets_scenario(
            port, server_ctx, client_ctx, proxy_url=f"socks5://{HOST}:{port + SOCKS_PORT_OFFSET}"
        )
    result["proxy"] = {"protocol": "socks5", "port": port + SOCKS_PORT_OFFSET, "upstream_port": port}
    return result


NODE_DIR = HERE.parent / "node"


async def no_python_app(port: int, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> dict[str, Any]:
    """The `run` of a node scenario, never called (`run_node` runs the node application)."""
    raise AssertionError("a node scenario runs node")


def run_node(script: str, port: int, cert: Path, key: Path, keys: Path) -> dict[str, Any]:
    """`node --tls-keylog=KEYS captures/node/SCRIPT` over https (its server and client in one
    process, both writing the key log); what its handlers logged, and the libraries it used."""
    if not (NODE_DIR / "node_modules" / "socket.io").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=300)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "record.json"
        cmd = ["node", f"--tls-keylog={keys}", str(NODE_DIR / script), "--host", HOST, "--port", str(port)]
        cmd += ["--out", str(out), "--parser", "default", "--cert", str(cert), "--key", str(key)]
        subprocess.run(cmd, check=True, timeout=60, cwd=NODE_DIR)
        app: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    app.pop("websocket", None)
    return app


PROXY_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"  # HAProxy proxy-protocol.txt §2.2


def proxy_v2_header(src: tuple[str, int], dst: tuple[str, int]) -> bytes:
    """A PROXY protocol v2 header (proxy-protocol.txt §2.2): version 2 PROXY command, TCP over
    IPv4, the client's and the original destination's addresses and ports."""
    body = (
        ipaddress.IPv4Address(src[0]).packed
        + ipaddress.IPv4Address(dst[0]).packed
        + src[1].to_bytes(2)
        + dst[1].to_bytes(2)
    )
    return PROXY_V2_SIGNATURE + b"\x21\x11" + len(body).to_bytes(2) + body


async def websockets_proxy_v2_scenario(
    port: int, server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext
) -> dict[str, Any]:
    """python `websockets` over TLS through a load balancer that speaks the PROXY protocol v2 to
    its backend, as haproxy's `send-proxy-v2` does: the client connects to the balancer (port +
    100), which opens a connection to the backend (port + 200), writes the v2 header there, then
    relays the client's bytes; the backend reads the header and relays the rest to the TLS
    server (port). The recorded backend connection carries the header, then TLS."""
    front, back = port + SOCKS_PORT_OFFSET, port + 2 * SOCKS_PORT_OFFSET

    async def balancer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(HOST, back)
        peer = writer.get_extra_info("peername")
        up_writer.write(proxy_v2_header((peer[0], peer[1]), (HOST, front)))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)

    async def backend(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readexactly(16)  # signature, version/command, family, length (§2.2)
        assert head[:12] == PROXY_V2_SIGNATURE
        await reader.readexactly(int.from_bytes(head[14:16]))
        up_reader, up_writer = await asyncio.open_connection(HOST, port)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)

    async with (
        await asyncio.start_server(backend, HOST, back),
        await asyncio.start_server(balancer, HOST, front),
    ):
        # the client asks for wss://localhost:<port> but connects to the balancer (as DNS would send it)
        result = await websockets_scenario(port, server_ctx, client_ctx, connect_port=front)
    result["proxy"] = {"protocol": "proxy-v2", "port": back, "front_port": front, "upstream_port": port}
    return result


# -- recording ------------------------------------------------------------------------------------
@dataclass
class Scenario:
    name: str
    port: int
    run: Callable[[int, ssl.SSLContext, ssl.SSLContext], Awaitable[dict[str, Any]]]
    tls: Tls
    shows: str
    dsb: bool = False  # also write <name>.pcapng with the key log as a Decryption Secrets Block
    extra_ports: tuple[int, ...] = ()  # also recorded (a proxy's port)
    node: str | None = None  # a node application of captures/node run instead of `run`


SCENARIOS = [
    Scenario(
        "ws-websockets-tls13",
        48443,
        websockets_scenario,
        Tls("1.3"),
        "python websockets over TLS 1.3 (TLS_AES_256_GCM_SHA384, ALPN http/1.1 in EncryptedExtensions)",
    ),
    Scenario(
        "ws-websockets-tls12-cbc",
        48444,
        websockets_scenario,
        Tls("1.2", "ECDHE-RSA-AES128-SHA"),
        "python websockets over TLS 1.2, TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA with encrypt-then-MAC (RFC 7366)",
    ),
    Scenario(
        "ws-websockets-tls12-cbc-mte",
        48445,
        websockets_scenario,
        Tls("1.2", "ECDHE-RSA-AES256-SHA384", etm=False),
        "python websockets over TLS 1.2, TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384, MAC-then-encrypt",
    ),
    Scenario(
        "ws-websockets-tls13-socks5",
        48470,
        websockets_socks_scenario,
        Tls("1.3"),
        "python websockets over TLS 1.3 through a SOCKS5 proxy (python-socks client, a relay in the"
        " script on port 48570): the SOCKS5 handshake, then TLS, on the client's connection",
        extra_ports=(48570,),
    ),
    Scenario(
        "ws-websockets-tls13-proxy-v2",
        48472,
        websockets_proxy_v2_scenario,
        Tls("1.3"),
        "python websockets over TLS 1.3 behind a load balancer speaking the PROXY protocol v2 to its"
        " backend (port 48672: the v2 header, then TLS; written by the script as haproxy's send-proxy-v2"
        " does)",
        extra_ports=(48572, 48672),
    ),
    Scenario(
        "sio-node-https",
        48471,
        no_python_app,
        Tls("1.3", alpn=[]),
        "node socket.io 4 over https (TLS 1.3, node's defaults): polling, then the upgrade to wss; events"
        " and acks both ways, binary attachments, namespaces, a refused namespace; keys from"
        " node --tls-keylog",
        node="sio_v4.js",
    ),
    Scenario(
        "sio-aiohttp-tls13",
        48446,
        socketio_scenario,
        Tls("1.3"),
        "python-socketio over aiohttp with TLS 1.3: polling, upgrade, events, acks, binary; keys also"
        " injected as a Decryption Secrets Block (the .pcapng)",
        dsb=True,
    ),
    Scenario(
        "sio-aiohttp-tls12-chacha",
        48447,
        socketio_scenario,
        Tls("1.2", "ECDHE-RSA-CHACHA20-POLY1305"),
        "python-socketio over aiohttp with TLS 1.2, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
]


def record(s: Scenario, cert: Path, key: Path) -> None:
    pcap, keys = HERE / f"{s.name}.pcap", HERE / f"{s.name}.keys"
    keys.unlink(missing_ok=True)
    with Recorder((s.port, *s.extra_ports), pcap):
        if s.node is not None:
            app = run_node(s.node, s.port, cert, key, keys)
        else:
            server_ctx, client_ctx = s.tls.contexts(cert, key, keys)
            app = asyncio.run(s.run(s.port, server_ctx, client_ctx))
    captures = [pcap.name]
    if s.dsb:
        subprocess.run(
            ["editcap", "--inject-secrets", f"tls,{keys}", str(pcap), str(pcap.with_suffix(".pcapng"))],
            check=True,
        )
        pcap.unlink()
        captures = [pcap.with_suffix(".pcapng").name]
    libraries = {
        n: version(n) for n in ("websockets", "python-socketio", "python-engineio", "aiohttp", "cryptography")
    }
    if s.node is not None:  # the node application's own (node, socket.io, engine.io, ...)
        libraries = app.pop("libraries")
    expected = {
        "scenario": s.name,
        "captures": captures,
        "keylog": keys.name,
        "shows": s.shows,
        "tls": {
            "version": f"TLS {s.tls.version}",  # a node scenario: what node negotiates by default
            "ciphers": s.tls.ciphers,
            "encrypt_then_mac": s.tls.etm,
            "alpn": s.tls.alpn,
        },
        "libraries": (
            libraries
            if s.node is not None
            else {"python": sys.version.split()[0], "openssl": ssl.OPENSSL_VERSION, **libraries}
        ),
        "host": HOST,
        "port": s.port,
        "recorded": dt.date.today().isoformat(),
        "command": f"python captures/tls/make_tls_captures.py --only {s.name}",
        **app,
    }
    text = json.dumps(expected, indent=1, ensure_ascii=False, default=lambda b: {"$hex": bytes(b).hex()})
    (HERE / f"{s.name}.expected.json").write_text(text + "\n", encoding="utf-8")
    print(f"recorded {captures[0]} ({(HERE / captures[0]).stat().st_size} bytes)")


README_MARK = "<!-- tls-captures -->"  # captures/README.md: from here to the end is this script's


def write_readme() -> None:
    """The TLS section of captures/README.md (captures/make_captures.py keeps it when it rewrites
    the rest): how the captures are made and their provenance."""
    rows = []
    for path in sorted(HERE.glob("*.expected.json")):
        exp = json.loads(path.read_text(encoding="utf-8"))
        cap = HERE / exp["captures"][0]
        libs = ", ".join(f"{k} {v}" for k, v in exp["libraries"].items())
        rows.append(
            f"| `tls/{cap.name}` ({cap.stat().st_size // 1024} KiB) + `tls/{exp['keylog']}` | {libs};"
            f" recorded with tcpdump | {exp['shows']} | {exp['recorded']} | `{exp['command']}` |"
        )
    section = (
        f"""{README_MARK}
## TLS captures (captures/tls/)

Recorded by `captures/tls/make_tls_captures.py` (as root, about 20 s): python servers and
clients over TLS on 127.0.0.1 with a throwaway self-signed certificate made by the script
(`cryptography`), the server's `SSLContext.keylog_filename` writing `<name>.keys` (the NSS key
log: committed on purpose, these sessions protect nothing), tcpdump on `lo` for the port.
`<name>.expected.json` is what the applications' handlers sent and received (same format as
above, plus `captures`, `keylog` and `tls`). `sio-aiohttp-tls13.pcapng` has its keys injected as a
pcapng Decryption Secrets Block (`editcap --inject-secrets tls,KEYS`), so it decrypts with no
option. tests/tls/ checks socketscope against the records and against tshark
(`-o tls.keylog_file:KEYS`), and that no secret reaches any output.

| capture | libraries (versions) | what it shows | date | command |
|---|---|---|---|---|
"""
        + "\n".join(rows)
        + "\n"
    )
    readme = HERE.parent / "README.md"
    text = readme.read_text(encoding="utf-8")
    h2 = "<!-- h2-captures -->"  # captures/h2/make_h2_captures.py's section follows, kept
    tail = "\n" + text[text.index(h2) :] if h2 in text else ""
    if README_MARK in text:
        text = text[: text.index(README_MARK)]
    readme.write_text(text.rstrip("\n") + "\n\n" + section + tail, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = make_certificate(Path(tmp))
        for s in SCENARIOS:
            if args.only is None or s.name in args.only:
                record(s, cert, key)
    write_readme()
    return 0


if __name__ == "__main__":
    sys.exit(main())
