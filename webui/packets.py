"""Packets as Wireshark shows them: the layers top to bottom from the link (Ethernet first), TCP
sequence and acknowledgment numbers relative to the connection's initial ones (the raw numbers
beside them), flags by name, and the one-line summary of the packet list.

Packets come described field by field from the analyzer (`analyzer.pipeline.access.read_packets`:
layers link, network, transport); the initial sequence numbers are those of the connection's SYN
and SYN-ACK, read the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from webui.docutil import as_int, endpoint_text
from webui.index import LAYER_NAMES, LAYERS, Index, Row

__all__ = [
    "MAX_DUMP",
    "Bases",
    "bytes_of_hex",
    "hexdump",
    "packet_dump",
    "packet_rows",
    "packet_sections",
    "seq_bases",
    "show_value",
    "tcp_line",
]

MAX_DUMP = 64 << 10  # bytes shown per hex dump
_MOD = 1 << 32
LINK_NAMES = {
    "EN10MB": "Ethernet II",
    "LINUX_SLL": "Linux cooked capture v1",
    "LINUX_SLL2": "Linux cooked capture v2",
    "NULL": "Null/Loopback",
    "LOOP": "OpenBSD loopback",
    "RAW": "Raw IP",
}

PacketLoader = Callable[[list[int]], list[dict[str, Any]]]


class Bases(NamedTuple):
    """What makes a packet's sequence numbers relative: its connection, its direction, and the
    initial sequence numbers of its own direction and of the other (None: not seen)."""

    connection: int | None
    c2s: bool
    seq: int | None
    ack: int | None


def hexdump(data: bytes, limit: int = MAX_DUMP) -> list[str]:
    """Wireshark-style lines: offset, 16 hex bytes, printable ASCII."""
    cut = data[:limit]
    lines = []
    for off in range(0, len(cut), 16):
        chunk = cut[off : off + 16]
        hexpart = " ".join(f"{b:02x}" for b in chunk[:8]) + "  " + " ".join(f"{b:02x}" for b in chunk[8:])
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{off:06x}  {hexpart:<48}  {text}")
    if len(data) > limit:
        lines.append(f"... {len(data) - limit:,} more bytes not shown")
    return lines


def packet_dump(title: str, data: bytes | None) -> list[dict[str, Any]]:
    if data is None:
        return []
    return [{"title": f"{title} ({len(data):,} bytes)", "lines": hexdump(data)}]


def bytes_of_hex(h: Any) -> bytes | None:
    if not isinstance(h, str):
        return None
    try:
        return bytes.fromhex(h)
    except ValueError:
        return None


def _layer(pkt: dict[str, Any], name: str) -> dict[str, Any]:
    for layer in pkt.get("layers") or []:
        if isinstance(layer, dict) and layer.get("layer") == name:
            fields = layer.get("fields")
            return fields if isinstance(fields, dict) else {}
    return {}


def _ends(pkt: dict[str, Any]) -> tuple[str, str] | None:
    net, tcp = _layer(pkt, "network"), _layer(pkt, "transport")
    if not net or not tcp:
        return None
    return (
        endpoint_text({"ip": net.get("src"), "port": tcp.get("src_port")}),
        endpoint_text({"ip": net.get("dst"), "port": tcp.get("dst_port")}),
    )


def seq_bases(ix: Index, packets: list[dict[str, Any]], load: PacketLoader | None) -> dict[int, Bases]:
    """For each TCP packet (by number): its connection and the initial sequence numbers that make
    its seq and ack relative (RFC 9293 §3.4: the SYN's and the SYN-ACK's). The handshakes not among
    `packets` are read with `load`."""
    owners: dict[int, tuple[int, bool]] = {}
    for p in packets:
        ends, frame = _ends(p), as_int(p.get("frame"))
        found = ix.connection_at(ends[0], ends[1], frame) if ends and frame is not None else None
        if found is not None and frame is not None:
            owners[frame] = found
    have = {as_int(p.get("frame")): p for p in packets}
    need = {f for ci, _ in owners.values() for f in ix.conn_summaries[ci].syn_frames if f is not None}
    missing = sorted(f for f in need if f not in have)
    if missing and load is not None:
        have.update((as_int(p.get("frame")), p) for p in load(missing))

    def isn(frame: int | None, flags: tuple[str, ...]) -> int | None:
        tcp = _layer(have.get(frame) or {}, "transport")
        got = tcp.get("flags") or []
        return as_int(tcp.get("seq")) if all(f in got for f in flags) else None

    out: dict[int, Bases] = {}
    for frame, (ci, c2s) in owners.items():
        c = ix.conn_summaries[ci]
        client, server = isn(c.syn_frames[0], ("SYN",)), isn(c.syn_frames[1], ("SYN", "ACK"))
        out[frame] = Bases(c.id, c2s, client if c2s else server, server if c2s else client)
    return out


def _rel(value: Any, base: int | None) -> int | None:
    v = as_int(value)
    return None if v is None or base is None else (v - base) % _MOD


def show_value(v: Any) -> str:
    if v is None:
        return "\u2014"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.6f}"
    if isinstance(v, list | dict):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _tcp_fields(tcp: dict[str, Any], base: Bases | None) -> list[tuple[str, str]]:
    """TCP's fields as Wireshark lists them: relative seq and ack, with the raw numbers after."""
    flags = [str(f) for f in tcp.get("flags") or []]
    seq = _rel(tcp.get("seq"), base.seq if base else None)
    ack = _rel(tcp.get("ack"), base.ack if base else None) if "ACK" in flags else None
    out = [("src_port", show_value(tcp.get("src_port"))), ("dst_port", show_value(tcp.get("dst_port")))]
    out.append(("seq", f"{seq} (relative)" if seq is not None else show_value(tcp.get("seq"))))
    out.append(("seq (raw)", show_value(tcp.get("seq"))))
    if "ACK" in flags:
        out.append(("ack", f"{ack} (relative)" if ack is not None else show_value(tcp.get("ack"))))
        out.append(("ack (raw)", show_value(tcp.get("ack"))))
    out.append(("flags", ", ".join(flags) or "none"))
    skip = {"src_port", "dst_port", "seq", "ack", "flags"}
    out += [(k, show_value(v)) for k, v in tcp.items() if k not in skip]
    return out


