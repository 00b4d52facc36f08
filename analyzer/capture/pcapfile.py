"""Streaming reader for pcap and pcapng files.

Records are read one at a time through a buffered file, whatever their length:
loopback captures hold 64 KiB+ segments, which must be read whole (scapy's readers
cut them at 65,535 bytes). A damaged file yields every packet before the damage and
then reports what is wrong in `CaptureReader.error`; it never raises while iterating.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from mypy_extensions import mypyc_attr

from analyzer.model.times import NS_PER_S as NS

__all__ = [
    "LINKTYPE_NAMES",
    "MARK_EVERY",
    "CaptureError",
    "CaptureReader",
    "Interface",
    "Mark",
    "RawPacket",
    "decryption_secrets",
    "open_capture",
]

# tcpdump.org link-layer header types, with the names tshark/libpcap print.
LINKTYPE_NAMES = {
    0: "NULL",
    1: "EN10MB",
    3: "AX25",
    6: "IEEE802",
    7: "ARCNET_BSD",
    8: "SLIP",
    9: "PPP",
    10: "FDDI",
    12: "RAW",
    14: "RAW",
    50: "PPP_HDLC",
    51: "PPP_ETHER",
    100: "ATM_RFC1483",
    101: "RAW",
    104: "C_HDLC",
    105: "IEEE802_11",
    107: "FRELAY",
    108: "LOOP",
    113: "LINUX_SLL",
    114: "LTALK",
    117: "PFLOG",
    119: "PRISM_HEADER",
    122: "IP_OVER_FC",
    123: "SUNATM",
    127: "IEEE802_11_RADIO",
    129: "ARCNET_LINUX",
    138: "APPLE_IP_OVER_IEEE1394",
    139: "MTP2_WITH_PHDR",
    140: "MTP2",
    141: "MTP3",
    142: "SCCP",
    143: "DOCSIS",
    144: "LINUX_IRDA",
    **{147 + i: f"USER{i}" for i in range(16)},
    149: "PKTAP",  # USER2, which Apple's libpcap wrote for PKTAP (tcpdump.org LINKTYPE_PKTAP)
    163: "IEEE802_11_RADIO_AVS",
    165: "BACNET_MS_TP",
    166: "PPP_PPPD",
    169: "GPRS_LLC",
    177: "LINUX_LAPD",
    187: "BLUETOOTH_HCI_H4",
    189: "USB_LINUX",
    192: "PPI",
    195: "IEEE802_15_4_WITHFCS",
    196: "SITA",
    197: "ERF",
    201: "BLUETOOTH_HCI_H4_WITH_PHDR",
    202: "AX25_KISS",
    203: "LAPD",
    204: "PPP_WITH_DIR",
    205: "C_HDLC_WITH_DIR",
    209: "IPMB_LINUX",
    215: "IEEE802_15_4_NONASK_PHY",
    220: "USB_LINUX_MMAPPED",
    224: "FC_2",
    227: "CAN_SOCKETCAN",
    228: "IPV4",
    229: "IPV6",
    230: "IEEE802_15_4_NOFCS",
    231: "DBUS",
    235: "DVB_CI",
    239: "NFLOG",
    240: "NETANALYZER",
    242: "IPOIB",
    247: "NETLINK",
    249: "USBPCAP",
    251: "BLUETOOTH_LE_LL",
    252: "WIRESHARK_UPPER_PDU",
    253: "NETLINK",
    254: "BLUETOOTH_LINUX_MONITOR",
    256: "BLUETOOTH_LE_LL_WITH_PHDR",
    258: "PKTAP",
    259: "EPON",
    263: "ZWAVE_R3",
    264: "WATTSTOPPER_DLM",
    265: "ISO_14443",
    266: "RDS",
    267: "USB_DARWIN",
    270: "SDLC",
    272: "LORATAP",
    273: "VSOCK",
    274: "NORDIC_BLE",
    275: "DOCSIS31_XRA31",
    276: "LINUX_SLL2",
    279: "ETW",
    281: "ZBOSS_NCP",
    282: "USB_2_0_LOW_SPEED",
}

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAP_NS_PER_TICK = {1e-6: 1000, 1e-9: 1}  # the record's fraction in nanoseconds
PCAPNG_SHB = 0x0A0D0D0A
MAX_BLOCK = 256 << 20  # a larger pcapng block is treated as corruption, not allocated
MARK_EVERY = 4096  # packets between two resume points (CaptureReader.marks)


class Interface(NamedTuple):
    """A pcapng interface's link type and clock (§4.2 if_tsresol, if_tsoffset). A timestamp of
    `ticks` is `ticks * unit + offset` seconds as a float (what the outputs show) and
    `ticks * ns_num // ns_den + offset_ns` integer nanoseconds (what durations are computed from:
    a float of an epoch time cannot hold a microsecond once an offset of 2^62 s is added)."""

    linktype: int
    unit: float
    offset: float
    ns_num: int
    ns_den: int
    offset_ns: int


class Mark(NamedTuple):
    """Where reading can resume: the packet after `frame` starts at byte `offset`; `state` is
    what the reader knew there (pcapng: byte order and the section's interfaces)."""

    frame: int
    offset: int
    state: tuple[str, tuple[Interface, ...]] | None


class RawPacket:
    """One captured packet. A plain slotted class, not a frozen dataclass: it is built once per
    packet on the hot path, where a frozen dataclass's __init__ costs five times as much.

    `ts` is the time in seconds as the outputs show it; `ts_ns` the same time in integer
    nanoseconds, exact, which every duration is computed from (analyzer/model/times.py)."""

    __slots__ = ("data", "frame", "interface", "linktype", "orig_len", "ts", "ts_ns")

    def __init__(
        self,
        frame: int,
        ts: float,
        linktype: int,
        data: bytes,
        orig_len: int,
        interface: int,
        ts_ns: int,
    ) -> None:
        self.frame = frame  # 1-based, as Wireshark counts
        self.ts = ts
        self.linktype = linktype
        self.data = data
        self.orig_len = orig_len
        self.interface = interface
        self.ts_ns = ts_ns

    def __repr__(self) -> str:
        return f"RawPacket(frame={self.frame}, ts={self.ts}, linktype={self.linktype}, len={len(self.data)})"


class CaptureError(Exception):
    """The file is not a capture at all (raised by open_capture only)."""


@mypyc_attr(allow_interpreted_subclasses=True)  # subclassed outside the compiled modules
class CaptureReader:
    """Iterate `RawPacket`s; afterwards `error` says what stopped the read early, if anything."""

    def __init__(self, path: str, fh: BinaryIO, fmt: str) -> None:
        self.path = path
        self.format = fmt  # "pcap" | "pcapng"
        self.error: str | None = None
        self.error_kind: str | None = None  # "truncated" | "corrupt"
        self.link_types: list[int] = []
        self.packets = 0
        self.bytes = 0
        self._fh = fh
        # a resume point every MARK_EVERY packets, so that a viewer can read packet N of a big
        # file without reading the packets before it (`resume`, analyzer/decode/details.py)
        self.marks: list[Mark] = []
        self._start: Mark | None = None

    def resume(self, mark: Mark) -> None:
        """Start the iteration at a mark this reader's file gave earlier (before iterating)."""
        self._start = mark

    def __iter__(self) -> Iterator[RawPacket]:
        try:
            if self.format == "pcap":
                yield from self._read_pcap()
            else:
                yield from self._read_pcapng()
        except OSError as exc:
            self._fail("corrupt", f"read error: {exc}")
        finally:
            self._fh.close()

    def close(self) -> None:
        self._fh.close()

    def offset(self) -> int:
        """How far reading has got into the file, in bytes (for progress bars); -1 once it is closed."""
        try:
            return self._fh.tell()
        except (OSError, ValueError):
            return -1

    def _fail(self, kind: str, message: str) -> None:
        if self.error is None:
            self.error_kind = kind
            self.error = message

    def _note_link(self, linktype: int) -> None:
        if linktype not in self.link_types:
            self.link_types.append(linktype)

    # pcap: 24-byte file header, then 16-byte record headers (tcpdump.org pcap format)
    def _read_pcap(self) -> Iterator[RawPacket]:
        fh = self._fh
        hdr = fh.read(24)
        endian, unit = PCAP_MAGICS[hdr[:4]]
        tick_ns = PCAP_NS_PER_TICK[unit]
        ns = NS
        # the link type is the low 16 bits; above them reserved bits, the P bit (26) and the FCS
        # length in 16-bit words (28-31): draft-ietf-opsawg-pcap §4, libpcap's LT_LINKTYPE
        linktype = struct.unpack(endian + "I", hdr[20:24])[0] & 0xFFFF
        self._note_link(linktype)
        unpack = struct.Struct(endian + "IIII").unpack_from
        # read1() returns what is there without waiting for a full block, so the same reader
        # serves files and pipes (a live tcpdump -w -) alike
        read1 = getattr(fh, "read1", fh.read)
        buf = b""
        i = 0  # start of the next record in buf
        frame = 0
        pos = 24  # file offset of buf[i]
        nbytes = 0
        marks = self.marks
        if self._start is not None:
            fh.seek(self._start.offset)
            frame, pos = self._start.frame, self._start.offset
        sec = frac = caplen = origlen = 0  # ints, which mypyc unboxes (struct's tuple is Any)
        while True:
            n = len(buf)
            # every complete record in the buffer, its header unpacked once
            while n - i >= 16:
                sec, frac, caplen, origlen = unpack(buf, i)
                j = i + 16 + caplen
                if j > n:
                    break
                frame += 1
                pos += j - i
                nbytes += caplen
                if not frame % MARK_EVERY:
                    marks.append(Mark(frame, pos, None))
                yield RawPacket(
                    frame,
                    sec + frac * unit,
                    linktype,
                    buf[i + 16 : j],
                    origlen if origlen > caplen else caplen,
                    0,
                    sec * ns + frac * tick_ns,
                )
                i = j
            if n - i >= 16:
                # a record's header without all of its data: the rest in one sized read
                sec, frac, caplen, origlen = unpack(buf, i)
                data = self._pcap_long_record(buf[i + 16 :], caplen, pos, frame)
                if data is None:
                    break
                frame += 1
                pos += 16 + caplen
                nbytes += caplen
                if not frame % MARK_EVERY:
                    marks.append(Mark(frame, pos, None))
                buf = b""
                i = 0
                yield RawPacket(
                    frame,
                    sec + frac * unit,
                    linktype,
                    data,
                    origlen if origlen > caplen else caplen,
                    0,
                    sec * ns + frac * tick_ns,
                )
                del data
                continue
            more = read1(1 << 20)
            if not more:
                if n - i:
                    self._fail("truncated", f"record header cut short at byte {pos} after packet {frame}")
                break
            buf = buf[i:] + more  # at most 15 bytes of a record header are carried over
            i = 0
        self.packets = frame
        self.bytes = nbytes

    def _pcap_long_record(self, have: bytes, caplen: int, pos: int, frame: int) -> bytes | None:
        """The data of the record at byte `pos` (its header read, `have` its first bytes), read in
        one sized read (reading it a MiB at a time, each added to the buffer, was quadratic in
        the record size); None, with the reason noted, when it is damaged or cut short."""
        if caplen > MAX_BLOCK:
            self._fail("corrupt", f"record at byte {pos} claims {caplen} bytes (after packet {frame})")
            return None
        fh = self._fh
        if fh.seekable():  # read again from the file: the record's bytes are copied once
            fh.seek(pos + 16)
            data = fh.read(caplen)
        else:
            data = have + fh.read(caplen - len(have))
        if len(data) < caplen:
            self._fail("truncated", f"packet {frame + 1} at byte {pos} has {len(data)} of its {caplen} bytes")
            return None
        return data

    # pcapng: blocks of type/length/body/length (draft-ietf-opsawg-pcapng §3, §4)
    def _read_pcapng(self) -> Iterator[RawPacket]:
        read = self._fh.read
        endian = "<"
        interfaces: list[Interface] = []
        frame = 0
        pos = 0
        marks = self.marks
        if self._start is not None and self._start.state is not None:
            self._fh.seek(self._start.offset)
            frame, pos = self._start.frame, self._start.offset
            endian, interfaces = self._start.state[0], list(self._start.state[1])
        while True:
            head = read(8)
            if len(head) < 8:
                if head:
                    self._fail("truncated", f"block header cut short at byte {pos} after packet {frame}")
                return
            if head[:4] == b"\x0a\x0d\x0d\x0a":
                section = self._pcapng_section(head, pos)
                if section is None:
                    return
                endian, blen = section
                interfaces = []  # §4.1: interface ids restart in every section
                pos += blen
                continue
            btype, blen = struct.unpack(endian + "II", head)
            if blen < 12 or blen % 4 or blen > MAX_BLOCK:
                self._fail("corrupt", f"block at byte {pos} has bad length {blen} (after packet {frame})")
                return
            body = read(blen - 8)
            if len(body) < blen - 8:
                self._fail("truncated", f"block at byte {pos} cut short after packet {frame}")
                return
            pos += blen
            end = blen - 12  # the body without the trailing length (not copied: blocks can be big)
            if btype == 6:  # Enhanced Packet Block §4.3
                if end < 20:
                    self._fail("corrupt", f"packet block at byte {pos - blen} too short")
                    return
                iface, hi, lo, caplen, origlen = struct.unpack_from(endian + "IIIII", body, 0)
                if iface >= len(interfaces) or 20 + caplen > end:
                    self._fail("corrupt", f"packet block at byte {pos - blen} is inconsistent")
                    return
                linktype, unit, offset, ns_num, ns_den, offset_ns = interfaces[iface]
                ticks = (hi << 32) | lo
                frame += 1
                self.packets = frame
                self.bytes += caplen
                if not frame % MARK_EVERY:
                    marks.append(Mark(frame, pos, (endian, tuple(interfaces))))
                yield RawPacket(
                    frame,
                    ticks * unit + offset,
                    linktype,
                    body[20 : 20 + caplen],
                    origlen if origlen > caplen else caplen,
                    iface,
                    (ticks * ns_num if ns_den == 1 else ticks * ns_num // ns_den) + offset_ns,
                )
                continue
            elif btype in (1, 2, 3):
                got = self._pcapng_block(btype, body, end, pos - blen, endian, interfaces, frame + 1)
                if self.error is not None:
                    return
                if got is None:
                    continue
                pkt = got
            else:
                continue  # every other block type (statistics, name resolution, custom, ...) §3.1
            frame += 1
            self.packets = frame
            self.bytes += len(pkt.data)
            if not frame % MARK_EVERY:
                marks.append(Mark(frame, pos, (endian, tuple(interfaces))))
            yield pkt

    def _pcapng_section(self, head: bytes, pos: int) -> tuple[str, int] | None:
        """A Section Header Block (§4.1) whose first 8 bytes are `head`: its byte order and length,
        the rest of it read; None, with the reason noted, when it is damaged."""
        bom = self._fh.read(4)
        if bom == b"\x4d\x3c\x2b\x1a":
            endian = "<"
        elif bom == b"\x1a\x2b\x3c\x4d":
            endian = ">"
        else:
            self._fail("corrupt", f"section header at byte {pos} has a bad byte-order magic")
            return None
        blen = struct.unpack(endian + "I", head[4:8])[0]
        if blen < 28 or blen % 4 or blen > MAX_BLOCK:
            self._fail("corrupt", f"section header at byte {pos} has bad length {blen}")
            return None
        if len(self._fh.read(blen - 12)) < blen - 12:
            self._fail("truncated", f"section header at byte {pos} cut short")
            return None
        return endian, blen

    def _pcapng_block(
        self, btype: int, body: bytes, end: int, at: int, endian: str, interfaces: list[Interface], frame: int
    ) -> RawPacket | None:
        """An Interface Description Block (added to `interfaces`), an obsolete Packet Block or a
        Simple Packet Block (the packet numbered `frame`); None when there is no packet, and with
        the reason noted when the block is damaged."""
        if btype == 1:  # Interface Description Block §4.2
            if end < 8:
                self._fail("corrupt", f"interface block at byte {at} too short")
                return None
            linktype = struct.unpack_from(endian + "H", body, 0)[0]
            interfaces.append(Interface(linktype, *idb_clock(body[8:end], endian)))
            self._note_link(linktype)
            return None
        if btype == 2:  # obsolete Packet Block (Appendix A)
            if end < 20:
                self._fail("corrupt", f"packet block at byte {at} too short")
                return None
            iface, _drops, hi, lo, caplen, origlen = struct.unpack_from(endian + "HHIIII", body, 0)
            if iface >= len(interfaces) or 20 + caplen > end:
                self._fail("corrupt", f"packet block at byte {at} is inconsistent")
                return None
            itf = interfaces[iface]
            ticks = (hi << 32) | lo
            ts_ns = ticks * itf.ns_num // itf.ns_den + itf.offset_ns
            ts = ticks * itf.unit + itf.offset
            data = body[20 : 20 + caplen]
            return RawPacket(frame, ts, itf.linktype, data, max(origlen, caplen), iface, ts_ns)
        # Simple Packet Block §4.4: interface 0, no timestamp
        if not interfaces or end < 4:
            self._fail("corrupt", f"simple packet block at byte {at} without an interface")
            return None
        origlen = struct.unpack_from(endian + "I", body, 0)[0]
        return RawPacket(frame, 0.0, interfaces[0].linktype, body[4 : min(4 + origlen, end)], origlen, 0, 0)


def idb_clock(opts: bytes, endian: str) -> tuple[float, float, int, int, int]:
    """An interface's clock from its IDB options (§4.2): (unit, offset) as floats, and
    (ns_num, ns_den, offset_ns) as integers (see `Interface`)."""
    unit, offset, decimal, binary, offset_s = _time_options(opts, endian)
    if binary is not None:  # 2^-binary s: ticks * 10^9 / 2^binary ns, rounded down
        return unit, offset, NS, 1 << binary, offset_s * NS
    assert decimal is not None
    if decimal <= 9:
        return unit, offset, 10 ** (9 - decimal), 1, offset_s * NS
    return unit, offset, 1, 10 ** (decimal - 9), offset_s * NS


def idb_time_options(opts: bytes, endian: str) -> tuple[float, float, int | None]:
    """if_tsresol (code 9) and if_tsoffset (code 14) of an IDB (pcapng §4.2): the timestamp unit in
    seconds, the offset in seconds, and the decimal exponent (None for a power-of-two resolution)."""
    unit, offset, decimal, _, _ = _time_options(opts, endian)
    return unit, offset, decimal


def _time_options(opts: bytes, endian: str) -> tuple[float, float, int | None, int | None, int]:
    """(unit, offset, decimal exponent or None, binary exponent or None, offset in whole seconds)."""
    unit, offset = 1e-6, 0.0
    decimal: int | None = 6
    binary: int | None = None
    offset_s = 0
    i = 0
    while i + 4 <= len(opts):
        code, length = struct.unpack_from(endian + "HH", opts, i)
        value = opts[i + 4 : i + 4 + length]
        if code == 0:
            break
        if code == 9 and length >= 1:
            v = value[0]
            if v & 0x80:
                decimal, binary, unit = None, v & 0x7F, 2.0 ** -(v & 0x7F)
            else:
                decimal, binary, unit = v & 0x7F, None, 10.0 ** -(v & 0x7F)
        elif code == 14 and length >= 8:
            offset_s = struct.unpack(endian + "q", value[:8])[0]  # if_tsoffset: whole seconds
            offset = float(offset_s)
        i += 4 + ((length + 3) & ~3)
    return unit, offset, decimal, binary, offset_s


DSB = 0x0000000A  # Decryption Secrets Block (draft-ietf-opsawg-pcapng §4.7)
SECRETS_TLS = 0x544C534B  # "TLSK": an NSS key log
MAX_SECRETS = 64 << 20  # bytes of key log read from all the DSBs of a file


def decryption_secrets(path: str) -> list[bytes]:
    """The TLS key logs of a pcapng file's Decryption Secrets Blocks, in file order: a prepass
    that reads block headers only (draft-ietf-opsawg-pcapng §3.1, §4.7), so a DSB anywhere in the
    file applies to every packet. Other secrets types are skipped; a damaged file gives what was
    read before the damage (the packet reader reports the damage). Never raises."""
    out: list[bytes] = []
    total = 0
    try:
        with open(path, "rb") as fh:
            endian = "<"
            while total <= MAX_SECRETS:
                head = fh.read(12)
                if len(head) < 12:
                    break
                if head[:4] == b"\x0a\x0d\x0d\x0a":  # a section: its byte-order magic (§4.1)
                    endian = "<" if head[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
                btype, blen, first = struct.unpack(endian + "III", head)
                if blen < 12 or blen % 4 or blen > MAX_BLOCK:
                    break
                if btype == DSB and first == SECRETS_TLS and blen >= 20:
                    body = fh.read(blen - 12)
                    length = struct.unpack_from(endian + "I", body, 0)[0] if len(body) >= 4 else 0
                    if len(body) < blen - 12 or length > blen - 20:  # §4.7: Secrets Length fits the block
                        break
                    out.append(body[4 : 4 + length])
                    total += length
                else:
                    fh.seek(blen - 12, 1)
    except OSError:
        pass
    return out


def open_capture(path: str) -> CaptureReader:
    """Open a pcap or pcapng file; raises CaptureError (with a one-line reason) if it is neither."""
    try:
        fh = io.BufferedReader(io.FileIO(path, "rb"), buffer_size=1 << 20)  # closed by the reader
    except OSError as exc:
        raise CaptureError(f"cannot open: {exc.strerror or exc}") from None
    magic = fh.peek(4)[:4]
    if len(magic) == 0:
        fh.close()
        raise CaptureError("the file is empty")
    if magic in PCAP_MAGICS:
        if len(fh.peek(24)) < 24:
            fh.close()
            raise CaptureError("the pcap file header is cut short")
        return CaptureReader(path, fh, "pcap")
    if magic == b"\x0a\x0d\x0d\x0a":
        return CaptureReader(path, fh, "pcapng")
    fh.close()
    raise CaptureError("not a pcap or pcapng file (unknown magic number " + magic.hex() + ")")
