"""IEEE 802.11 data frames and the headers capture tools put in front of frames: radiotap, PPI,
AVS, Prism, Apple PKTAP and Linux NFLOG. Each function takes the walk, the link type or value
and the header's offset, and names the next header (analyzer/decode/walk.py)."""

from __future__ import annotations

from analyzer.decode.walk import (
    BE16,
    BE32,
    DLT,
    IP,
    LE16,
    LE32,
    LLC,
    MALFORMED,
    MAX_AMSDU,
    NOT_IP,
    UNDECODED,
    WIFI,
    Next,
    Walk,
)

__all__ = ["ENCRYPTED", "PKTAP_MIN", "avs", "bare", "frame", "nflog", "pktap", "ppi", "prism", "radiotap"]

ENCRYPTED = "encrypted Wi-Fi frames (not decrypted)"
_AVS_MAGIC = 0x80211000  # wlan-ng AVS capture header version 1 and 2: 0x80211001, 0x80211002
PKTAP_MIN = 108  # the fields up to the effective command name (Apple xnu bsd/net/pktap.h)


def bare(w: Walk, _lt: int, off: int) -> Next:
    return WIFI, 0, off


def frame(w: Walk, _v: int, off: int) -> Next:
    """An IEEE 802.11 MAC frame (IEEE 802.11-2020 §9.2.3, §9.2.4.1): data frames go on to their
    LLC header; QoS data frames may carry an A-MSDU (§9.3.2.2.2)."""
    data, end = w.data, w.end
    if end - off < 24:
        return w.halt(MALFORMED, "802.11 header cut short")
    fc0, fc1 = data[off], data[off + 1]
    w.add("ieee802.11")
    if fc0 & 3:  # protocol version 0 only (§9.2.4.1.2)
        return w.halt(UNDECODED, f"802.11 frames of protocol version {fc0 & 3}")
    ftype, subtype = (fc0 >> 2) & 3, fc0 >> 4
    if ftype != 2 or subtype & 4:  # management, control, extension; data subtypes without a body
        return w.halt(NOT_IP, "")
    if fc1 & 0x40:  # Protected Frame (§9.2.4.1.9): WEP, TKIP, CCMP, GCMP
        return w.halt(UNDECODED, ENCRYPTED)
    if fc1 & 0x04 or data[off + 22] & 0x0F:  # More Fragments; fragment number (§9.2.4.4.2)
        return w.halt(UNDECODED, "fragmented Wi-Fi frames (not reassembled)")
    hl = 30 if fc1 & 3 == 3 else 24  # To DS and From DS: a fourth address (§9.3.2.1)
    amsdu = False
    if subtype & 8:  # QoS data: a QoS Control field, +HTC with the Order bit (§9.2.4.1.10)
        if end - off < hl + 2:
            return w.halt(MALFORMED, "802.11 QoS Control field cut short")
        amsdu = bool(data[off + hl] & 0x80)  # A-MSDU Present (§9.2.4.5.9)
        hl += 6 if fc1 & 0x80 else 2
    if w.datapad:  # radiotap flag 0x20: the header is padded to 32 bits
        hl = (hl + 3) & ~3
    if end - off < hl:
        return w.halt(MALFORMED, "802.11 header cut short")
    if not amsdu:
        return LLC, 0, off + hl
    return _amsdu(w, off + hl)


def _amsdu(w: Walk, off: int) -> Next:
    """A-MSDU subframes: DA, SA, a big-endian length, the MSDU, padding to 4 bytes but after the
    last (IEEE 802.11-2020 §9.3.2.2.2). The first is walked on; the others wait in `w.more`."""
    data, end = w.data, w.end
    w.add("a-msdu")
    subframes: list[tuple[int, int]] = []
    p = off
    while p < end and len(subframes) < MAX_AMSDU:
        if end - p < 14:
            return w.halt(MALFORMED, "A-MSDU subframe header cut short")
        length = BE16(data, p + 12)[0]
        if p + 14 + length > end:
            return w.halt(MALFORMED, f"A-MSDU subframe of {length} bytes runs past the frame")
        subframes.append((p + 14, p + 14 + length))
        p += (14 + length + 3) & ~3
    if not subframes:
        return w.halt(MALFORMED, "A-MSDU without a subframe")
    first, w.end = subframes[0]
    w.more = subframes[1:]
    w.more_path = w.path
    return LLC, 0, first


def radiotap(w: Walk, _lt: int, off: int) -> Next:
    """The radiotap header (radiotap.org): version 0, length, present bitmaps; the Flags field
    (bit 1, after TSFT, bit 0, 8-byte aligned) says whether an FCS ends the frame (0x10) and
    whether the 802.11 header is padded (0x20)."""
    data, end = w.data, w.end
    if end - off < 8:
        return w.halt(MALFORMED, "radiotap header cut short")
    if data[off]:
        return w.halt(UNDECODED, f"radiotap version {data[off]}")
    hlen = LE16(data, off + 2)[0]
    if hlen < 8 or off + hlen > end:
        return w.halt(MALFORMED, f"radiotap length {hlen} runs past the packet")
    w.add("radiotap")
    present = LE32(data, off + 4)[0]
    p = off + 8
    word = present
    while word & 0x80000000:  # Ext: another present word follows
        if p + 4 > off + hlen:
            return w.halt(MALFORMED, "radiotap present bitmaps run past the header")
        word = LE32(data, p)[0]
        p += 4
    if present & 1:  # TSFT: u64, aligned to 8 from the header's start
        p = off + ((p - off + 7) & ~7) + 8
    if present & 2 and p < off + hlen:
        flags = data[p]
        if flags & 0x10:
            w.fcs = True
        w.datapad = bool(flags & 0x20)
    return _fcs(w, off + hlen)


