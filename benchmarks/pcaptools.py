"""Small classic-pcap utilities for the benchmark: count, cut, and scale captures.

Only the classic pcap format (the one tcpdump writes) is handled, in both byte orders and
with micro- or nanosecond timestamps (pcap-savefile(5)).  These helpers are measuring
instruments, not the analyzer: they read record headers and, for ``replicate``, the
Ethernet / IPv4 / IPv6 / TCP headers needed to rotate client ports.

``prefix``     the first records of a capture, up to a byte or packet budget (whole records).
``replicate``  copies of a capture one after another until a byte budget is reached.  Copy
               ``k`` has its timestamps shifted by ``k * (duration + 1 s)`` and the client port
               of every TCP segment (the port that is not a server port) rotated inside the
               Linux ephemeral range 32768-60999 by ``k * 2003``, with the TCP checksum
               updated incrementally (RFC 1624 eq. 3), so every connection of every copy is
               a distinct 4-tuple and keeps its checksum status (valid stays valid).
``stats``      packets, bytes, first/last timestamp, records longer than 65535 bytes and the
               TCP payload bytes on the wire (from the IP length fields, so it is right even for
               records cut short by the snap length).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "EPHEMERAL_HIGH",
    "EPHEMERAL_LOW",
    "CaptureStats",
    "PcapFormatError",
    "PcapHeader",
    "iter_records",
    "prefix",
    "read_header",
    "replicate",
    "rotate_port",
    "stats",
    "syn_server_ports",
    "tcp_checksum_ok",
]

MAGIC_US = 0xA1B2C3D4
MAGIC_NS = 0xA1B23C4D
EPHEMERAL_LOW, EPHEMERAL_HIGH = 32768, 60999  # Linux net.ipv4.ip_local_port_range default
PORT_STEP = 2003
DLT_EN10MB = 1
SCAPY_MTU = 0xFFFF  # scapy.data.MTU: PcapReader keeps at most this many bytes of a record


class PcapFormatError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class PcapHeader:
    raw: bytes  # the 24-byte global header, copied as is into derived files
    endian: str  # "<" or ">"
    nanoseconds: bool
    linktype: int

    @property
    def ticks(self) -> int:
        return 1_000_000_000 if self.nanoseconds else 1_000_000


@dataclass(slots=True)
class CaptureStats:
    packets: int = 0
    bytes: int = 0  # file size
    captured_bytes: int = 0  # sum of record lengths (caplen)
    first_ts: float | None = None
    last_ts: float | None = None
    records_over_64k: int = 0  # caplen > 65535: scapy's PcapReader keeps only the first 65535
    bytes_beyond_64k: int = 0
    tcp_segments: int = 0
    tcp_payload_segments: int = 0
    tcp_payload_bytes: int = 0  # from IP lengths (on the wire)

    @property
    def duration(self) -> float:
        if self.first_ts is None or self.last_ts is None:
            return 0.0
        return self.last_ts - self.first_ts


def read_header(f: BinaryIO) -> PcapHeader:
    raw = f.read(24)
    if len(raw) < 24:
        raise PcapFormatError("shorter than a pcap global header")
    for endian in ("<", ">"):
        (magic,) = struct.unpack(endian + "I", raw[:4])
        if magic in (MAGIC_US, MAGIC_NS):
            linktype = struct.unpack(endian + "I", raw[20:24])[0] & 0x0FFFFFFF
            return PcapHeader(bytes(raw), endian, magic == MAGIC_NS, linktype)
    raise PcapFormatError("not a classic pcap file (pcapng is not handled by these tools)")


def iter_records(path: str | Path) -> Iterator[tuple[PcapHeader, bytes, bytes]]:
    """Yield (global header, 16-byte record header, record data) for each record."""
    with open(path, "rb", buffering=1 << 20) as f:
        hdr = read_header(f)
        read = f.read
        while True:
            rh = read(16)
            if len(rh) < 16:
                return
            caplen = struct.unpack_from(hdr.endian + "I", rh, 8)[0]
            data = read(caplen)
            if len(data) < caplen:
                return
            yield hdr, rh, data


def _ts(hdr: PcapHeader, rh: bytes) -> float:
    sec, frac = struct.unpack_from(hdr.endian + "II", rh, 0)
    return float(sec + frac / hdr.ticks)


def _tcp_offsets(data: bytes, linktype: int) -> tuple[int, int, int, int] | None:
    """(offset of the IP header, of the TCP header, TCP payload length on the wire, IP version)."""
    if linktype != DLT_EN10MB or len(data) < 14:
        return None
    off = 14
    ethertype = int.from_bytes(data[12:14], "big")
    while ethertype in (0x8100, 0x88A8) and len(data) >= off + 4:  # IEEE 802.1Q tags
        ethertype = int.from_bytes(data[off + 2 : off + 4], "big")
        off += 4
    if ethertype == 0x0800 and len(data) >= off + 20:
        ihl = (data[off] & 0x0F) * 4
        total = int.from_bytes(data[off + 2 : off + 4], "big")
        frag = int.from_bytes(data[off + 6 : off + 8], "big") & 0x1FFF
        if data[off + 9] != 6 or frag or ihl < 20:
            return None
        tcp = off + ihl
        ip_payload = total - ihl
        version = 4
    elif ethertype == 0x86DD and len(data) >= off + 40:
        if data[off + 6] != 6:  # no extension headers in our captures
            return None
        tcp = off + 40
        ip_payload = int.from_bytes(data[off + 4 : off + 6], "big")
        version = 6
    else:
        return None
    if len(data) < tcp + 20:
        return None
    thl = (data[tcp + 12] >> 4) * 4
    return off, tcp, max(0, ip_payload - thl), version


def stats(path: str | Path) -> CaptureStats:
    st = CaptureStats(bytes=Path(path).stat().st_size)
    for hdr, rh, data in iter_records(path):
        st.packets += 1
        st.captured_bytes += len(data)
        ts = _ts(hdr, rh)
        if st.first_ts is None:
            st.first_ts = ts
        st.last_ts = ts
        if len(data) > SCAPY_MTU:
            st.records_over_64k += 1
            st.bytes_beyond_64k += len(data) - SCAPY_MTU
        t = _tcp_offsets(data, hdr.linktype)
        if t is not None:
            st.tcp_segments += 1
            if t[2]:
                st.tcp_payload_segments += 1
                st.tcp_payload_bytes += t[2]
    return st


def syn_server_ports(path: str | Path) -> frozenset[int]:
    """Ports that received a SYN without ACK: the servers' ports (RFC 793 §3.4)."""
    found: set[int] = set()
    for hdr, _, data in iter_records(path):
        t = _tcp_offsets(data, hdr.linktype)
        if t is not None and len(data) > t[1] + 13 and data[t[1] + 13] & 0x12 == 0x02:
            found.add(int.from_bytes(data[t[1] + 2 : t[1] + 4], "big"))
    return frozenset(found)


