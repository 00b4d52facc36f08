"""Small hand-built captures, one (at least) per anomaly code, from real protocol bytes.

`Capture` collects link-layer packets in time order and writes them with tests.pcapwriter;
`Tcp` is one TCP connection on it whose every segment is explicit (sequence numbers, flags,
options), so that retransmissions, holes, resets and port reuse can be put on the wire exactly.
Checksums are left at zero (socketscope does not verify them, nor does tshark by default).

`CRAFTED` (at the end) names every capture with the codes it must produce; it is what
tests/model/test_code_coverage.py runs, beside the bundled and the corpus captures.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from analyzer.pipeline import Options
from tests.pcapwriter import pcap_bytes

T0 = 1_700_000_000.0
CLIENT = (bytes([10, 0, 0, 1]), 40000)
SERVER = (bytes([10, 0, 0, 2]), 8080)
CLIENT6 = (bytes.fromhex("fd000000000000000000000000000001"), 40000)
SERVER6 = (bytes.fromhex("fd000000000000000000000000000002"), 8080)

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
PA = PSH | ACK
ETH_SRC = b"\x02\x00\x00\x00\x00\x01"
ETH_DST = b"\x02\x00\x00\x00\x00\x02"

Endpoint = tuple[bytes, int]


def tcp_header(
    src: Endpoint, dst: Endpoint, seq: int, ack: int, flags: int, options: bytes = b"", window: int = 65535
) -> bytes:
    """RFC 9293 §3.1: the header with its options padded to 32-bit words."""
    options += b"\x00" * (-len(options) % 4)
    doff = (20 + len(options)) // 4
    return (
        struct.pack(
            "!HHIIBBHHH", src[1], dst[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, doff << 4, flags, window, 0, 0
        )
        + options
    )


def ipv4(
    src: bytes, dst: bytes, payload: bytes, proto: int = 6, flags_frag: int = 0x4000, ident: int = 1
) -> bytes:
    """RFC 791 §3.1, without options."""
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, flags_frag, 64, proto, 0, src, dst)
    return head + payload


def ipv6(src: bytes, dst: bytes, payload: bytes, proto: int = 6) -> bytes:
    """RFC 8200 §3."""
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), proto, 64, src, dst) + payload


def ethernet(ip: bytes, ethertype: int = 0x0800) -> bytes:
    return ETH_DST + ETH_SRC + struct.pack("!H", ethertype) + ip


@dataclass
class Capture:
    """Link-layer packets in capture order; frame numbers start at 1."""

    t: float = T0
    packets: list[tuple[float, bytes]] = field(default_factory=list)
    linktype: int = 1

    def add(self, data: bytes, dt: float = 0.001) -> int:
        self.t = round(self.t + dt, 6)
        self.packets.append((self.t, data))
        return len(self.packets)

    def at(self, ts: float) -> None:
        """The next packet's time is `ts` plus its `dt` (PcapFlow writes its connections one at
        a time, then merges them by time)."""
        self.t = ts

    def pcap(self, **kw: object) -> bytes:
        return pcap_bytes(self.packets, linktype=self.linktype, **kw)  # type: ignore[arg-type]


class Tcp:
    """One TCP connection of a Capture. `send` puts one segment on the wire; by default at the
    sender's next sequence number, acknowledging everything the other side sent."""

    def __init__(
        self,
        cap: Capture,
        client: Endpoint = CLIENT,
        server: Endpoint = SERVER,
        isn: tuple[int, int] = (1000, 5000),
    ) -> None:
        self.cap = cap
        self.ends = {"c": client, "s": server}
        self.nxt = {"c": isn[0], "s": isn[1]}
        self.v6 = len(client[0]) == 16

    def packet(
        self, side: str, seq: int, ack: int, flags: int, payload: bytes = b"", options: bytes = b""
    ) -> bytes:
        src, dst = (self.ends["c"], self.ends["s"]) if side == "c" else (self.ends["s"], self.ends["c"])
        seg = tcp_header(src, dst, seq, ack, flags, options) + payload
        if self.v6:
            return ethernet(ipv6(src[0], dst[0], seg), 0x86DD)
        return ethernet(ipv4(src[0], dst[0], seg))

    def send(
        self,
        side: str,
        payload: bytes = b"",
        flags: int = PA,
        seq: int | None = None,
        ack: int | None = None,
        options: bytes = b"",
        dt: float = 0.001,
    ) -> int:
        """One segment; returns its frame number. `seq` is absolute (default: the next one)."""
        other = "s" if side == "c" else "c"
        s = self.nxt[side] if seq is None else seq
        a = self.nxt[other] if ack is None else ack
        if not flags & ACK and ack is None:
            a = 0
        frame = self.cap.add(self.packet(side, s, a, flags, payload, options), dt)
        end = s + len(payload) + (1 if flags & (SYN | FIN) else 0)
        if ((end - self.nxt[side]) & 0xFFFFFFFF) < 0x80000000:
            self.nxt[side] = end & 0xFFFFFFFF
        return frame

    def handshake(self, dt: float = 0.001, mss: bool = True) -> tuple[int, int, int]:
        opts = b"\x02\x04\x05\xb4" if mss else b""  # RFC 9293 §3.2: MSS 1460
        return (
            self.send("c", flags=SYN, options=opts, dt=dt),
            self.send("s", flags=SYN | ACK, options=opts, dt=dt),
            self.send("c", flags=ACK, dt=dt),
        )

    def data(self, side: str, payload: bytes, dt: float = 0.001, mss: int = 1400) -> list[int]:
        """`payload` as segments of at most `mss` bytes."""
        return [self.send(side, payload[i : i + mss], dt=dt) for i in range(0, len(payload), mss)]

    def close(self, dt: float = 0.001) -> None:
        """FIN both ways and the last ACK."""
        self.send("c", flags=FIN | ACK, dt=dt)
        self.send("s", flags=FIN | ACK, dt=dt)
        self.send("c", flags=ACK, dt=dt)


