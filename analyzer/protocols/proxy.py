"""Proxy handshakes at the start of a TCP connection, sans-IO: SOCKS 4 and 4a, SOCKS 5 (RFC 1928,
with RFC 1929 username/password), and the PROXY protocol v1 and v2 (HAProxy proxy-protocol.txt).

`detect(first_client_bytes)` names the handshake a connection starts with; a `ProxyHandshake`
then takes each direction's bytes in stream order (`feed`) and says how many of them belong to
the handshake; what follows is the application's, to be decoded as if the proxy were not there.
Each direction's handshake is parsed on its own (a client may send its request before the
proxy's reply, and its first HTTP bytes with it). Every length the bytes give is bounded by the
specification (a SOCKS field by its one-byte length, a PROXY v1 line by 107 bytes, a v2 header
by its 16-bit length). A password is never kept: only its length.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Literal

from analyzer.model.common import Direction
from analyzer.model.facts import Endpoint, ProxyFacts

__all__ = ["V2_SIGNATURE", "ProxyHandshake", "detect"]

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"  # proxy-protocol.txt §2.2
V1_MAX = 107  # the longest v1 line, CRLF included (§2.1)
_MORE, _BAD = -1, -2  # a parser needs more bytes / the bytes are not the handshake
SOCKS4_REPLIES = {90: "granted", 91: "rejected", 92: "no identd", 93: "identd mismatch"}
SOCKS5_REPLIES = {  # RFC 1928 §6
    0: "succeeded",
    1: "general failure",
    2: "not allowed by ruleset",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}
SOCKS5_METHODS = {0: "none", 1: "gssapi", 2: "username/password", 0xFF: "no acceptable method"}
COMMANDS = {1: "connect", 2: "bind", 3: "udp associate"}


def detect(data: bytes) -> str | None:
    """The proxy handshake the client's first bytes begin, if any."""
    if data.startswith(V2_SIGNATURE[: len(data)]) and len(data) >= 6:
        return "proxy-v2"
    if data.startswith(b"PROXY "):
        return "proxy-v1"
    n = len(data)
    if n >= 3 and data[0] == 5 and 1 <= data[1] <= 16 and n >= 2 + data[1]:
        # SOCKS 5 greeting: version, NMETHODS, METHODS (RFC 1928 §3); few methods exist
        methods = data[2 : 2 + data[1]]
        if all(m <= 3 or 0x80 <= m <= 0xFE for m in methods):
            return "socks5"
    if n >= 9 and data[0] == 4 and data[1] in (1, 2) and b"\0" in data[8 : 8 + 256]:
        return "socks4"  # VN 4, CD connect/bind, port, address, USERID NUL
    return None


def _endpoint(ip: bytes, port: int) -> Endpoint:
    return {"ip": str(ipaddress.ip_address(ip)), "port": port}


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace")


