"""Field-by-field description of single packets, for drill-down views (not the hot path).

`packet_details(path, frames)` re-reads the capture and describes the requested packets
layer by layer (link, network, transport), with the raw bytes, so a UI can show the TCP
segments that carried a message.
"""

from __future__ import annotations

import struct
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Any

from analyzer.capture.pcapfile import LINKTYPE_NAMES, Mark, RawPacket, open_capture
from analyzer.decode.packet import PacketDecoder, ip_text, parse_tcp_options

__all__ = ["MAX_DETAIL_FRAMES", "describe_packet", "packet_details"]

MAX_DETAIL_FRAMES = 2000
_FLAG_NAMES = ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "AE")


def _flags(bits: int) -> list[str]:
    return [name for i, name in enumerate(_FLAG_NAMES) if bits & (1 << i)]


def describe_packet(pkt: RawPacket) -> dict[str, Any]:
    """The layers of one packet as dicts; layers that do not decode are left out."""
    out: dict[str, Any] = {
        "frame": pkt.frame,
        "ts": pkt.ts,
        "captured_length": len(pkt.data),
        "wire_length": pkt.orig_len,
        "link_type": LINKTYPE_NAMES.get(pkt.linktype, str(pkt.linktype)),
        "hex": pkt.data.hex(),
    }
    seg = PacketDecoder().decode(pkt)
    if seg is None:
        out["layers"] = [{"layer": "link", "name": out["link_type"], "fields": {}}]
        return out
    d = pkt.data
    link: dict[str, Any] = {"header_length": seg.link_len}
    if pkt.linktype == 1 and len(d) >= 14:
        link["dst_mac"] = ":".join(f"{b:02x}" for b in d[0:6])
        link["src_mac"] = ":".join(f"{b:02x}" for b in d[6:12])
        tags = []
        off = 12
        while off + 4 <= len(d) and struct.unpack_from("!H", d, off)[0] in (0x8100, 0x88A8, 0x9100):
            tags.append(struct.unpack_from("!H", d, off + 2)[0] & 0x0FFF)
            off += 4
        if tags:
            link["vlan_ids"] = tags
    if seg.path is not None:  # tunnels, tags, radio headers: every header in front of the IP header
        link["encapsulation"] = list(seg.path)
    if seg.process is not None:
        link["process"] = {"name": seg.process[0], "pid": seg.process[1]}
    ip_off = seg.link_len
    net: dict[str, Any] = {
        "version": seg.ip_version,
        "src": ip_text(seg.src),
        "dst": ip_text(seg.dst),
        "header_length": seg.ip_len,
    }
    if seg.ip_version == 4:
        net.update(
            total_length=struct.unpack_from("!H", d, ip_off + 2)[0],
            id=struct.unpack_from("!H", d, ip_off + 4)[0],
            ttl=d[ip_off + 8],
            dont_fragment=bool(d[ip_off + 6] & 0x40),
            checksum=f"0x{struct.unpack_from('!H', d, ip_off + 10)[0]:04x}",
        )
    else:
        net.update(payload_length=struct.unpack_from("!H", d, ip_off + 4)[0], hop_limit=d[ip_off + 7])
    tcp_off = seg.link_len + seg.ip_len
    tcp = {
        "src_port": seg.sport,
        "dst_port": seg.dport,
        "seq": seg.seq,
        "ack": seg.ack,
        "flags": _flags(seg.flags),
        "window": seg.window,
        "header_length": seg.tcp_len,
        "checksum": f"0x{struct.unpack_from('!H', d, tcp_off + 16)[0]:04x}",
        "options": parse_tcp_options(seg.options) if seg.options else {},
        "payload_length": len(seg.payload),
    }
    out["layers"] = [
        {"layer": "link", "name": out["link_type"], "fields": link},
        {"layer": "network", "name": f"IPv{seg.ip_version}", "fields": net},
        {"layer": "transport", "name": "TCP", "fields": tcp},
    ]
    out["payload_offset"] = tcp_off + seg.tcp_len
    return out


def packet_details(path: str, frames: Iterable[int], marks: Sequence[Mark] = ()) -> list[dict[str, Any]]:
    """Describe the given packets of a capture file (at most MAX_DETAIL_FRAMES of them).

    `marks`, the resume points a reader of the same file recorded (CaptureReader.marks), let
    the read start near the first wanted packet instead of at the top of the file."""
    wanted = sorted(set(frames))[:MAX_DETAIL_FRAMES]
    if not wanted:
        return []
    want = set(wanted)
    last = wanted[-1]
    k = bisect_left([m.frame for m in marks], wanted[0]) - 1  # the last mark before it
    mark = marks[k] if k >= 0 else None
    reader = open_capture(path)
    if mark is not None:
        reader.resume(mark)
    out = []
    for pkt in reader:
        if pkt.frame in want:
            out.append(describe_packet(pkt))
        if pkt.frame >= last:
            break
    reader.close()
    if mark is not None and not out:  # the file is not the one the marks were made from
        return packet_details(path, wanted)
    return out
