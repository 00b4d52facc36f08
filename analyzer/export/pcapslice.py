"""pcap slices: the packets of some TCP connections, written as pcapng (`export --format pcap`).

The sink (`PcapSliceSink`) keeps only each connection's endpoints and packet range while the
capture is read; the slice is written at the end, once the selection is known.

The capture is read again (analyzer.capture.open_capture); each packet is decoded to its
TCP 4-tuple (analyzer.decode.packet.PacketDecoder) and kept when the tuple is one of the
selected connections and the packet lies within that connection's [first_frame, last_frame]
range (so that a reused port pair is not mixed up). The output is pcapng: one Section Header
Block, one Interface Description Block per original link type (if_tsresol 9: nanoseconds),
one Enhanced Packet Block per kept packet with its original bytes, original length and
timestamp (draft-ietf-opsawg-pcapng §4.1, §4.2, §4.3).

Timestamps: `RawPacket.ts` is a float, which cannot hold every nanosecond of an epoch time,
so the exact integer ticks of each record are read from the file's record headers in step
with the reader (`_raw_ticks`) and used whenever that walk agrees with the reader's packet;
otherwise the float is rounded at the source's resolution.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, BinaryIO

from analyzer.capture.pcapfile import MAX_BLOCK, PCAP_MAGICS, RawPacket, open_capture
from analyzer.decode.packet import PacketDecoder
from analyzer.export.keep import Keep
from analyzer.export.select import Selection, StreamedSelection
from analyzer.model.analysis import Analysis, ConnectionRecord
from analyzer.model.session import EngineIOSession
from analyzer.query import Filter, session_context

__all__ = ["ConnectionKey", "PcapSliceSink", "SliceResult", "connection_keys", "write_pcapng_slice_keys"]

_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class ConnectionKey:
    """What identifies a connection's packets: its endpoints and its packet range."""

    id: int
    a: tuple[bytes, int]  # client (packed address, port)
    b: tuple[bytes, int]  # server
    first_frame: int
    last_frame: int


@dataclass(slots=True)
class SliceResult:
    packets: int = 0  # packets written
    scanned: int = 0  # packets read
    per_connection: dict[int, int] | None = None
    error: str | None = None  # the capture's own damage, if the read stopped early


def connection_keys(connections: Iterable[ConnectionRecord]) -> list[ConnectionKey]:
    keys: list[ConnectionKey] = []
    for c in connections:
        try:
            ca = ipaddress.ip_address(str(c.client["ip"])).packed
            sa = ipaddress.ip_address(str(c.server["ip"])).packed
        except (KeyError, ValueError):
            continue
        first = c.tcp.get("first_frame")
        last = c.tcp.get("last_frame")
        if not isinstance(first, int) or not isinstance(last, int):
            continue
        keys.append(
            ConnectionKey(c.id, (ca, int(c.client["port"])), (sa, int(c.server["port"])), first, last)
        )
    return keys


class PcapSliceSink(StreamedSelection):
    """The packets of the selected connections to `out`, read again from `capture` (default: the
    summary's capture path) at the end; `result` says what was written, once finished."""

    reads_ws_frames = False  # WebSocket messages only: the frames are counted (pipeline/sink.py)

    def __init__(
        self,
        out: IO[bytes],
        selection: Selection | None = None,
        capture: str | None = None,
        flt: Filter | None = None,
    ) -> None:
        """`flt` (`export --filter`, docs/filters.md): only the packets of the records it keeps
        (every packet of a connection it keeps as a `tcp` record)."""
        super().__init__(selection or Selection())
        self.out = out
        self.capture = capture
        self.result: SliceResult | None = None
        self._keys: list[ConnectionKey] = []
        self.keep = Keep(flt) if flt is not None else None
        self._whole: set[int] = set()  # with a filter: connections kept whole
        self._frames: set[int] = set()  # with a filter: the packets of the kept records

    def connection(self, record: ConnectionRecord) -> None:
        self.see_connection(record.id)
        if self.wants_connection(record.id):
            self._keys.extend(connection_keys([record]))
            if self.keep is not None:
                whole, frames = self.keep.connection_frames(record)
                if whole:
                    self._whole.add(record.id)
                self._frames |= frames

    def session(self, record: EngineIOSession) -> None:
        seen = self.see_session(record)
        if self.keep is not None and seen.selected:
            ctx = session_context(record)
            self._frames |= self.keep.session_frames(self.eio_packets(record), self.sio_packets(record), ctx)

    def finish(self, summary: Analysis) -> None:
        self.resolve()
        ids = self.selected_connections
        keys = sorted((k for k in self._keys if k.id in ids), key=lambda k: k.id)
        only = None if self.keep is None else (self._frames, self._whole)
        self.result = write_pcapng_slice_keys(self.capture or summary.capture.path, keys, self.out, only)