class ProxyHandshake:
    """One connection's proxy handshake, both directions."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol  # "socks4" (becomes "socks4a"), "socks5", "proxy-v1", "proxy-v2"
        self.info: ProxyFacts = {"protocol": protocol}
        self._buf = {Direction.C2S: bytearray(), Direction.S2C: bytearray()}
        self.taken = {Direction.C2S: 0, Direction.S2C: 0}  # bytes that were the handshake
        # a side is done when its part is over; PROXY headers have no server part
        self.done = {Direction.C2S: False, Direction.S2C: protocol.startswith("proxy")}
        self.failed: str | None = None  # why the bytes are not the handshake after all

    def feed(self, d: Direction, data: bytes) -> int:
        """Take the next bytes of direction `d`; returns how many of them were the handshake
        (all of them while it goes on, fewer when it ended inside them). Nothing once failed."""
        if self.done[d] or self.failed:
            return 0
        buf = self._buf[d]
        before = len(buf)
        buf += data
        parse = _PARSERS[(self.protocol, d)]
        used = parse(self, bytes(buf))
        if used == _MORE:
            if len(buf) > 70000:  # more than any of these handshakes can be
                self.fail("handshake longer than the protocol allows")
                return 0
            return len(data)
        if used == _BAD:
            if not self.failed:
                self.fail("not a well-formed handshake")
            return 0
        self.done[d] = True
        self.taken[d] = used
        self._buf[d] = bytearray()
        return max(0, used - before)

    def fail(self, why: str) -> None:
        self.failed = why
        self.info["error"] = why

    def gap(self, d: Direction) -> None:
        if not self.done[d] and not self.failed:
            self.fail("bytes of the handshake were not captured")

    @property
    def finished(self) -> bool:
        return self.done[Direction.C2S] and self.done[Direction.S2C]

    def to_dict(self) -> ProxyFacts:
        out = self.info.copy()
        out["complete"] = self.finished and not self.failed
        out["handshake_bytes"] = {"c2s": self.taken[Direction.C2S], "s2c": self.taken[Direction.S2C]}
        return out

    # -- SOCKS 4 / 4a --
    def _socks4_request(self, b: bytes) -> int:
        """VN 4, CD, DSTPORT, DSTIP, USERID NUL; 4a: DSTIP 0.0.0.x (x != 0), then HOST NUL."""
        if len(b) < 9:
            return _MORE
        end = b.find(b"\0", 8, 8 + 256)
        if end < 0:
            return _MORE if len(b) < 8 + 256 else _BAD
        port = struct.unpack_from("!H", b, 2)[0]
        self.info["command"] = COMMANDS.get(b[1], str(b[1]))
        if b[8:end]:
            self.info["user"] = _text(b[8:end])
        if b[4:7] == b"\0\0\0" and b[7]:  # SOCKS 4a
            host_end = b.find(b"\0", end + 1, end + 1 + 256)
            if host_end < 0:
                return _MORE if len(b) < end + 1 + 256 else _BAD
            self.protocol = self.info["protocol"] = "socks4a"
            self.info["target"] = {"host": _text(b[end + 1 : host_end]), "port": port}
            return host_end + 1
        self.info["target"] = {"host": str(ipaddress.ip_address(b[4:8])), "port": port}
        return end + 1

    def _socks4_reply(self, b: bytes) -> int:
        """VN 0, CD (90 granted), DSTPORT, DSTIP: 8 bytes."""
        if len(b) < 8:
            return _MORE
        if b[0] != 0:
            return _BAD
        self.info["reply"] = SOCKS4_REPLIES.get(b[1], str(b[1]))
        return 8

    # -- SOCKS 5 --
    def _socks5_request(self, b: bytes) -> int:
        """Greeting (§3), username/password if the client then sends version 1 (RFC 1929 §2),
        then the request: VER 5, CMD, RSV, ATYP, address, port (§4)."""
        if len(b) < 2:
            return _MORE
        n = 2 + b[1]
        if len(b) < n:
            return _MORE
        if 2 in b[2:n] and len(b) > n and b[n] == 1:
            if len(b) < n + 2:
                return _MORE
            ulen = b[n + 1]
            if len(b) < n + 3 + ulen:
                return _MORE
            plen = b[n + 2 + ulen]
            if len(b) < n + 3 + ulen + plen:
                return _MORE
            self.info["user"] = _text(b[n + 2 : n + 2 + ulen])  # the password is not kept
            n += 3 + ulen + plen
        addr = self._socks5_address(b, n, "target")
        if addr < 0:
            return addr
        self.info["command"] = COMMANDS.get(b[n + 1], str(b[n + 1]))
        return addr

    def _socks5_address(self, b: bytes, n: int, key: Literal["target", "bound"]) -> int:
        """VER CMD RSV ATYP DST.ADDR DST.PORT at `n` (RFC 1928 §4, §5): the end, or _MORE/_BAD."""
        if len(b) < n + 5:
            return _MORE
        if b[n] != 5:
            return _BAD
        atyp = b[n + 3]
        if atyp == 1:
            end, host = n + 10, b[n + 4 : n + 8]
        elif atyp == 4:
            end, host = n + 22, b[n + 4 : n + 20]
        elif atyp == 3:
            end, host = n + 7 + b[n + 4], b[n + 5 : n + 5 + b[n + 4]]
        else:
            return _BAD
        if len(b) < end:
            return _MORE
        port = struct.unpack_from("!H", b, end - 2)[0]
        name = _text(host) if atyp == 3 else str(ipaddress.ip_address(host))
        self.info[key] = {"host": name, "port": port}
        return end

    def _socks5_reply(self, b: bytes) -> int:
        """Method selection (§3), the username/password status (RFC 1929 §2), the reply (§6)."""
        if len(b) < 2:
            return _MORE
        if b[0] != 5:
            return _BAD
        method = b[1]
        self.info["auth"] = SOCKS5_METHODS.get(method, f"0x{method:02x}")
        n = 2
        if method == 0xFF:
            self.info["reply"] = "no acceptable method"
            return 2
        if method == 2:
            if len(b) < 4:
                return _MORE
            if b[3]:
                self.info["reply"] = "authentication failed"
                return 4
            n = 4
        elif method != 0:  # GSSAPI and private methods wrap what follows: not followed
            self.fail(f"SOCKS 5 method {self.info['auth']} is not decoded")
            return _BAD
        if len(b) < n + 2:
            return _MORE
        rep = b[n + 1]
        end = self._socks5_address(b, n, "bound")
        if end >= 0:
            self.info["reply"] = SOCKS5_REPLIES.get(rep, str(rep))
        return end

    # -- PROXY protocol --
    def _proxy_v1(self, b: bytes) -> int:
        """`PROXY TCP4|TCP6|UNKNOWN src dst sport dport\\r\\n`, at most 107 bytes (§2.1)."""
        end = b.find(b"\r\n", 0, V1_MAX)
        if end < 0:
            return _MORE if len(b) < V1_MAX else _BAD
        parts = b[:end].split(b" ")
        if parts[1:2] == [b"UNKNOWN"]:
            self.info["family"] = "unknown"
            return end + 2
        if len(parts) != 6 or parts[1] not in (b"TCP4", b"TCP6"):
            return _BAD
        try:
            src, dst = ipaddress.ip_address(parts[2].decode()), ipaddress.ip_address(parts[3].decode())
            sport, dport = int(parts[4]), int(parts[5])
        except (ValueError, UnicodeDecodeError):
            return _BAD
        if not (0 <= sport <= 0xFFFF and 0 <= dport <= 0xFFFF):
            return _BAD
        self.info["family"] = parts[1].decode().lower()
        self.info["original_client"] = {"ip": str(src), "port": sport}
        self.info["original_server"] = {"ip": str(dst), "port": dport}
        return end + 2

    def _proxy_v2(self, b: bytes) -> int:
        """Signature, version 2 and command (LOCAL 0, PROXY 1), family and transport, length,
        addresses, TLVs (§2.2); PP2_TYPE_AUTHORITY (0x02) is the host name the client asked for."""
        if len(b) < 16:
            return _MORE
        if b[:12] != V2_SIGNATURE or b[12] >> 4 != 2:
            return _BAD
        end: int = 16 + struct.unpack_from("!H", b, 14)[0]
        if len(b) < end:
            return _MORE
        self.info["command"] = "local" if b[12] & 0xF == 0 else "proxy"
        fam, body = b[13], b[16:end]
        p = 0
        if fam in (0x11, 0x12) and len(body) >= 12:  # TCP/UDP over IPv4
            self._v2_addresses(body[0:4], body[4:8], body[8:12])
            p = 12
        elif fam in (0x21, 0x22) and len(body) >= 36:  # TCP/UDP over IPv6
            self._v2_addresses(body[0:16], body[16:32], body[32:36])
            p = 36
        elif fam in (0x31, 0x32):  # UNIX sockets: two 108-byte paths
            p = min(216, len(body))
        self.info["family"] = {0x11: "tcp4", 0x21: "tcp6", 0x12: "udp4", 0x22: "udp6"}.get(
            fam, f"0x{fam:02x}"
        )
        while p + 3 <= len(body):
            ttype, tlen = body[p], int(struct.unpack_from("!H", body, p + 1)[0])
            if ttype == 0x02 and p + 3 + tlen <= len(body):
                self.info["authority"] = _text(body[p + 3 : p + 3 + tlen])
            p += 3 + tlen
        return end

    def _v2_addresses(self, src: bytes, dst: bytes, ports: bytes) -> None:
        sport, dport = struct.unpack("!HH", ports)
        self.info["original_client"] = _endpoint(src, sport)
        self.info["original_server"] = _endpoint(dst, dport)


_PARSERS = {
    ("socks4", Direction.C2S): ProxyHandshake._socks4_request,
    ("socks4", Direction.S2C): ProxyHandshake._socks4_reply,
    ("socks4a", Direction.C2S): ProxyHandshake._socks4_request,
    ("socks4a", Direction.S2C): ProxyHandshake._socks4_reply,
    ("socks5", Direction.C2S): ProxyHandshake._socks5_request,
    ("socks5", Direction.S2C): ProxyHandshake._socks5_reply,
    ("proxy-v1", Direction.C2S): ProxyHandshake._proxy_v1,
    ("proxy-v2", Direction.C2S): ProxyHandshake._proxy_v2,
}