def _proto_title(layer: dict[str, Any], tcp_line: str) -> str:
    name, fields = str(layer.get("name")), layer.get("fields") or {}
    if layer.get("layer") == "link":
        title = LINK_NAMES.get(name, name) + (f" ({name})" if name in LINK_NAMES else "")
        if fields.get("src_mac"):
            title += f", Src: {fields.get('src_mac')}, Dst: {fields.get('dst_mac')}"
        return title
    if layer.get("layer") == "network":
        return f"{name}, Src: {fields.get('src')}, Dst: {fields.get('dst')}"
    return f"{name}, {tcp_line}" if layer.get("layer") == "transport" else name


def tcp_line(pkt: dict[str, Any], base: Bases | None) -> str:
    """Wireshark's one-line TCP info: ports, flags, relative Seq and Ack, window, length."""
    tcp = _layer(pkt, "transport")
    if not tcp:
        return "not TCP/IP (not decoded)"
    flags = [str(f) for f in tcp.get("flags") or []]
    seq = _rel(tcp.get("seq"), base.seq if base else None)
    ack = _rel(tcp.get("ack"), base.ack if base else None)
    line = f"{tcp.get('src_port')} \u2192 {tcp.get('dst_port')} [{', '.join(flags)}]"
    line += f" Seq={seq if seq is not None else tcp.get('seq')}"
    if "ACK" in flags:
        line += f" Ack={ack if ack is not None else tcp.get('ack')}"
    return line + f" Win={tcp.get('window')} Len={tcp.get('payload_length')}"


def packet_sections(
    packets: list[dict[str, Any]], bases: dict[int, Bases] | None = None
) -> list[dict[str, Any]]:
    """One section per packet: its layers from the link up (each with its fields), then the bytes."""
    out = []
    for pkt in packets:
        frame = as_int(pkt.get("frame"))
        base = (bases or {}).get(frame) if frame is not None else None
        layers = [x for x in pkt.get("layers") or [] if isinstance(x, dict)]
        fields = [
            ("time", show_value(pkt.get("ts"))),
            ("captured / on the wire", f"{pkt.get('captured_length')} / {pkt.get('wire_length')} bytes"),
        ]
        if base is not None and base.connection is not None:
            fields.append(
                (
                    "connection",
                    f"TCP #{base.connection}, {'client → server' if base.c2s else 'server → client'}",
                )
            )
        protos = []
        for layer in layers:  # link, network, transport: top to bottom, as Wireshark lists them
            lf = layer.get("fields") or {}
            if layer.get("layer") == "transport" and layer.get("name") == "TCP":
                shown = _tcp_fields(lf, base)
            else:
                shown = [
                    (k, ", ".join(map(str, v)) if k == "vlan_ids" and isinstance(v, list) else show_value(v))
                    for k, v in lf.items()
                ]
            protos.append(
                {
                    "layer": str(layer.get("layer")),
                    "title": _proto_title(layer, tcp_line(pkt, base)),
                    "fields": shown,
                }
            )
        out.append(
            {
                "title": f"Packet {frame}: " + " / ".join(str(x.get("name")) for x in layers),
                "layer": "packet",
                "fields": fields,
                "protos": protos,
                "dumps": _packet_dumps(pkt),
                "frame": frame,
            }
        )
    return out


def _packet_dumps(pkt: dict[str, Any]) -> list[dict[str, Any]]:
    raw = bytes_of_hex(pkt.get("hex")) or b""
    off = pkt.get("payload_offset")
    if isinstance(off, int) and 0 <= off <= len(raw):
        dumps = packet_dump("link + IP + TCP headers", raw[:off])
        if off < len(raw):
            dumps += packet_dump("TCP payload (as captured: masked, compressed)", raw[off:])
        return dumps
    return packet_dump("raw packet", raw)


def _top_layer(rows: Iterable[Row]) -> str | None:
    best = max((LAYERS.index(r.layer) for r in rows), default=None)
    return None if best is None else LAYER_NAMES.get(LAYERS[best], LAYERS[best])


def packet_rows(ix: Index, packets: list[dict[str, Any]], bases: dict[int, Bases]) -> list[dict[str, Any]]:
    """The lines of the packet list: number, time, source, destination, protocol, length, info,
    and the records the packet carried."""
    out = []
    for p in packets:
        frame = as_int(p.get("frame")) or 0
        net, tcp = _layer(p, "network"), _layer(p, "transport")
        carried = ix.rows_for_frame(frame)
        ts = p.get("ts")
        out.append(
            {
                "frame": frame,
                "t": ts - ix.t0 if isinstance(ts, float | int) else None,
                "src": net.get("src", "") if net else "",
                "dst": net.get("dst", "") if net else "",
                "protocol": (_top_layer(carried) or "TCP") if tcp else str(p.get("link_type") or ""),
                "length": p.get("wire_length"),
                "info": tcp_line(p, bases.get(frame)),
                "rows": carried[:3],
                "more_rows": max(0, len(carried) - 3),
            }
        )
    return out
