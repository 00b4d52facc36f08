"""Proxy handshakes put in front of a recorded connection (tests/linktypes/make_captures.py).

The client's first data packet gets the client's part of the handshake in front of its HTTP
request, the server's first data packet the server's part in front of its response (a client
that sends its request without waiting for the proxy's reply: SOCKS allows it, RFC 1928 §6 is
silent, and common clients do it); every later sequence and acknowledgment number moves by
the bytes inserted, checksums are computed again. One packet in, one packet out.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from tests.linktypes.make_captures import CLIENT_PORT, Packet, checksum

SERVER_PORT = 18002
SIG_V2 = b"\r\n\r\n\x00\r\nQUIT\n"  # PROXY protocol v2 signature (HAProxy proxy-protocol.txt §2.2)
PORT = struct.pack("!H", SERVER_PORT)
LOCALHOST = bytes([127, 0, 0, 1])


def _proxy_v2() -> bytes:
    authority = b"app.example"
    tlv = b"\x02" + struct.pack("!H", len(authority)) + authority  # PP2_TYPE_AUTHORITY
    addrs = bytes([192, 0, 2, 10]) + LOCALHOST + struct.pack("!HH", 51000, SERVER_PORT)
    return SIG_V2 + b"\x21\x11" + struct.pack("!H", len(addrs) + len(tlv)) + addrs + tlv


# file -> (client's prefix, server's prefix, the proxy's port)
FORMS: dict[str, tuple[bytes, bytes, int]] = {
    # SOCKS 4 (CONNECT, user id), 4a (0.0.0.x and a host name): openssh.com socks4.protocol
    "socks4.pcap": (b"\x04\x01" + PORT + LOCALHOST + b"alice\0", b"\x00\x5a" + b"\0" * 6, 1080),
    "socks4a.pcap": (
        b"\x04\x01" + PORT + b"\0\0\0\x01" + b"alice\0app.example\0",
        b"\x00\x5a" + PORT + LOCALHOST,
        1080,
    ),
    # SOCKS 5 (RFC 1928 §3, §4, §6): no authentication, a domain name
    "socks5.pcap": (
        b"\x05\x01\x00" + b"\x05\x01\x00\x03\x0bapp.example" + PORT,
        b"\x05\x00" + b"\x05\x00\x00\x01" + LOCALHOST + b"\x9c\x40",
        1080,
    ),
    # SOCKS 5 with username/password (RFC 1929 §2): the password must never be shown
    "socks5-auth.pcap": (
        b"\x05\x02\x00\x02" + b"\x01\x05alice\x06s3cr3t" + b"\x05\x01\x00\x01" + LOCALHOST + PORT,
        b"\x05\x02" + b"\x01\x00" + b"\x05\x00\x00\x01" + LOCALHOST + b"\x9c\x40",
        1080,
    ),
    # the PROXY protocol (HAProxy proxy-protocol.txt §2.1, §2.2): the client side only
    "proxy-v1.pcap": (b"PROXY TCP4 192.0.2.10 127.0.0.1 51000 18002\r\n", b"", SERVER_PORT),
    "proxy-v2.pcap": (_proxy_v2(), b"", SERVER_PORT),
    # HTTP CONNECT (RFC 9110 §9.3.6)
    "http-connect.pcap": (
        b"CONNECT app.example:18002 HTTP/1.1\r\nHost: app.example:18002\r\n\r\n",
        b"HTTP/1.1 200 Connection established\r\n\r\n",
        3128,
    ),
}


def build(pkts: list[Packet]) -> Iterator[tuple[str, list[Packet]]]:
    for fname, (c_prefix, s_prefix, port) in FORMS.items():
        yield fname, insert(pkts, c_prefix, s_prefix, port)


def insert(pkts: list[Packet], c_prefix: bytes, s_prefix: bytes, port: int) -> list[Packet]:
    isn: dict[bool, int] = {}
    done = {True: False, False: False}
    out = []
    for ts, ip in pkts:
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from("!H", ip, 2)[0]
        tcp = bytearray(ip[ihl:total])
        sport, dport, seq, ack = struct.unpack_from("!HHII", tcp, 0)
        thl = (tcp[12] >> 4) * 4
        flags = tcp[13]
        up = sport == CLIENT_PORT
        mine, theirs = (c_prefix, s_prefix) if up else (s_prefix, c_prefix)
        if flags & 0x02:
            isn[up] = seq
        header, payload = bytes(tcp[:thl]), bytes(tcp[thl:])
        rel = (seq - isn.get(up, seq)) & 0xFFFFFFFF
        if rel == 1 and payload and not done[up]:
            payload = mine + payload
            done[up] = True
        elif rel >= 1 and done[up]:
            seq = (seq + len(mine)) & 0xFFFFFFFF
        if flags & 0x10 and not (flags & 0x02) and (ack - isn.get(not up, ack)) & 0xFFFFFFFF > 1:
            ack = (ack + len(theirs)) & 0xFFFFFFFF
        sport, dport = (sport, port) if up else (port, dport)
        tcp = bytearray(struct.pack("!HHII", sport, dport, seq, ack) + header[12:] + payload)
        tcp[16:18] = b"\0\0"
        pseudo = ip[12:20] + struct.pack("!xBH", 6, len(tcp))
        tcp[16:18] = struct.pack("!H", checksum(pseudo + bytes(tcp)))
        hdr = bytearray(ip[:ihl])
        hdr[2:4] = struct.pack("!H", ihl + len(tcp))
        hdr[10:12] = b"\0\0"
        hdr[10:12] = struct.pack("!H", checksum(bytes(hdr)))
        out.append((ts, bytes(hdr) + bytes(tcp)))
    return out