# -- exact timestamps: the record headers, walked in step with the reader ----------------------------
# Each item: (frame, interface, caplen, ns since the epoch or None when the record has no time).
Tick = tuple[int, int, int, int | None]


def _ns(ticks: int, resol: int, offset_s: int) -> int:
    """Ticks at if_tsresol `resol` (pcapng §4.2: 10^-n, or 2^-n with the top bit) to nanoseconds."""
    if resol & 0x80:
        n = resol & 0x7F
        ns = (ticks * _NS + (1 << n >> 1)) >> n if n < 64 else 0
    elif resol <= 9:
        ns = ticks * 10 ** (9 - resol)
    else:
        ns = ticks // 10 ** (resol - 9)
    return ns + offset_s * _NS


def _raw_ticks_pcap(fh: BinaryIO) -> Iterator[Tick]:
    hdr = fh.read(24)
    if len(hdr) < 24 or hdr[:4] not in PCAP_MAGICS:
        return
    endian, unit = PCAP_MAGICS[hdr[:4]]
    scale = 1000 if unit == 1e-6 else 1
    rec = struct.Struct(endian + "IIII")
    frame = 0
    while True:
        h = fh.read(16)
        if len(h) < 16:
            return
        sec, frac, caplen, _orig = rec.unpack(h)
        if caplen > MAX_BLOCK:
            return
        fh.seek(caplen, 1)
        frame += 1
        yield frame, 0, caplen, sec * _NS + frac * scale


def _idb_resol(opts: bytes, endian: str) -> tuple[int, int]:
    """if_tsresol and if_tsoffset of an IDB's options (pcapng §4.2); default 6 (microseconds)."""
    resol, offset = 6, 0
    i = 0
    while i + 4 <= len(opts):
        code, length = struct.unpack_from(endian + "HH", opts, i)
        if code == 0:
            break
        value = opts[i + 4 : i + 4 + length]
        if code == 9 and length >= 1:
            resol = value[0]
        elif code == 14 and length >= 8:
            offset = struct.unpack(endian + "q", value[:8])[0]
        i += 4 + ((length + 3) & ~3)
    return resol, offset


def _raw_ticks_pcapng(fh: BinaryIO) -> Iterator[Tick]:
    endian = "<"
    ifaces: list[tuple[int, int]] = []
    frame = 0
    while True:
        head = fh.read(8)
        if len(head) < 8:
            return
        if head[:4] == b"\x0a\x0d\x0d\x0a":  # Section Header Block §4.1
            bom = fh.read(4)
            if bom == b"\x4d\x3c\x2b\x1a":
                endian = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                endian = ">"
            else:
                return
            blen = struct.unpack(endian + "I", head[4:8])[0]
            if blen < 28 or blen > MAX_BLOCK:
                return
            fh.seek(blen - 12, 1)
            ifaces = []
            continue
        btype, blen = struct.unpack(endian + "II", head)
        if blen < 12 or blen % 4 or blen > MAX_BLOCK:
            return
        if btype == 1:
            body = fh.read(blen - 8)
            if len(body) < blen - 8 or len(body) < 12:
                return
            ifaces.append(_idb_resol(body[8:-4], endian))
            continue
        if btype in (6, 2):
            fixed = fh.read(20)
            if len(fixed) < 20:
                return
            if btype == 6:
                iface, hi, lo, caplen, _orig = struct.unpack(endian + "IIIII", fixed)
            else:
                iface, _drops, hi, lo, caplen, _orig = struct.unpack(endian + "HHIIII", fixed)
            fh.seek(blen - 28, 1)
            frame += 1
            if iface >= len(ifaces):
                yield frame, iface, caplen, None
                continue
            resol, offset = ifaces[iface]
            yield frame, iface, caplen, _ns((hi << 32) | lo, resol, offset)
            continue
        fh.seek(blen - 8, 1)
        if btype == 3:  # Simple Packet Block §4.4: no timestamp
            frame += 1
            yield frame, 0, -1, None


def _raw_ticks(path: str) -> Generator[Tick, None, None]:
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
            fh.seek(0)
            if magic in PCAP_MAGICS:
                yield from _raw_ticks_pcap(fh)
            elif magic == b"\x0a\x0d\x0d\x0a":
                yield from _raw_ticks_pcapng(fh)
    except (OSError, struct.error):
        return


