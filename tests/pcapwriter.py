"""Tiny pcap/pcapng writers for format tests (the reader under test never uses them)."""

from __future__ import annotations

import struct
from collections.abc import Iterable

Packet = tuple[float, bytes]


def pcap_bytes(
    packets: Iterable[Packet], linktype: int = 1, endian: str = "<", nanos: bool = False, orig_extra: int = 0
) -> bytes:
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype)]
    for ts, data in packets:
        sec = int(ts)
        frac = round((ts - sec) * (1e9 if nanos else 1e6))
        out.append(struct.pack(endian + "IIII", sec, frac, len(data), len(data) + orig_extra) + data)
    return b"".join(out)


def _block(btype: int, body: bytes, endian: str = "<") -> bytes:
    pad = (-len(body)) % 4
    n = 12 + len(body) + pad
    return struct.pack(endian + "II", btype, n) + body + b"\0" * pad + struct.pack(endian + "I", n)


def pcapng_bytes(
    interfaces: list[tuple[int, int | None]],
    packets: Iterable[tuple[int, float, bytes]],
    endian: str = "<",
    extra_blocks: bool = True,
    tsoffsets: dict[int, int] | None = None,
) -> bytes:
    """interfaces: (linktype, if_tsresol byte or None); packets: (interface, ts, data), ts in
    seconds, or an int: the timestamp's ticks as written; tsoffsets: interface -> if_tsoffset (s)."""
    shb = struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1)
    out = [_block(0x0A0D0D0A, shb, endian)]
    resolutions = []
    for n, (lt, tsresol) in enumerate(interfaces):
        opts = b""
        if tsresol is not None:
            opts += struct.pack(endian + "HH", 9, 1) + bytes([tsresol]) + b"\0\0\0"
        if tsoffsets and n in tsoffsets:
            opts += struct.pack(endian + "HHq", 14, 8, tsoffsets[n])  # if_tsoffset (§4.2)
        if opts:
            opts += struct.pack(endian + "HH", 0, 0)
        out.append(_block(1, struct.pack(endian + "HHI", lt, 0, 0) + opts, endian))
        if tsresol is None:
            resolutions.append(1e-6)
        elif tsresol & 0x80:
            resolutions.append(2.0 ** -(tsresol & 0x7F))
        else:
            resolutions.append(10.0**-tsresol)
    if extra_blocks:
        out.append(_block(0x00000BAD, b"custom block to skip", endian))
    for iface, ts, data in packets:
        t = ts if isinstance(ts, int) else round(ts / resolutions[iface])
        body = struct.pack(endian + "IIIII", iface, t >> 32, t & 0xFFFFFFFF, len(data), len(data)) + data
        out.append(_block(6, body, endian))
        if extra_blocks:
            out.append(_block(5, struct.pack(endian + "I", iface) + b"\0" * 12, endian))  # stats block
    return b"".join(out)
