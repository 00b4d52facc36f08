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


# SOCKS handshakes message by message, each in its own packet after the TCP handshake (what
# tshark's SOCKS dissector follows): file -> (client's messages, server's messages), alternating
STEPS: dict[str, tuple[list[bytes], list[bytes]]] = {
    "socks4a-steps.pcap": (
        [b"\x04\x01" + PORT + b"\0\0\0\x01" + b"alice\0app.example\0"],
        [b"\x00\x5a" + PORT + LOCALHOST],
    ),
    "socks5-auth-steps.pcap": (
        [b"\x05\x02\x00\x02", b"\x01\x05alice\x06s3cr3t", b"\x05\x01\x00\x03\x0bapp.example" + PORT],
        [b"\x05\x02", b"\x01\x00", b"\x05\x00\x00\x01" + LOCALHOST + b"\x9c\x40"],
    ),
}


def build(pkts: list[Packet]) -> Iterator[tuple[str, list[Packet]]]:
    for fname, (c_prefix, s_prefix, port) in FORMS.items():
        yield fname, insert(pkts, c_prefix, s_prefix, port)
    for fname, (c_msgs, s_msgs) in STEPS.items():
        yield fname, insert_steps(pkts, c_msgs, s_msgs, 1080)


def insert_steps(pkts: list[Packet], c_msgs: list[bytes], s_msgs: list[bytes], port: int) -> list[Packet]:
    """The messages in packets of their own after the TCP handshake (the first three packets);
    the packets after them have their numbers moved by the bytes inserted."""
    c_len, s_len = sum(map(len, c_msgs)), sum(map(len, s_msgs))
    out = [(ts, _tcp(ip, 0, 0, port)) for ts, ip in pkts[:3]]
    syn, synack = pkts[0][1], pkts[1][1]
    c_seq = struct.unpack_from("!I", syn, (syn[0] & 0xF) * 4 + 4)[0] + 1
    s_seq = struct.unpack_from("!I", synack, (synack[0] & 0xF) * 4 + 4)[0] + 1
    ts = pkts[2][0]
    for k in range(max(len(c_msgs), len(s_msgs))):
        for up, msgs in ((True, c_msgs), (False, s_msgs)):
            if k < len(msgs):
                ts += 1e-5
                out.append(
                    (ts, _message(syn, up, c_seq if up else s_seq, s_seq if up else c_seq, msgs[k], port))
                )
                if up:
                    c_seq += len(msgs[k])
                else:
                    s_seq += len(msgs[k])
    for ts, ip in pkts[3:]:
        up = struct.unpack_from("!H", ip, (ip[0] & 0xF) * 4)[0] == CLIENT_PORT
        out.append((ts, _tcp(ip, c_len if up else s_len, s_len if up else c_len, port)))
    return out


def _message(syn: bytes, up: bool, seq: int, ack: int, payload: bytes, port: int) -> bytes:
    """A PSH/ACK packet of one direction carrying `payload` (addresses from the client's SYN)."""
    src, dst = (syn[12:16], syn[16:20]) if up else (syn[16:20], syn[12:16])
    sport, dport = (CLIENT_PORT, port) if up else (port, CLIENT_PORT)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, 0x18, 65535, 0, 0)
    hdr = bytearray(syn[:20])
    hdr[12:20] = src + dst
    hdr[0] = 0x45
    return _checksummed(bytes(hdr), tcp + payload)


def _tcp(ip: bytes, seq_delta: int, ack_delta: int, port: int) -> bytes:
    """The packet with its sequence and acknowledgment numbers moved and the server's port set."""
    ihl = (ip[0] & 0x0F) * 4
    tcp = bytearray(ip[ihl : struct.unpack_from("!H", ip, 2)[0]])
    sport, dport, seq, ack = struct.unpack_from("!HHII", tcp, 0)
    up = sport == CLIENT_PORT
    sport, dport = (sport, port) if up else (port, dport)
    ack = ack + ack_delta if tcp[13] & 0x10 else ack
    tcp[0:12] = struct.pack("!HHII", sport, dport, (seq + seq_delta) & 0xFFFFFFFF, ack & 0xFFFFFFFF)
    return _checksummed(ip[:ihl], bytes(tcp))


def _checksummed(iphdr: bytes, tcp: bytes) -> bytes:
    """The IPv4 header and TCP segment with their lengths and checksums computed again."""
    seg = bytearray(tcp)
    seg[16:18] = b"\0\0"
    pseudo = iphdr[12:20] + struct.pack("!xBH", 6, len(seg))
    seg[16:18] = struct.pack("!H", checksum(pseudo + bytes(seg)))
    hdr = bytearray(iphdr)
    hdr[2:4] = struct.pack("!H", len(hdr) + len(seg))
    hdr[10:12] = b"\0\0"
    hdr[10:12] = struct.pack("!H", checksum(bytes(hdr)))
    return bytes(hdr) + bytes(seg)


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
        tcp = struct.pack("!HHII", sport, dport, seq, ack) + header[12:] + payload
        out.append((ts, _checksummed(ip[:ihl], tcp)))
    return out