# -- pcapng writing -------------------------------------------------------------------------------------
def _block(btype: int, body: bytes) -> bytes:
    """A pcapng block (§3.1): type, total length, body padded to 32 bits, total length again."""
    pad = (-len(body)) % 4
    n = 12 + len(body) + pad
    return struct.pack("<II", btype, n) + body + b"\0" * pad + struct.pack("<I", n)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * ((-len(value)) % 4)


def _shb(app: str) -> bytes:
    body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)  # byte-order magic, v1.0, section length unknown
    body += _option(4, app.encode("utf-8")) + _option(0, b"")  # shb_userappl
    return _block(0x0A0D0D0A, body)


def _idb(linktype: int) -> bytes:
    body = struct.pack("<HHI", linktype, 0, 0)  # snaplen 0: no limit
    body += _option(9, b"\x09") + _option(0, b"")  # if_tsresol: 10^-9 s
    return _block(1, body)


def _epb(iface: int, ts_ns: int, data: bytes, orig_len: int) -> bytes:
    ts_ns = max(0, min(ts_ns, (1 << 64) - 1))
    head = struct.pack("<IIIII", iface, ts_ns >> 32, ts_ns & 0xFFFFFFFF, len(data), max(orig_len, len(data)))
    return _block(6, head + data)


def _float_ns(ts: float, fmt_unit_us: bool) -> int:
    if fmt_unit_us:
        return round(ts * 1e6) * 1000
    return round(ts * 1e9)


def write_pcapng_slice_keys(
    path: str,
    keys: list[ConnectionKey],
    out: IO[bytes],
    only: tuple[set[int], set[int]] | None = None,
) -> SliceResult:
    """Write the packets of the connections `keys` name to `out` as pcapng; with `only` (packet
    numbers, connection ids) just those packets and every packet of those connections."""
    from analyzer.version import __version__

    result = SliceResult(per_connection={k.id: 0 for k in keys})
    by_tuple: dict[tuple[bytes, int, bytes, int], list[ConnectionKey]] = {}
    for k in keys:
        by_tuple.setdefault((*k.a, *k.b), []).append(k)
        by_tuple.setdefault((*k.b, *k.a), []).append(k)
    lo = min((k.first_frame for k in keys), default=1)
    hi = max((k.last_frame for k in keys), default=0)
    out.write(_shb(f"socketscope {__version__}"))
    reader = open_capture(path)
    micro = reader.format == "pcap" and _pcap_is_micro(path)
    ticks = _raw_ticks(path)
    iface_of: dict[int, int] = {}
    decoder = PacketDecoder()
    counts = result.per_connection
    assert counts is not None
    try:
        for pkt in reader:
            result.scanned += 1
            tick = next(ticks, None)
            if pkt.frame < lo:
                continue
            if pkt.frame > hi:
                break
            key = _match(decoder, pkt, by_tuple)
            if key is None or (only is not None and pkt.frame not in only[0] and key.id not in only[1]):
                continue
            if pkt.linktype not in iface_of:
                iface_of[pkt.linktype] = len(iface_of)
                out.write(_idb(pkt.linktype))
            ts_ns = _exact_ns(pkt, tick)
            if ts_ns is None:
                ts_ns = _float_ns(pkt.ts, micro)
            out.write(_epb(iface_of[pkt.linktype], ts_ns, pkt.data, pkt.orig_len))
            result.packets += 1
            counts[key.id] += 1
    finally:
        reader.close()
        ticks.close()
    result.error = reader.error
    return result


def _pcap_is_micro(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError:
        return False
    return magic in PCAP_MAGICS and PCAP_MAGICS[magic][1] == 1e-6


def _exact_ns(pkt: RawPacket, tick: Tick | None) -> int | None:
    """The record's exact time when the header walk is at the same packet as the reader."""
    if tick is None:
        return None
    frame, iface, caplen, ns = tick
    if frame != pkt.frame or (caplen != len(pkt.data) and caplen != -1) or ns is None:
        return None
    if iface != pkt.interface:
        return None
    if abs(ns / _NS - pkt.ts) > 1e-3:  # a disagreement means the walk lost step with the reader
        return None
    return ns


def _match(
    decoder: PacketDecoder, pkt: RawPacket, by_tuple: dict[tuple[bytes, int, bytes, int], list[ConnectionKey]]
) -> ConnectionKey | None:
    seg = decoder.decode(pkt)
    if seg is None:
        return None
    f = pkt.frame
    for s in (seg, *decoder.more):  # an 802.11 A-MSDU frame may carry several segments
        for k in by_tuple.get((s.src, s.sport, s.dst, s.dport), ()):
            if k.first_frame <= f <= k.last_frame:
                return k
    return None
