"""Link -> IP -> TCP header decoding, a few calls per packet.

`struct.unpack_from` and byte indexing on the raw buffer: this runs for every packet the fast
loop (pipeline/fastloop.py) leaves to it. Ethernet, Linux cooked, loopback and raw IP are read
inline; the other link types, VLAN tags, PPPoE, MPLS and the rest are walked by
analyzer/decode/link.py, tunnels inside IP by analyzer/decode/tunnel.py. Anything that is not
TCP over IPv4/IPv6 is counted (with the reason when socketscope cannot decode it) and skipped.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from typing import Any

from analyzer.capture.pcapfile import RawPacket
from analyzer.decode.link import LINK_TYPES, walk
from analyzer.decode.tunnel import TUNNEL_PROTOCOLS, UDP_TUNNEL_PORTS, decap
from analyzer.decode.walk import DLT, ETHER, LLC, MALFORMED, NOT_TCP, UNDECODED, Walk, linktype_text
from analyzer.model.facts import LayerStats

__all__ = ["ACK", "FIN", "PSH", "RST", "SYN", "URG", "DecodeStats", "PacketDecoder", "Segment", "ip_text"]

FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20

_U16 = struct.Struct("!H")
_TCP = struct.Struct("!HHIIBBH")  # ports, seq, ack, offset/reserved, flags, window
_IPV6_EXT = frozenset((0, 43, 60, 51, 135, 139, 140, 253, 254))  # RFC 8200 §4, RFC 7045


def ip_text(raw: bytes) -> str:
    """An IPv4 or IPv6 address in its text form (RFC 5952 for IPv6)."""
    return str(ipaddress.ip_address(raw))


class Segment:
    """One decoded TCP segment. Plain slotted class: built once per packet on the hot path."""

    __slots__ = (
        "ack",
        "dport",
        "dst",
        "flags",
        "frame",
        "ip_len",
        "ip_version",
        "link_len",
        "options",
        "path",
        "payload",
        "process",
        "seq",
        "snap_cut",
        "sport",
        "src",
        "tcp_len",
        "ts",
        "ts_ns",
        "window",
        "wire_len",
    )

    def __init__(
        self,
        frame: int,
        ts: float,
        ts_ns: int,
        ip_version: int,
        src: bytes,
        dst: bytes,
        sport: int,
        dport: int,
        seq: int,
        ack: int,
        flags: int,
        window: int,
        options: bytes,
        payload: bytes,
        link_len: int,
        ip_len: int,
        tcp_len: int,
        wire_len: int,
        snap_cut: int,
        path: tuple[str, ...] | None = None,
        process: tuple[str, int] | None = None,
    ) -> None:
        self.frame = frame
        self.ts = ts
        self.ts_ns = ts_ns  # the same time in integer nanoseconds: durations are computed from it
        self.ip_version = ip_version
        self.src = src
        self.dst = dst
        self.sport = sport
        self.dport = dport
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.window = window
        self.options = options
        self.payload = payload
        self.link_len = link_len  # bytes in front of the IP header (link headers, tunnels)
        self.ip_len = ip_len  # bytes of IP header (with extension headers)
        self.tcp_len = tcp_len  # bytes of TCP header (with options)
        self.wire_len = wire_len  # original length of the packet on the wire
        self.snap_cut = snap_cut  # payload bytes missing because of the snapshot length
        # the headers in front of the IP header, outermost first; None for a lone Ethernet,
        # Linux cooked, loopback or raw-IP header (the common case, decoded inline)
        self.path = path
        self.process = process  # (name, pid) of a PKTAP header


MAX_KEPT_KINDS = 64  # distinct encapsulations and reasons kept in the stats; the rest are "other"


@dataclass(slots=True)
class DecodeStats:
    """Packets and bytes per layer, for the capture summary and the OSI overview."""

    packets: int = 0
    bytes: int = 0
    tcp_packets: int = 0
    non_ip: int = 0
    non_tcp: int = 0
    ip_fragments: int = 0
    malformed: int = 0
    unsupported_link: int = 0
    snaplen_cut: int = 0
    snaplen_first: int = 0  # the first packet cut by the snapshot length
    link_header_bytes: int = 0
    ip_header_bytes: int = 0
    tcp_header_bytes: int = 0
    tcp_payload_bytes: int = 0
    ipv4: int = 0
    ipv6: int = 0
    malformed_frames: list[tuple[int, str, str]] = field(default_factory=list)  # (frame, code, message)
    # TCP packets per encapsulation (Segment.path), and packets not decoded per reason
    paths: dict[tuple[str, ...], int] = field(default_factory=dict)
    undecoded: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> LayerStats:
        out: LayerStats = {
            "packets": self.packets,
            "bytes": self.bytes,
            "tcp_packets": self.tcp_packets,
            "non_ip": self.non_ip,
            "non_tcp": self.non_tcp,
            "ip_fragments": self.ip_fragments,
            "malformed": self.malformed,
            "unsupported_link": self.unsupported_link,
            "snaplen_truncated": self.snaplen_cut,
            "ipv4": self.ipv4,
            "ipv6": self.ipv6,
            "link_header_bytes": self.link_header_bytes,
            "ip_header_bytes": self.ip_header_bytes,
            "tcp_header_bytes": self.tcp_header_bytes,
            "tcp_payload_bytes": self.tcp_payload_bytes,
        }
        # only when there is something to say: a plain capture's document stays as it was
        if self.paths:
            out["encapsulations"] = [{"path": list(p), "tcp_packets": n} for p, n in self.paths.items()]
        if self.undecoded:
            out["not_decoded"] = [{"what": k, "packets": n} for k, n in self.undecoded.items()]
        return out

    def count(self, table: dict[Any, int], key: Any) -> None:
        if key not in table and len(table) >= MAX_KEPT_KINDS:
            key = ("other",) if isinstance(key, tuple) else "other"
        table[key] = table.get(key, 0) + 1


MAX_MALFORMED_KEPT = 1000
MAX_TUNNELS = 8  # IP headers inside IP headers, one packet
_PLAIN = {1: "ethernet", 113: "linux-sll", 276: "linux-sll2", 0: "null", 108: "loop"}
_RAW = frozenset((101, 12, 14, 228, 229))


class PacketDecoder:
    def __init__(self) -> None:
        self.stats = DecodeStats()
        # the TCP segments after the first one of the last packet (A-MSDU subframes)
        self.more: list[Segment] = []

    def _bad(self, frame: int, code: str, message: str) -> None:
        st = self.stats
        st.malformed += 1
        if len(st.malformed_frames) < MAX_MALFORMED_KEPT:
            st.malformed_frames.append((frame, code, message))

    def decode(self, pkt: RawPacket) -> Segment | None:
        if self.more:  # the last packet's, whoever did not read them
            self.more = []
        st = self.stats
        data = pkt.data
        n = len(data)
        st.packets += 1
        st.bytes += n
        lt = pkt.linktype
        # --- link layer: the common ones inline, the others walked (decode/link.py) ---
        if lt == 1:  # Ethernet II, IEEE 802.3
            if n < 14:
                self._bad(pkt.frame, "link.malformed", "Ethernet header shorter than 14 bytes")
                return None
            etype = (data[12] << 8) | data[13]
            off = 14
        elif lt == 113:  # Linux cooked capture v1: 16-byte header, protocol type at 14
            if n < 16:
                self._bad(pkt.frame, "link.malformed", "Linux SLL header shorter than 16 bytes")
                return None
            etype = (data[14] << 8) | data[15]
            off = 16
        elif lt == 276:  # Linux cooked capture v2: 20-byte header, protocol type at 0
            if n < 20:
                self._bad(pkt.frame, "link.malformed", "Linux SLL2 header shorter than 20 bytes")
                return None
            etype = (data[0] << 8) | data[1]
            off = 20
        elif lt in (0, 108):  # BSD loopback: 4-byte address family, host order (NULL) or network (LOOP)
            if n < 4:
                self._bad(pkt.frame, "link.malformed", "loopback header shorter than 4 bytes")
                return None
            fam = struct.unpack_from(">I" if lt == 108 else "<I", data, 0)[0]
            if fam > 0xFFFF and lt == 0:  # written on a big-endian host
                fam = struct.unpack_from(">I", data, 0)[0]
            ipv = 4 if fam == 2 else 6 if fam in (10, 24, 28, 30) else 0
            return self._network(pkt, ipv, 4, n, None, None) if ipv else self._non_ip()
        elif lt in _RAW:  # raw IP: the version nibble tells
            ipv = (data[0] >> 4) if n else 0
            return self._network(pkt, ipv, 0, n, None, None) if ipv in (4, 6) else self._non_ip()
        elif lt in LINK_TYPES:
            return self._walked(pkt, DLT, lt)
        else:
            st.unsupported_link += 1
            st.count(st.undecoded, f"link type {linktype_text(lt)}")
            return None
        if etype == 0x0800:
            return self._network(pkt, 4, off, n, None, None)
        if etype == 0x86DD:
            return self._network(pkt, 6, off, n, None, None)
        # VLAN tags, PPPoE, MPLS, LLC, ... (and ARP and the like, which are not IP)
        return self._walked(pkt, ETHER, 0) if lt == 1 else self._walked(pkt, DLT, lt)

    def _non_ip(self) -> Segment | None:
        self.stats.non_ip += 1
        return None

    def _stopped(self, frame: int, w: Walk, inner: bool) -> None:
        """A walk ended short of an IP (or a tunnel's inner IP) header: count why."""
        assert w.stop is not None
        how, why = w.stop
        st = self.stats
        if how == MALFORMED:
            self._bad(frame, "link.malformed", why)
            return
        if how == NOT_TCP or inner:
            st.non_tcp += 1
        else:
            st.non_ip += 1
        if how == UNDECODED:
            st.count(st.undecoded, why)

    def _walked(self, pkt: RawPacket, kind: int, value: int) -> Segment | None:
        data = pkt.data
        w = Walk(data, len(data))
        off = walk(w, kind, value, 0)
        seg = None
        if off < 0:
            self._stopped(pkt.frame, w, False)
        else:
            seg = self._network(pkt, data[off] >> 4, off, w.end, w.path, w.process)
        for start, end in w.more:  # A-MSDU: each subframe has its own LLC header and packet
            sub = Walk(data, end, w.more_path)
            o = walk(sub, LLC, 0, start)
            if o < 0:
                self._stopped(pkt.frame, sub, False)
                continue
            s = self._network(pkt, data[o] >> 4, o, sub.end, sub.path, w.process)
            if s is not None:
                if seg is None:
                    seg = s
                else:
                    self.more.append(s)
        return seg

    def _network(
        self,
        pkt: RawPacket,
        ipv: int,
        off: int,
        end: int,
        path: tuple[str, ...] | None,
        process: tuple[str, int] | None,
    ) -> Segment | None:
        """The IP header at `off` (version `ipv`), through tunnels (decode/tunnel.py), to TCP."""
        data = pkt.data
        tunnels = 0
        while True:
            ip = self._ip(pkt, ipv, off, end, not tunnels)
            if ip is None:
                return None
            proto, l4 = ip[0], ip[4]
            if proto == 6:
                break
            if proto not in TUNNEL_PROTOCOLS or (
                proto == 17
                and (
                    l4 + 4 > ip[5]
                    or not {_U16.unpack_from(data, l4)[0], _U16.unpack_from(data, l4 + 2)[0]}
                    & UDP_TUNNEL_PORTS
                )
            ):
                self.stats.non_tcp += 1
                return None
            if tunnels >= MAX_TUNNELS:
                self.stats.non_tcp += 1
                self.stats.count(self.stats.undecoded, f"more than {MAX_TUNNELS} tunnels nested")
                return None
            outer = path if path is not None else ((_PLAIN[pkt.linktype],) if pkt.linktype in _PLAIN else ())
            w = Walk(data, ip[5], (*outer, "ipv4" if ipv == 4 else "ipv6"))
            o = walk(w, *decap(w, proto, l4))
            if o < 0:
                self._stopped(pkt.frame, w, True)
                return None
            path, end, off, ipv = w.path, w.end, o, data[o] >> 4
            tunnels += 1
        return self._tcp(pkt, ip, off, path, process)

    def _ip(
        self, pkt: RawPacket, ipv: int, off: int, end_in: int, outer: bool
    ) -> tuple[int, bytes, bytes, int, int, int, int] | None:
        """The IP header at `off`: (protocol, src, dst, header length, transport offset, end of
        the IP packet in the buffer, end the IP header declares (0: unknown))."""
        st = self.stats
        data = pkt.data
        n = end_in
        if ipv == 4:  # RFC 791 §3.1
            if n < off + 20 or data[off] >> 4 != 4:
                self._bad(pkt.frame, "ip.malformed", "IPv4 header cut short or wrong version")
                return None
            ihl = (data[off] & 0x0F) * 4
            total = (data[off + 2] << 8) | data[off + 3]
            if ihl < 20 or n < off + ihl:
                self._bad(pkt.frame, "ip.malformed", f"IPv4 header length {ihl} is invalid")
                return None
            if total == 0:  # TSO on the capturing host leaves total length 0
                end, declared = n, 0
            elif total < ihl:
                self._bad(pkt.frame, "ip.malformed", f"IPv4 total length {total} below header length")
                return None
            else:
                end = declared = off + total  # trims Ethernet padding
            frag = ((data[off + 6] << 8) | data[off + 7]) & 0x3FFF  # MF flag + fragment offset
            proto = data[off + 9]
            src = data[off + 12 : off + 16]
            dst = data[off + 16 : off + 20]
            if outer:
                st.ipv4 += 1
            if frag:
                st.ip_fragments += 1
                self._bad(pkt.frame, "ip.fragment", "IPv4 fragment (not reassembled)")
                return None
            ip_len = ihl
        else:  # RFC 8200 §3, §4
            if n < off + 40 or data[off] >> 4 != 6:
                self._bad(pkt.frame, "ip.malformed", "IPv6 header cut short or wrong version")
                return None
            plen = (data[off + 4] << 8) | data[off + 5]
            proto = data[off + 6]
            src = data[off + 8 : off + 24]
            dst = data[off + 24 : off + 40]
            end = declared = off + 40 + plen if plen else n  # jumbograms (plen 0) run to the end
            if not plen:
                declared = 0
            if outer:
                st.ipv6 += 1
            p = off + 40
            while proto in _IPV6_EXT or proto == 44:
                if p + 8 > n:
                    self._bad(pkt.frame, "ip.malformed", "IPv6 extension header cut short")
                    return None
                if proto == 44:  # Fragment header §4.5: skip unless an atomic fragment
                    fo = ((data[p + 2] << 8) | data[p + 3]) & 0xFFF9
                    if fo:
                        st.ip_fragments += 1
                        self._bad(pkt.frame, "ip.fragment", "IPv6 fragment (not reassembled)")
                        return None
                    proto = data[p]
                    p += 8
                elif proto == 51:  # AH: length in 4-byte units minus 2 (RFC 4302 §2.2)
                    proto, hl = data[p], (data[p + 1] + 2) * 4
                    p += hl
                else:  # length in 8-byte units, not counting the first 8 (RFC 8200 §4.3)
                    proto, hl = data[p], (data[p + 1] + 1) * 8
                    p += hl
            ip_len = p - off
        if end > n:
            end = n  # snaplen-cut: the TCP payload is short; counted in _tcp
        return proto, src, dst, ip_len, off + ip_len, end, declared

    def _tcp(
        self,
        pkt: RawPacket,
        ip: tuple[int, bytes, bytes, int, int, int, int],
        ip_off: int,
        path: tuple[str, ...] | None,
        process: tuple[str, int] | None,
    ) -> Segment | None:
        """The TCP header (RFC 9293 §3.1) behind the IP header at `ip_off`."""
        st = self.stats
        data = pkt.data
        _proto, src, dst, ip_len, off, end, declared = ip
        if end < off + 20:
            self._bad(pkt.frame, "tcp.malformed", "TCP header cut short")
            return None
        sport, dport, seq, ack, doff, flags, window = _TCP.unpack_from(data, off)
        thl = (doff >> 4) * 4
        if thl < 20 or off + thl > end:
            self._bad(pkt.frame, "tcp.malformed", f"TCP data offset {thl} is invalid")
            return None
        options = data[off + 20 : off + thl] if thl > 20 else b""
        payload = data[off + thl : end]
        snap_cut = 0
        n = len(data)
        if pkt.orig_len > n:
            st.snaplen_cut += 1
            if not st.snaplen_first:
                st.snaplen_first = pkt.frame
            # the IP length says how much payload there should have been
            snap_cut = max(0, declared - n) if declared else pkt.orig_len - n
        st.tcp_packets += 1
        st.link_header_bytes += ip_off
        st.ip_header_bytes += ip_len
        st.tcp_header_bytes += thl
        st.tcp_payload_bytes += len(payload)
        if path is not None:
            st.count(st.paths, path)
        return Segment(
            pkt.frame,
            pkt.ts,
            pkt.ts_ns,
            4 if len(src) == 4 else 6,
            src,
            dst,
            sport,
            dport,
            seq,
            ack,
            flags & 0xFF | ((doff & 1) << 8),
            window,
            options,
            payload,
            ip_off,
            ip_len,
            thl,
            pkt.orig_len,
            snap_cut,
            path,
            process,
        )


def parse_tcp_options(options: bytes) -> dict[str, object]:
    """MSS, window scale, SACK permitted and timestamps of a TCP header (RFC 9293 §3.2, RFC 7323)."""
    out: dict[str, object] = {}
    i, n = 0, len(options)
    while i < n:
        kind = options[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= n:
            break
        length = options[i + 1]
        if length < 2 or i + length > n:
            break
        body = options[i + 2 : i + length]
        if kind == 2 and length == 4:
            out["mss"] = _U16.unpack(body)[0]
        elif kind == 3 and length == 3:
            out["window_scale"] = body[0]
        elif kind == 4 and length == 2:
            out["sack_permitted"] = True
        elif kind == 8 and length == 10:
            tsval, tsecr = struct.unpack("!II", body)
            out["timestamps"] = {"tsval": tsval, "tsecr": tsecr}
        i += length
    return out


__all__ += ["parse_tcp_options"]