def _fcs(w: Walk, off: int) -> Next:
    if w.fcs:
        if w.end - off < 4:
            return w.halt(MALFORMED, "802.11 frame shorter than its FCS")
        w.end -= 4
    return WIFI, 0, off


def ppi(w: Walk, _lt: int, off: int) -> Next:
    """Per-Packet Information header (PPI 1.0.10 §3): version, flags, length, the inner DLT, then
    fields; the 802.11-Common field (type 2) has a flag for an FCS at the end (0x0001)."""
    data, end = w.data, w.end
    if end - off < 8:
        return w.halt(MALFORMED, "PPI header cut short")
    hlen, dlt = LE16(data, off + 2)[0], LE32(data, off + 4)[0]
    if data[off] or hlen < 8 or off + hlen > end:
        return w.halt(MALFORMED, f"PPI version {data[off]} or length {hlen} is invalid")
    w.add("ppi")
    p = off + 8
    while p + 4 <= off + hlen:
        ftype, flen = LE16(data, p)[0], LE16(data, p + 2)[0]
        if ftype == 2 and flen >= 20 and p + 4 + flen <= off + hlen:
            w.fcs = bool(LE16(data, p + 12)[0] & 1)
        p += 4 + flen
    if dlt == 105:
        return _fcs(w, off + hlen)
    return DLT, dlt, off + hlen


def avs(w: Walk, _lt: int, off: int) -> Next:
    """The AVS (wlan-ng) header: version 0x8021100x and its length, big-endian."""
    data, end = w.data, w.end
    if end - off < 8:
        return w.halt(MALFORMED, "AVS header cut short")
    version, hlen = BE32(data, off)[0], BE32(data, off + 4)[0]
    if version & 0xFFFFF000 != _AVS_MAGIC or hlen < 8 or off + hlen > end:
        return w.halt(MALFORMED, f"AVS header version 0x{version:08x} or length {hlen} is invalid")
    w.add("avs")
    return WIFI, 0, off + hlen


def prism(w: Walk, lt: int, off: int) -> Next:
    """The Prism monitor-mode header (message code, message length in host order, device name,
    DIDs: 144 bytes); an AVS header found under this link type is read as AVS, as libpcap does."""
    data, end = w.data, w.end
    if end - off < 8:
        return w.halt(MALFORMED, "Prism header cut short")
    if BE32(data, off)[0] & 0xFFFFF000 == _AVS_MAGIC:
        return avs(w, lt, off)
    hlen = LE32(data, off + 4)[0]
    if hlen < 8 or off + hlen > end:
        hlen = BE32(data, off + 4)[0]
    if hlen < 8 or off + hlen > end:
        return w.halt(MALFORMED, "Prism message length runs past the packet")
    w.add("prism")
    return WIFI, 0, off + hlen


def pktap(w: Walk, _lt: int, off: int) -> Next:
    """Apple's PKTAP header (xnu bsd/net/pktap.h, little-endian): its own length, record type
    (1: packet), the inner DLT, interface, ..., process id at 52 and name at 56 (20 bytes);
    link-layer trailer length at 48."""
    data, end = w.data, w.end
    if end - off < 12:
        return w.halt(MALFORMED, "PKTAP header cut short")
    hlen, rectype, dlt = LE32(data, off)[0], LE32(data, off + 4)[0], LE32(data, off + 8)[0]
    if hlen < PKTAP_MIN or off + hlen > end:
        return w.halt(MALFORMED, f"PKTAP header length {hlen} is invalid")
    w.add("pktap")
    if rectype != 1:
        return w.halt(NOT_IP, "")
    pid = LE32(data, off + 52)[0]
    name = data[off + 56 : off + 76].split(b"\0", 1)[0].decode("utf-8", "replace")
    if name or pid:
        w.process = (name, pid if pid < 0x80000000 else pid - (1 << 32))
    trailer = LE32(data, off + 48)[0]
    if 0 < trailer <= end - off - hlen:
        w.end -= trailer
    if dlt in (149, 258):
        return w.halt(UNDECODED, "PKTAP inside PKTAP")
    return DLT, dlt, off + hlen


def nflog(w: Walk, _lt: int, off: int) -> Next:
    """Linux NFLOG (tcpdump.org LINKTYPE_NFLOG): family, version 0, resource id, then TLVs
    of length (with its 4-byte header, padded to 4) and type in the capturing host's byte order;
    NFULA_PAYLOAD (9) is the packet from its IP header."""
    data, end = w.data, w.end
    if end - off < 4:
        return w.halt(MALFORMED, "NFLOG header cut short")
    if data[off + 1]:
        return w.halt(UNDECODED, f"NFLOG version {data[off + 1]}")
    w.add("nflog")
    p = off + 4
    unpack = LE16
    if p + 4 <= end:
        n = LE16(data, p)[0]
        if n < 4 or p + n > end:
            unpack = BE16  # written on a big-endian host
    count = 0
    while p + 4 <= end and count < 64:
        count += 1
        tlen, ttype = unpack(data, p)[0], unpack(data, p + 2)[0] & 0x7FFF
        if tlen < 4 or p + tlen > end:
            return w.halt(MALFORMED, f"NFLOG TLV length {tlen} is invalid")
        if ttype == 9:  # NFULA_PAYLOAD
            w.end = p + tlen
            return IP, 0, p + 4
        p += (tlen + 3) & ~3
    return w.halt(NOT_IP, "")