def prefix(
    src: str | Path, dst: str | Path, *, max_bytes: int | None = None, max_packets: int | None = None
) -> int:
    """Write the first whole records of src to dst; returns the number of records written."""
    n = 0
    size = 24
    with open(dst, "wb", buffering=1 << 20) as out:
        wrote_header = False
        for hdr, rh, data in iter_records(src):
            if not wrote_header:
                out.write(hdr.raw)
                wrote_header = True
            if max_packets is not None and n >= max_packets:
                break
            if max_bytes is not None and size + 16 + len(data) > max_bytes and n:
                break
            out.write(rh)
            out.write(data)
            size += 16 + len(data)
            n += 1
        if not wrote_header:
            with open(src, "rb") as f:
                out.write(read_header(f).raw)
    return n


def rotate_port(port: int, copy: int) -> int:
    """Client port of copy `copy`: rotated inside the ephemeral range, unchanged outside it."""
    if copy == 0 or not EPHEMERAL_LOW <= port <= EPHEMERAL_HIGH:
        return port
    span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1
    return EPHEMERAL_LOW + (port - EPHEMERAL_LOW + copy * PORT_STEP) % span


def _csum_replace(hc: int, old: int, new: int) -> int:
    # RFC 1624 eq. 3: HC' = ~(~HC + ~m + m')
    s = (~hc & 0xFFFF) + (~old & 0xFFFF) + new
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _rewrite(data: bytes, linktype: int, copy: int, server_ports: frozenset[int]) -> bytes:
    t = _tcp_offsets(data, linktype)
    if t is None:
        return data
    tcp = t[1]
    sport, dport = struct.unpack_from("!HH", data, tcp)
    if dport in server_ports:
        pos, old = tcp, sport
    elif sport in server_ports:
        pos, old = tcp + 2, dport
    else:
        return data
    new = rotate_port(old, copy)
    if new == old:
        return data
    buf = bytearray(data)
    struct.pack_into("!H", buf, pos, new)
    if len(buf) >= tcp + 18:
        (hc,) = struct.unpack_from("!H", buf, tcp + 16)
        struct.pack_into("!H", buf, tcp + 16, _csum_replace(hc, old, new))
    return bytes(buf)


def replicate(
    src: str | Path,
    dst: str | Path,
    *,
    target_bytes: int,
    server_ports: frozenset[int] = frozenset({80, 8080, 8088}),
) -> tuple[int, int]:
    """Write copies of src into dst until dst reaches target_bytes (the last copy is cut at a
    record boundary). Returns (records written, copies started)."""
    base = stats(src)
    if base.packets == 0:
        raise PcapFormatError(f"{src}: no packets to replicate")
    shift = base.duration + 1.0
    written, size, copy = 0, 24, 0
    with open(dst, "wb", buffering=1 << 20) as out:
        header_done = False
        while size < target_bytes:
            for hdr, rh, data in iter_records(src):
                if not header_done:
                    out.write(hdr.raw)
                    header_done = True
                if size + 16 + len(data) > target_bytes and written:
                    return written, copy + 1
                if copy:
                    sec, frac = struct.unpack_from(hdr.endian + "II", rh, 0)
                    ticks = sec * hdr.ticks + frac + round(copy * shift * hdr.ticks)
                    rh = struct.pack(hdr.endian + "II", *divmod(ticks, hdr.ticks)) + rh[8:]
                    data = _rewrite(data, hdr.linktype, copy, server_ports)
                out.write(rh)
                out.write(data)
                size += 16 + len(data)
                written += 1
            copy += 1
    return written, copy


def tcp_checksum_ok(data: bytes, linktype: int = DLT_EN10MB) -> bool | None:
    """Verify the TCP checksum of one record (RFC 793 §3.1 pseudo-header); None when the record
    is not a whole IPv4 TCP segment. For tests and sanity checks, not the hot path."""
    t = _tcp_offsets(data, linktype)
    if t is None or t[3] != 4:
        return None
    ip, tcp = t[0], t[1]
    seg_len = int.from_bytes(data[ip + 2 : ip + 4], "big") - (tcp - ip)
    if len(data) < tcp + seg_len:
        return None
    seg = data[tcp : tcp + seg_len]
    pseudo = data[ip + 12 : ip + 20] + struct.pack("!BBH", 0, 6, seg_len)
    blob = pseudo + seg + (b"\0" if seg_len % 2 else b"")
    s = sum(struct.unpack(f"!{len(blob) // 2}H", blob))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return bool(s == 0xFFFF)