def conversation(chunks: list[tuple[str, bytes]], close: bool = True, cap: Capture | None = None) -> Capture:
    """A capture of one TCP connection: handshake, each (side, bytes) as segments, FINs."""
    cap = cap or Capture()
    tcp = Tcp(cap)
    tcp.handshake()
    for side, data in chunks:
        tcp.data(side, data)
    if close:
        tcp.close()
    return cap


# --- TCP --------------------------------------------------------------------------------------------
def tcp_retransmissions(client: Endpoint = CLIENT, server: Endpoint = SERVER) -> Capture:
    """Every kind of retransmission on one connection (analyzer/tcp/reassembly.py `segment`):
    a SYN and a SYN-ACK sent again, a duplicate, a partial overlap, a segment into a hole
    behind later data, a keep-alive (not one) and a FIN sent again."""
    cap = Capture()
    tcp = Tcp(cap, client, server)
    tcp.send("c", flags=SYN)  # frame 1
    tcp.send("c", flags=SYN, seq=1000, dt=0.01)  # 2: the SYN again
    tcp.send("s", flags=SYN | ACK)  # 3
    tcp.send("s", flags=SYN | ACK, seq=5000, dt=0.01)  # 4: the SYN-ACK again
    tcp.send("c", flags=ACK)  # 5
    req = b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\r\n"
    at = 1001  # the sequence number of req[0]
    tcp.send("c", req[:16])  # 6
    tcp.send("c", req[:16], seq=at, dt=0.5)  # 7: the same again
    tcp.send("c", req[8:24], seq=at + 8, dt=0.5)  # 8: part old, part new
    tcp.send("c", req[30:], seq=at + 30)  # 9: ahead of a hole
    tcp.send("c", req[24:30], seq=at + 24, dt=0.5)  # 10: into the hole, behind later data
    resp = b"HTTP/1.1 204 No Content\r\n\r\n"
    tcp.send("s", resp[10:], seq=5001 + 10)  # 11: ahead of a hole
    tcp.send("s", resp[:10], seq=5001, dt=0.0005)  # 12: into it at once (tshark: out-of-order)
    tcp.send("s", b"\r", seq=tcp.nxt["s"] - 1, flags=ACK, dt=1.0)  # 13: a keep-alive
    tcp.send("c", flags=FIN | ACK)  # 14
    tcp.send("c", flags=FIN | ACK, seq=tcp.nxt["c"] - 1, dt=0.3)  # 15: the FIN again
    tcp.send("s", flags=FIN | ACK)  # 16
    tcp.send("c", flags=ACK)  # 17
    return cap


