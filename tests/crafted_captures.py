"""Small hand-built captures, one (at least) per anomaly code, from real protocol bytes.

`Capture` collects link-layer packets in time order and writes them with tests.pcapwriter;
`Tcp` is one TCP connection on it whose every segment is explicit (sequence numbers, flags,
options), so that retransmissions, holes, resets and port reuse can be put on the wire exactly.
Checksums are left at zero (socketscope does not verify them, nor does tshark by default).

`CRAFTED` (at the end) names every capture with the codes it must produce; it is what
tests/model/test_code_coverage.py runs, beside the bundled and the corpus captures.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

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
        self.isn = {"c": isn[0], "s": isn[1]}
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
def tcp_retransmissions() -> Capture:
    """Every kind of retransmission on one connection (analyzer/tcp/reassembly.py `segment`):
    a SYN and a SYN-ACK sent again, a duplicate, a partial overlap, a segment into a hole
    behind later data, a keep-alive (not one) and a FIN sent again."""
    cap = Capture()
    tcp = Tcp(cap)
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


@dataclass(frozen=True)
class Crafted:
    build: Callable[[], Capture]
    codes: frozenset[str]
    options: Options | None = None


CRAFTED: dict[str, Crafted] = {
    "tcp-retransmissions": Crafted(tcp_retransmissions, frozenset({"tcp.retransmission"})),
    "tcp-port-reuse": Crafted(tcp_port_reuse, frozenset({"tcp.port-reuse"})),
}
