"""Hand-built captures for the export tests: one TCP connection carrying a WebSocket
(optionally Socket.IO) conversation, written with tests.pcapwriter.

Checksums are left at zero (socketscope does not verify them, as tshark does not by default).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from typing import Any

from tests.pcapwriter import pcap_bytes

T0 = 1_700_000_000.0
CLIENT = (bytes([10, 0, 0, 1]), 40000)
SERVER = (bytes([10, 0, 0, 2]), 8080)
SID = "craftedSID0000000001"

HANDSHAKE_REQ = (
    b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: example.test:8080\r\n"
    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
# RFC 6455 §1.3: the accept value of the sample nonce
HANDSHAKE_RESP = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)


def ws_frame(payload: bytes, opcode: int = 1, mask: bytes | None = None, fin: bool = True) -> bytes:
    """One WebSocket frame (RFC 6455 §5.2), masked when `mask` is given."""
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    mbit = 0x80 if mask is not None else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if mask is None:
        return head + payload
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


def _segment(
    src: tuple[bytes, int], dst: tuple[bytes, int], seq: int, ack: int, flags: int, payload: bytes
) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", src[1], dst[1], seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, src[0], dst[0])
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return eth + ip + tcp


def conversation(
    chunks: Iterable[tuple[str, bytes]],
    t0: float = T0,
    step: float = 0.001,
    isn: tuple[int, int] = (1000, 5000),
) -> bytes:
    """A pcap of one TCP connection: handshake, each (direction, bytes) as one segment, FINs."""
    seq = {"c2s": isn[0], "s2c": isn[1]}
    pkts: list[tuple[float, bytes]] = []
    t = t0

    def add(direction: str, flags: int, payload: bytes = b"") -> None:
        nonlocal t
        src, dst = (CLIENT, SERVER) if direction == "c2s" else (SERVER, CLIENT)
        other = "s2c" if direction == "c2s" else "c2s"
        pkts.append((t, _segment(src, dst, seq[direction], seq[other], flags, payload)))
        seq[direction] = (seq[direction] + len(payload) + (1 if flags & 0x03 else 0)) & 0xFFFFFFFF
        t += step

    add("c2s", 0x02)  # SYN
    add("s2c", 0x12)  # SYN-ACK
    add("c2s", 0x10)  # ACK
    for direction, data in chunks:
        for i in range(0, len(data), 1400):
            add(direction, 0x18, data[i : i + 1400])
    add("c2s", 0x11)  # FIN
    add("s2c", 0x11)
    add("c2s", 0x10)
    return pcap_bytes(pkts, linktype=1)


def sio_over_ws(
    events: Iterable[tuple[str, Any]], raw_messages: Iterable[tuple[str, bytes, int]] = ()
) -> bytes:
    """A Socket.IO v5 session on a WebSocket-only Engine.IO v4 connection, then `events`
    ((direction, [name, *args]) sent as 42-packets) and `raw_messages` ((direction, payload, opcode))."""
    mask = b"\x11\x22\x33\x44"
    opened = json.dumps(
        {"sid": SID, "upgrades": [], "pingInterval": 25000, "pingTimeout": 20000, "maxPayload": 1000000}
    )
    chunks: list[tuple[str, bytes]] = [
        ("c2s", HANDSHAKE_REQ),
        ("s2c", HANDSHAKE_RESP),
        ("s2c", ws_frame(b"0" + opened.encode())),
        ("c2s", ws_frame(b"40", mask=mask)),
        ("s2c", ws_frame(b'40{"sid":"nspSid"}')),
    ]
    for direction, data in events:
        text = ("42" + json.dumps(data, ensure_ascii=True)).encode()
        m = mask if direction == "c2s" else None
        chunks.append((direction, ws_frame(text, mask=m)))
    for direction, payload, opcode in raw_messages:
        m = mask if direction == "c2s" else None
        chunks.append((direction, ws_frame(payload, opcode=opcode, mask=m)))
    return conversation(chunks)