def tcp_port_reuse(gap: float = 1.0, end: str = "fin") -> Capture:
    """Two connections on the same addresses and ports, one after the other (RFC 9293 §3.6)."""
    cap = Capture()
    first = Tcp(cap)
    first.handshake()
    first.data("c", b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n")
    first.data("s", b"HTTP/1.1 204 No Content\r\n\r\n")
    if end == "fin":
        first.close()
    elif end == "rst":
        first.send("c", flags=RST | ACK)
    second = Tcp(cap, isn=(90_000, 70_000))
    second.send("c", flags=SYN, options=b"\x02\x04\x05\xb4", dt=gap)
    second.send("s", flags=SYN | ACK, options=b"\x02\x04\x05\xb4")
    second.send("c", flags=ACK)
    second.data("c", b"GET /two HTTP/1.1\r\nHost: a\r\n\r\n")
    second.data("s", b"HTTP/1.1 204 No Content\r\n\r\n")
    second.close()
    return cap


# --- WebSocket / HTTP bytes -------------------------------------------------------------------------
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3
MASK = b"\x11\x22\x33\x44"


def ws_accept(key: str) -> str:
    """RFC 6455 §4.2.2: base64(SHA-1(key + GUID))."""
    guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    return base64.b64encode(hashlib.sha1((key + guid).encode()).digest()).decode()


def ws_frame(
    payload: bytes,
    opcode: int = 1,
    mask: bytes | None = None,
    fin: bool = True,
    rsv: int = 0,
) -> bytes:
    """One WebSocket frame (RFC 6455 §5.2); `rsv` is the RSV1-3 bits (0x40, 0x20, 0x10)."""
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    mbit = 0x80 if mask is not None else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def upgrade_request(target: str = "/chat", extra: str = "", key: str = WS_KEY) -> bytes:
    return (
        f"GET {target} HTTP/1.1\r\nHost: example.test:8080\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    ).encode()


def upgrade_response(extra: str = "", key: str = WS_KEY) -> bytes:
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {ws_accept(key)}\r\n{extra}\r\n"
    ).encode()


def http_response(
    status: int, body: bytes = b"", ctype: str | None = "text/plain", reason: str = "OK"
) -> bytes:
    head = f"HTTP/1.1 {status} {reason}\r\n"
    if ctype is not None:
        head += f"Content-Type: {ctype}\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


# --- Engine.IO / Socket.IO sessions, from the scenarios of tests/session/test_builder.py ------------
@dataclass
class _Request:
    ts: float
    method: str
    target: str
    body: bytes
    ctype: str | None


class PcapFlow:
    """tests/session/test_builder.py's `Flow` (same calls, same clock), written as real TCP
    connections: HTTP/1.1 requests and responses with Content-Length, WebSocket upgrades with a
    valid accept, client frames masked. The builder there is driven with records; here the same
    scenario goes through the whole pipeline."""

    def __init__(self) -> None:
        self.frame = 0
        self.ts = 1000.0
        self.events: dict[int, list[tuple[float, str, bytes]]] = {}
        self.masks = 0

    def _mask(self) -> bytes:
        """A new masking key per client frame, as RFC 6455 §5.3 wants (ws.repeated-mask-key)."""
        self.masks += 1
        return hashlib.sha1(self.masks.to_bytes(4, "big")).digest()[:4]

    def tick(self, dt: float) -> tuple[int, float]:
        self.frame += 1
        self.ts = round(self.ts + dt, 6)
        return self.frame, self.ts

    def _put(self, conn: int, ts: float, side: str, data: bytes) -> None:
        self.events.setdefault(conn, []).append((ts, side, data))

    def request(
        self, method: str, target: str, body: bytes = b"", ctype: str | None = None, dt: float = 0.001
    ) -> _Request:
        _, ts = self.tick(dt)
        return _Request(ts, method, target, body, ctype)

    def respond(
        self,
        conn: int,
        req: _Request | None,
        status: int = 200,
        body: bytes = b"",
        ctype: str = "text/plain; charset=UTF-8",
        dt: float = 0.001,
    ) -> None:
        _, ts = self.tick(dt)
        if req is not None:
            head = f"{req.method} {req.target} HTTP/1.1\r\nHost: localhost:5000\r\n"
            if req.ctype:
                head += f"Content-Type: {req.ctype}\r\n"
            if req.body or req.method == "POST":
                head += f"Content-Length: {len(req.body)}\r\n"
            self._put(conn, req.ts, "c", head.encode() + b"\r\n" + req.body)
        reason = {200: "OK", 400: "Bad Request"}.get(status, "Status")
        self._put(conn, ts, "s", http_response(status, body, ctype, reason))

    def get(self, conn: int, target: str, body: bytes, status: int = 200, ctype: str = "text/plain") -> None:
        self.respond(conn, self.request("GET", target), status, body, ctype)

    def post(self, conn: int, target: str, body: bytes, reply: bytes = b"ok", status: int = 200) -> None:
        req = self.request("POST", target, body, "text/plain;charset=UTF-8")
        self.respond(conn, req, status, reply, "text/html")

    def ws_open(self, conn: int, target: str, status: int = 101) -> None:
        _, ts = self.tick(0.001)
        self._put(conn, ts, "c", upgrade_request(target))
        if status != 101:
            _, ts = self.tick(0.001)
            self._put(
                conn,
                ts,
                "s",
                http_response(status, b'{"code":3,"message":"Bad request"}', "application/json"),
            )
            return
        _, ts = self.tick(0.001)
        self._put(conn, ts, "s", upgrade_response())

    def ws(self, conn: int, direction: Any, data: str | bytes, dt: float = 0.001) -> None:
        _, ts = self.tick(dt)
        side = "c" if direction.value == "c2s" else "s"
        raw, opcode = (data.encode(), 1) if isinstance(data, str) else (data, 2)
        self._put(conn, ts, side, ws_frame(raw, opcode, self._mask() if side == "c" else None))

    def ws_close(self, conn: int, direction: Any, code: int = 1000) -> None:
        _, ts = self.tick(0.001)
        side = "c" if direction.value == "c2s" else "s"
        self._put(conn, ts, side, ws_frame(struct.pack("!H", code), 8, self._mask() if side == "c" else None))

    def capture(self) -> Capture:
        """Every connection (client port 40000 + its number), its handshake just before its first
        bytes, merged in time order; connections stay open at the end of the capture."""
        packets: list[tuple[float, int, bytes]] = []
        for conn, events in self.events.items():
            cap = Capture()
            tcp = Tcp(
                cap, client=(CLIENT[0], 40000 + conn), isn=(1000 + conn * 100_000, 5000 + conn * 100_000)
            )
            first = min(ts for ts, _, _ in events)
            cap.at(T0 + first - 0.0004)
            tcp.handshake(dt=0.0001)
            for ts, side, data in sorted(events, key=lambda e: e[0]):
                cap.at(T0 + ts - 0.0001)
                tcp.data(side, data, dt=0.0001 / (1 + len(data) // 1400))
            packets += [(t, conn, d) for t, d in cap.packets]
        packets.sort(key=lambda p: (p[0], p[1]))
        return Capture(packets=[(t, d) for t, _, d in packets])


def scenario_capture(fn: Callable[[Any], None]) -> Callable[[], Capture]:
    def build() -> Capture:
        flow = PcapFlow()
        fn(flow)
        return flow.capture()

    build.__name__ = fn.__name__
    return build


# --- capture file, link, IP -----------------------------------------------------------------------
def _small_http() -> Capture:
    return conversation([("c", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"), ("s", http_response(204, ctype=None))])


def capture_truncated() -> bytes:
    return _small_http().pcap()[:-7]  # the last record ends early


def capture_corrupt() -> bytes:
    # a record header that claims 512 MiB (more than any block socketscope reads)
    return _small_http().pcap() + struct.pack("<IIII", int(T0) + 9, 0, 512 << 20, 512 << 20) + b"\x00" * 64


def capture_snaplen() -> bytes:
    return _small_http().pcap(orig_extra=100)  # every packet was 100 bytes longer on the wire


def capture_time_backwards() -> bytes:
    """A small exchange whose third and fifth packets are stamped before the packets ahead of them
    (as a merged or edited file can be)."""
    cap = _small_http()
    for i, back in ((2, 0.5), (4, 0.002)):
        ts, data = cap.packets[i]
        cap.packets[i] = (round(ts - back, 6), data)
    return cap.pcap()


def link_malformed() -> bytes:
    cap = _small_http()
    cap.add(ETH_DST + ETH_SRC)  # 12 bytes: no EtherType
    return cap.pcap()


def link_unsupported() -> bytes:
    cap = Capture(linktype=147)  # LINKTYPE_USER0
    cap.add(b"\x00" * 40)
    return cap.pcap()


def ip_problems() -> bytes:
    """An IPv4 fragment (MF set, RFC 791 §3.2) and an IPv4 header with IHL 4."""
    cap = _small_http()
    tcp = tcp_header(CLIENT, SERVER, 1, 0, ACK) + b"x" * 8
    cap.add(ethernet(ipv4(CLIENT[0], SERVER[0], tcp, flags_frag=0x2000, ident=7)))
    bad = bytearray(ipv4(CLIENT[0], SERVER[0], tcp))
    bad[0] = 0x44
    cap.add(ethernet(bytes(bad)))
    return cap.pcap()


# --- TCP ---------------------------------------------------------------------------------------------
def tcp_problems() -> bytes:
    """A data offset below 5, an MSS option on a data segment, a retransmission with other bytes,
    data past the FIN, and a hole never filled (RFC 9293 §3.1, §3.2, §3.10.7.4, §3.6)."""
    cap = Capture()
    tcp = Tcp(cap)
    tcp.handshake()
    req = b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\n"
    tcp.send("c", req, options=b"\x02\x04\x05\xb4")  # MSS without SYN
    tcp.send("c", b"0123456789")
    tcp.send("c", b"01234X6789", seq=tcp.nxt["c"] - 10)  # the same sequence numbers, other bytes
    tcp.send("c", b"abcdefghij", seq=tcp.nxt["c"] + 5)  # 5 bytes never captured
    bad = bytearray(tcp.packet("c", tcp.nxt["c"], tcp.nxt["s"], ACK))
    bad[14 + 20 + 12] = 4 << 4  # data offset 4
    cap.add(bytes(bad))
    tcp.send("s", b"HTTP/1.1 204 No Content\r\n\r\n")
    fin_seq = tcp.nxt["s"]
    tcp.send("s", flags=FIN | ACK)
    tcp.send("s", b"late", seq=fin_seq)  # data where the FIN was
    tcp.send("c", flags=FIN | ACK)
    return cap.pcap()


def tcp_ooo_overflow() -> bytes:
    """One byte lost, then more segments waiting behind it than the reassembly bound."""
    from analyzer.tcp.reassembly import MAX_OOO_SEGMENTS

    cap = Capture()
    tcp = Tcp(cap)
    tcp.handshake()
    tcp.send("c", b"GET / HTTP/1.1\r\nX: ")
    base = tcp.nxt["c"] + 1
    for i in range(MAX_OOO_SEGMENTS + 1):
        tcp.send("c", b"a", seq=base + i, ack=tcp.nxt["s"], dt=0.00001)
    return cap.pcap()


# --- HTTP/1.1 ------------------------------------------------------------------------------------------
REQ = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n"
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"


def http(client: bytes, server: bytes = b"", close: bool = True) -> bytes:
    chunks = [("c", client)] + ([("s", server)] if server else [])
    return conversation(chunks, close).pcap()


def http_gaps() -> bytes:
    """A gap inside a response body, then a whole response missing from the capture."""
    cap = Capture()
    tcp = Tcp(cap)
    tcp.handshake()
    tcp.send("c", REQ * 3)
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
    tcp.send("s", head + b"abc")
    tcp.send("s", b"hij", seq=tcp.nxt["s"] + 4)  # 4 body bytes never captured
    tcp.send("c", flags=ACK)  # the client has them: the hole is a gap now
    tcp.send("s", RESP, seq=tcp.nxt["s"] + len(RESP))  # the second response is lost whole
    tcp.send("c", flags=ACK)
    tcp.close()
    return cap.pcap()


def http_too_many_pending() -> bytes:
    return http(REQ * 70, RESP * 70)


def http_big_body() -> bytes:
    """A body past the 8 MiB kept for display, and a gzip body that inflates past it."""
    import gzip

    body = b"x" * ((8 << 20) + 10)
    bomb = gzip.compress(b"\0" * ((8 << 20) + 10))
    resp = http_response(200, body, "application/octet-stream")
    resp2 = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb) + bomb
    return http(REQ * 2, resp + resp2)


def http_head_too_long() -> bytes:
    big = b"GET / HTTP/1.1\r\nX: " + b"a" * (70 << 10) + b"\r\n\r\n"
    return http(big + REQ, RESP)


def http_upgrade_unanswered() -> bytes:
    """Client bytes after an upgrade request that is never answered; more than the hold bound."""
    return http(upgrade_request() + ws_frame(b"x" * (70 << 10), 2, MASK))


def http_upgrade_hold_overflow() -> bytes:
    return http(upgrade_request() + ws_frame(b"x" * (70 << 10), 2, MASK), upgrade_response())


# --- WebSocket ---------------------------------------------------------------------------------------
def cframe(payload: bytes, opcode: int = 1, **kw: Any) -> bytes:
    """A client frame with a masking key of its own (derived from the payload)."""
    key = kw.pop("mask", None) or hashlib.sha1(payload + bytes([opcode])).digest()[:4]
    return ws_frame(payload, opcode, key, **kw)


def sframe(payload: bytes, opcode: int = 1, **kw: Any) -> bytes:
    return ws_frame(payload, opcode, None, **kw)


def ws(
    *frames: tuple[str, bytes],
    request: bytes | None = None,
    response: bytes | None = None,
    close: bool = True,
) -> bytes:
    """An upgrade, then each (side, bytes) as segments."""
    chunks = [("c", request or upgrade_request()), ("s", response or upgrade_response())]
    return conversation(chunks + list(frames), close).pcap()


DEFLATE = "Sec-WebSocket-Extensions: permessage-deflate\r\n"


def deflated(data: bytes) -> bytes:
    """RFC 7692 §7.2.1: raw DEFLATE, flushed, without the trailing 00 00 ff ff."""
    import zlib

    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def ws_stream_gap() -> bytes:
    """The first bytes of a server frame never captured: the frame is lost and the decoder
    looks for the next frame header."""
    cap = Capture()
    tcp = Tcp(cap)
    tcp.handshake()
    tcp.data("c", upgrade_request())
    tcp.data("s", upgrade_response())
    tcp.send("s", sframe(b"first"))
    second = sframe(b"s" * 300)
    tcp.send("s", second[6:], seq=tcp.nxt["s"] + 6)
    tcp.send("s", sframe(b"third"))
    tcp.send("c", flags=ACK)
    tcp.close()
    return cap.pcap()


# --- bounds: what a small capture may cost (issue #16, docs/bounds.md) --------------------------------
SIO_WS_TARGET = "/socket.io/?EIO=4&transport=websocket"
SIO_OPEN = '0{"sid":"bounds","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":100000000}'
PLACEHOLDER = '{"_placeholder":true,"num":%d}'


def ws_tiny_frames(n: int = 1000, close: bool = True) -> bytes:
    """An upgrade, then `n` empty continuation frames of 2 bytes each from the server (`00 00`:
    FIN clear, opcode 0, length 0), between a text frame that opens the message and one that ends
    it (RFC 6455 §5.4): the most frame records per byte a capture can ask for."""
    body = sframe(b"first ", fin=False) + b"\x00\x00" * n + sframe(b"last", opcode=0)
    return ws(("s", body), close=close)


def sio_placeholders(repeats: int = 200, size: int = 1 << 20, attachments: int = 1) -> bytes:
    """A WebSocket-only Socket.IO session (EIO 4) whose BINARY_EVENT names the placeholder of each
    of its `attachments` binary attachments `repeats` times (socket.io-parser writes each once)."""
    from analyzer.model.common import Direction

    c, s = Direction.C2S, Direction.S2C
    flow = PcapFlow()
    flow.ws_open(1, SIO_WS_TARGET)
    flow.ws(1, s, SIO_OPEN)
    flow.ws(1, c, "40")
    flow.ws(1, s, '40{"sid":"n1"}')
    holders = ",".join(PLACEHOLDER % n for _ in range(repeats) for n in range(attachments))
    flow.ws(1, c, f'45{attachments}-["upload",{holders}]')
    for n in range(attachments):
        flow.ws(1, c, bytes((i + n) & 0xFF for i in range(256)) * (size // 256))
    return flow.capture().pcap()


def ws_inflate_bomb(messages: int = 20, size: int = 16 << 20, connections: int = 1) -> bytes:
    """`connections` WebSocket connections with permessage-deflate, each carrying `messages` binary
    server messages that inflate to `size` zero bytes (about 1000:1)."""
    one = deflated(bytes(size))
    cap = Capture()
    for k in range(connections):
        tcp = Tcp(cap, client=(CLIENT[0], 40000 + k), isn=(1000 + k, 5000 + k))
        tcp.handshake()
        tcp.data("c", upgrade_request(extra=DEFLATE))
        tcp.data("s", upgrade_response(DEFLATE))
        for _ in range(messages):
            tcp.data("s", sframe(one, 2, rsv=0x40))
        tcp.close()
    return cap.pcap()


def http_gzip_bomb(responses: int = 4, size: int = 8 << 20) -> bytes:
    """One keep-alive connection: `responses` gzip responses that each inflate to `size` bytes."""
    import gzip

    bomb = gzip.compress(bytes(size))
    resp = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb) + bomb
    return http(REQ * responses, resp * responses)


def syn_flood(n: int, rst: bool = False) -> Capture:
    """`n` SYNs (or RSTs), each of a new flow: distinct client address and port."""
    cap = Capture()
    flags = RST | ACK if rst else SYN
    for i in range(n):
        src = (bytes([10, 1, (i >> 16) & 0xFF, (i >> 8) & 0xFF]), 1024 + (i & 0xFF))
        seg = tcp_header(src, SERVER, 1000 + i, 0, flags, b"" if rst else b"\x02\x04\x05\xb4")
        cap.add(ethernet(ipv4(src[0], SERVER[0], seg)), dt=0.000001)
    return cap


def tcp_table_full(syns: int = 30) -> Capture:
    """A connection with data that stays open, a finished one, then a flood of SYNs (and bare RSTs)
    of new flows, then the first connection again: with a small table (Options.max_connections)
    the finished connection is closed early, the flood's half-open flows are evicted, the
    connection with data is kept whole."""
    cap = Capture()
    keep = Tcp(cap)
    keep.handshake()
    keep.data("c", REQ)
    keep.data("s", RESP)
    done = Tcp(cap, client=(CLIENT[0], 40001), isn=(7000, 9000))
    done.handshake()
    done.data("c", REQ)
    done.data("s", RESP)
    done.close()
    for i in range(syns):
        src = (bytes([10, 9, 0, 1 + i % 250]), 2000 + i)
        syn = tcp_header(src, SERVER, 100 + i, 0, SYN, b"\x02\x04\x05\xb4")
        cap.add(ethernet(ipv4(src[0], SERVER[0], syn)))
        if i % 10 == 0:
            rst = tcp_header((src[0], 60000 + i), SERVER, 1, 1, RST | ACK)
            cap.add(ethernet(ipv4(src[0], SERVER[0], rst)))
    keep.data("c", REQ)
    keep.data("s", RESP)
    keep.close()
    return cap


EARLY = upgrade_request() + cframe(b"too soon")


@dataclass(frozen=True)
class Crafted:
    build: Callable[[], bytes]  # the capture file
    codes: frozenset[str]  # what it must produce (at least)
    options: Options | None = None


def _c(build: Callable[[], bytes], *codes: str, options: Options | None = None) -> Crafted:
    return Crafted(build, frozenset(codes), options)


def _crafted() -> dict[str, Crafted]:
    from tests.session.test_builder import OPEN4, SCENARIOS, poll, v4

    def eio_limit(f: Any) -> None:
        """More Engine.IO packets in one polling body than the decoder takes."""
        from analyzer.protocols.engineio_polling import DEFAULT_MAX_PACKETS

        f.get(1, poll(path="/engine.io/", sid=None), OPEN4.encode())
        f.post(1, poll(path="/engine.io/"), v4(*["4x"] * (DEFAULT_MAX_PACKETS + 1)))

    found = {
        "capture-truncated": _c(capture_truncated, "capture.truncated"),
        "capture-corrupt": _c(capture_corrupt, "capture.corrupt"),
        "capture-snaplen": _c(capture_snaplen, "capture.snaplen-truncated"),
        "capture-time-backwards": _c(capture_time_backwards, "capture.time-backwards"),
        "link-malformed": _c(link_malformed, "link.malformed"),
        "link-unsupported": _c(link_unsupported, "link.unsupported"),
        "ip-problems": _c(ip_problems, "ip.fragment", "ip.malformed"),
        "tcp-retransmissions": _c(lambda: tcp_retransmissions().pcap(), "tcp.retransmission"),
        "tcp-retransmissions-ipv6": _c(
            lambda: tcp_retransmissions(CLIENT6, SERVER6).pcap(), "tcp.retransmission"
        ),
        "tcp-port-reuse": _c(lambda: tcp_port_reuse().pcap(), "tcp.port-reuse"),
        "tcp-problems": _c(
            tcp_problems,
            "tcp.malformed",
            "tcp.mss-on-non-syn",
            "tcp.overlap-mismatch",
            "tcp.gap",
            "tcp.data-after-fin",
        ),
        "tcp-ooo-overflow": _c(tcp_ooo_overflow, "tcp.out-of-order-overflow"),
        "tcp-table-full": _c(
            lambda: tcp_table_full().pcap(), "tcp.table-full", options=Options(max_connections=8)
        ),
        # HTTP/1.1 (RFC 9112)
        "http-bad-chunk": _c(
            lambda: http(
                REQ * 2, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n" + RESP
            ),
            "http.bad-chunk",
        ),
        "http-bad-content-length": _c(
            lambda: http(b"POST /x HTTP/1.1\r\nContent-Length: 12a\r\n\r\nbody bytes\r\n" + REQ),
            "http.bad-content-length",
        ),
        "http-head-tolerance": _c(
            lambda: http(
                b"GET / HTTP/1.1\r\nX-Long: one\r\n  two\r\nBad Name: x\r\nOk: 1\r\n\r\n", b"\r\n" + RESP
            ),
            "http.obs-fold",
            "http.bad-header",
            "http.leading-empty-line",
        ),
        "http-garbage": _c(
            lambda: http(
                REQ + bytes(range(1, 256)) * 4 + b"\r\n" + REQ, RESP + b"HTTP/1.1 2000 OK\r\n\r\n" + RESP
            ),
            "http.bad-request-line",
            "http.bad-status-line",
            "http.resync",
        ),
        "http-request-line-whitespace": _c(  # RFC 9112 §3, as tshark reads it (#22)
            lambda: http(b"GET    /many HTTP/1.1\r\nHost: a\r\n\r\nGET\t/tab HTTP/1.1\r\n\r\n", RESP * 2),
            "http.request-line-whitespace",
        ),
        "http-bad-transfer-encoding": _c(
            lambda: http(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"), "http.bad-transfer-encoding"
        ),
        "http-te-and-cl": _c(
            lambda: http(
                b"POST / HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"1\r\nx\r\n0\r\n\r\n",
                RESP,
            ),
            "http.te-and-cl",
        ),
        "http-bare-lf": _c(
            lambda: http(b"POST /c HTTP/1.1\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n", RESP),
            "http.bare-lf",
        ),
        "http-codings": _c(
            lambda: http(
                REQ * 2,
                b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 15\r\n\r\nnot gzip at all"
                + b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 3\r\n\r\n\x8b\x01\x80",
            ),
            "http.decode-failed",
            "http.unsupported-coding",
        ),
        "http-h2-preface": _c(  # the HTTP/2 preface after an HTTP/1.1 request (not prior knowledge)
            lambda: http(REQ + b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00"),
            "http.h2-preface",
            options=Options(decode_as={8080: "http"}),
        ),
        "http-truncated": _c(
            lambda: http(b"POST /a HTTP/1.1\r\nContent-Length: 30\r\n\r\nabc"), "http.truncated-message"
        ),
        "http-unpaired": _c(lambda: http(b"", RESP), "http.response-without-request"),
        "http-too-many-pending": _c(http_too_many_pending, "http.too-many-pending"),
        "http-unrequested-upgrade": _c(lambda: http(REQ, upgrade_response()), "http.unrequested-upgrade"),
        "http-gaps": _c(http_gaps, "http.stream-gap", "http.response-lost"),
        "http-big-body": _c(http_big_body, "http.body-too-long", "http.decoded-too-long"),
        "http-head-too-long": _c(http_head_too_long, "http.head-too-long"),
        "http-upgrade-unanswered": _c(http_upgrade_unanswered, "http.undecoded-bytes"),
        "http-upgrade-hold-overflow": _c(http_upgrade_hold_overflow, "http.upgrade-hold-overflow"),
        # WebSocket (RFC 6455, RFC 7692)
        "ws-deflate-assumed": _c(  # --decode-as: no handshake, RSV1 data frames (#16 item 5)
            lambda: conversation(
                [("c", cframe(deflated(b"hello"), rsv=0x40)), ("s", sframe(deflated(b"hi"), rsv=0x40))]
            ).pcap(),
            "ws.deflate-assumed",
            options=Options(decode_as={8080: "websocket"}),
        ),
        "ws-handshake-request": _c(
            lambda: ws(
                request=upgrade_request(extra="Sec-WebSocket-Protocol: chat\r\n")
                .replace(b"HTTP/1.1", b"HTTP/1.0")
                .replace(b"Version: 13", b"Version: 8")
                .replace(b"Host: example.test:8080\r\n", b""),
                response=upgrade_response(
                    "Sec-WebSocket-Protocol: superchat\r\nSec-WebSocket-Extensions: x-unknown\r\n"
                ),
            ),
            "ws.handshake-bad-request",
            "ws.handshake-bad-version",
            "ws.handshake-missing-header",
            "ws.handshake-bad-subprotocol",
            "ws.handshake-unoffered-extension",
        ),
        "ws-handshake-bad-deflate": _c(
            lambda: ws(
                request=upgrade_request(extra=DEFLATE),
                response=upgrade_response(
                    "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7\r\n"
                ),
            ),
            "ws.handshake-bad-deflate",
        ),
        "ws-frame-rules": _c(
            lambda: ws(
                ("c", cframe(b"ping", 9, fin=False)),
                ("c", cframe(b"?", 3)),
                ("c", cframe(b"cont", 0)),
                ("c", cframe(b"one", 1, fin=False) + cframe(b"two", 1)),
                ("c", cframe(b"rsv", 1, rsv=0x20)),
                ("c", cframe(b"\xff\xfe", 1)),
                ("c", cframe(b"zero", 1, mask=b"\x00\x00\x00\x00")),
                ("s", ws_frame(b"masked", 1, b"\x01\x02\x03\x04")),
                ("s", sframe(b"unasked", 10)),
                ("s", sframe(b"\x03", 8)),
                ("c", cframe(struct.pack("!H", 1005), 8)),
                ("c", cframe(b"after close", 1)),
                ("s", sframe(b"cut", 1, fin=False)),
                ("c", cframe(b"x" * 50)[:20]),
            ),
            "ws.control-frame-fragmented",
            "ws.reserved-opcode",
            "ws.orphan-continuation",
            "ws.interleaved-message",
            "ws.rsv-without-extension",
            "ws.invalid-utf8",
            "ws.zero-mask-key",
            "ws.server-frame-masked",
            "ws.pong-mismatch",
            "ws.invalid-close-payload",
            "ws.invalid-close-code",
            "ws.data-after-close",
            "ws.unfinished-message",
            "ws.truncated-frame",
        ),
        "ws-deflate-rules": _c(
            lambda: ws(
                (
                    "c",
                    cframe(deflated(b"part one "), 1, fin=False, rsv=0x40)
                    + cframe(deflated(b"two"), 0, rsv=0x40),
                ),
                ("c", cframe(b"p", 9, rsv=0x40)),
                ("c", cframe(b"\xff\xff\xff not deflate", 1, rsv=0x40)),
                request=upgrade_request(extra=DEFLATE),
                response=upgrade_response(DEFLATE),
            ),
            "ws.rsv1-on-continuation",
            "ws.rsv1-on-control",
            "ws.inflate-failed",
        ),
        "ws-message-too-big": _c(
            lambda: ws(("s", sframe(b"m" * 5000, 2))),
            "ws.message-too-big",
            options=Options(max_message_bytes=4096),
        ),
        "ws-stream-gap": _c(ws_stream_gap, "ws.stream-gap", "ws.resync", "tcp.gap"),
        "ws-frame-records-capped": _c(
            lambda: ws_tiny_frames(300),
            "ws.frame-records-capped",
            options=Options(max_frame_records=100),
        ),
        "ws-inflate-budget": _c(
            lambda: ws_inflate_bomb(3, 256 << 10),
            "ws.inflate-budget-exceeded",
            options=Options(inflate_budget_bytes=1 << 20),  # 64 KiB per connection
        ),
        "http-inflate-budget": _c(
            lambda: http_gzip_bomb(2, 256 << 10),
            "http.inflate-budget-exceeded",
            options=Options(inflate_budget_bytes=1 << 20),
        ),
        "ws-early-data": _c(lambda: http(EARLY, upgrade_response()), "ws.handshake-early-data"),
        "ws-not-101": _c(
            lambda: http(EARLY, http_response(400, b"no", reason="Bad Request")),
            "ws.handshake-not-101",
        ),
    }
    for name, (fn, codes) in SCENARIOS.items():
        found[f"eio-{name}"] = _c(lambda fn=fn: scenario_capture(fn)().pcap(), *codes)
    found["eio-limit"] = _c(lambda: scenario_capture(eio_limit)().pcap(), "eio.limit-exceeded")
    from tests.crafted_tls import tls_crafted

    found.update(tls_crafted(_c))
    from tests.crafted_h2 import h2_crafted

    found.update(h2_crafted(_c))
    return found


CRAFTED = _crafted()
