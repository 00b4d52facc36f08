"""The drill-down of one row: its OSI stack, each layer with its fields, and hex dumps.

Sections are plain data (titles, field lists, tables, hex dump lines); the template prints
them as text, autoescaped. Raw packet bytes come from the analyzer (`analyzer.pipeline.access.read_packets`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from webui.index import LAYER_NAMES, WS_OPCODE_NAMES, Index, Row, as_dict, as_list, record_packets
from webui.packets import MAX_DUMP, bytes_of_hex, packet_dump, packet_sections, seq_bases, show_value
from webui.tlsview import tls_sections

__all__ = ["MAX_PACKETS", "build_detail"]

MAX_PACKETS = 64  # packets described on one detail page

PacketLoader = Callable[[list[int]], list[dict[str, Any]]]


def _section(title: str, layer: str, fields: list[tuple[str, Any]], **extra: Any) -> dict[str, Any]:
    sec: dict[str, Any] = {"title": title, "layer": layer, "fields": [(k, show_value(v)) for k, v in fields]}
    sec.update(extra)
    return sec


def _sio_section(ix: Index, row: Row) -> dict[str, Any]:
    p = ix.record(row)
    data = p.get("data")
    return _section(
        f"Socket.IO packet: {row.kind}",
        "socketio",
        [
            ("type", p.get("type")),
            ("namespace", p.get("nsp")),
            ("event", p.get("event")),
            ("ack id", p.get("ack_id")),
            ("attachments", p.get("attachments")),
            ("direction", p.get("direction")),
            ("transport", p.get("transport")),
            ("connection", p.get("connection")),
            ("time", p.get("ts")),
            ("packet", p.get("frame")),
        ],
        json=json.dumps(data, ensure_ascii=False, indent=2)[:MAX_DUMP] if data is not None else None,
        json_title="data (attachments put in place)",
    )


def _eio_section(ix: Index, row: Row) -> dict[str, Any]:
    p = ix.record(row)
    payload: bytes | None
    if p.get("binary"):
        payload = bytes_of_hex(p.get("data_hex"))
    else:
        d = p.get("data")
        payload = d.encode("utf-8", "replace") if isinstance(d, str) else None
    return _section(
        f"Engine.IO packet: {row.kind}",
        "engineio",
        [
            ("type", p.get("type")),
            ("binary", p.get("binary")),
            ("data", p.get("data") if not p.get("binary") else None),
            ("direction", p.get("direction")),
            ("transport", p.get("transport")),
            ("connection", p.get("connection")),
            ("time", p.get("ts")),
            ("packet", p.get("frame")),
        ],
        dumps=packet_dump("packet data", payload),
        row_id=row.id,
    )


def _ws_frames_table(frames: Iterable[dict[str, Any]]) -> dict[str, Any]:
    rows = []
    for f in frames:
        op = f.get("opcode")
        rows.append(
            [
                show_value(f.get("frame")),
                show_value(f.get("direction")),
                "1" if f.get("fin") else "0",
                "".join("1" if f.get(k) else "0" for k in ("rsv1", "rsv2", "rsv3")),
                f"{op} ({WS_OPCODE_NAMES.get(op, 'reserved') if isinstance(op, int) else '?'})",
                "1" if f.get("masked") else "0",
                show_value(f.get("mask_key")),
                show_value(f.get("payload_length")),
                show_value(f.get("length_form")),
            ]
        )
    return {
        "columns": [
            "packet",
            "dir",
            "FIN",
            "RSV1-3",
            "opcode",
            "MASK",
            "mask key",
            "payload length",
            "length form",
        ],
        "rows": rows,
        "class": "frames",
        "packet_column": 0,  # shown as a link to the packet
    }


def _ws_sections(ix: Index, row: Row) -> list[dict[str, Any]]:
    rec = ix.record(row)
    frames = ix.ws_message_frames(row)
    out = []
    if row.src[0] == "ws_msg":
        text = rec.get("text")
        payload = text.encode("utf-8") if isinstance(text, str) else bytes_of_hex(rec.get("data_hex"))
        out.append(
            _section(
                f"WebSocket message: {row.kind}",
                "websocket",
                [
                    ("opcode", rec.get("opcode")),
                    ("compressed (permessage-deflate)", rec.get("compressed")),
                    ("frames", rec.get("frames")),
                    ("length (after inflating)", rec.get("length")),
                    ("direction", rec.get("direction")),
                    ("time", rec.get("ts")),
                    ("last packet", rec.get("frame")),
                ],
                text=text if isinstance(text, str) else None,
                dumps=packet_dump("payload, unmasked and inflated", payload),
                table=_ws_frames_table(frames),
                table_title="frames (RFC 6455 \u00a75.2)",
                row_id=row.id,
            )
        )
    else:
        out.append(
            _section(
                f"WebSocket frame: {row.kind}",
                "websocket",
                [
                    ("FIN", rec.get("fin")),
                    (
                        "RSV1 / RSV2 / RSV3",
                        f"{int(bool(rec.get('rsv1')))} {int(bool(rec.get('rsv2')))} "
                        f"{int(bool(rec.get('rsv3')))}",
                    ),
                    ("opcode", rec.get("opcode")),
                    ("MASK", rec.get("masked")),
                    ("mask key", rec.get("mask_key")),
                    ("payload length", rec.get("payload_length")),
                    ("length form", rec.get("length_form")),
                    ("close code", rec.get("close_code")),
                    ("close reason", rec.get("close_reason")),
                    ("direction", rec.get("direction")),
                    ("time", rec.get("ts")),
                    ("packet", rec.get("frame")),
                ],
                dumps=packet_dump("payload, unmasked", bytes_of_hex(rec.get("payload_hex"))),
                row_id=row.id,
            )
        )
    return out


def _http_section(ix: Index, row: Row) -> dict[str, Any]:
    rec = ix.record(row)
    body = as_dict(rec, "body")
    text = body.get("text")
    payload = text.encode("utf-8") if isinstance(text, str) else bytes_of_hex(body.get("hex"))
    if row.kind == "request":
        start = f"{rec.get('method')} {rec.get('target')} {rec.get('version')}"
    else:
        start = f"{rec.get('version')} {rec.get('status')} {rec.get('reason')}"
    headers = [
        [str(h[0]), str(h[1])] for h in as_list(rec, "headers") if isinstance(h, list | tuple) and len(h) == 2
    ]
    return _section(
        f"HTTP {row.kind}",
        "http",
        [
            ("start line", start),
            ("body length", body.get("length")),
            ("body cut for display", body.get("cut")),
            ("time", rec.get("ts")),
            ("packet", rec.get("frame")),
        ],
        table={"columns": ["header", "value"], "rows": headers},
        table_title="headers",
        dumps=packet_dump("body (decoded)", payload),
        row_id=row.id,
    )


def _tcp_section(ix: Index, row: Row) -> dict[str, Any]:
    tcp = as_dict(ix.connection(row.connection), "tcp")
    hs = as_dict(tcp, "handshake")
    packets = as_dict(tcp, "packets")
    return _section(
        f"TCP connection #{row.connection}: {row.kind}",
        "tcp",
        [
            ("handshake RTT (ms)", hs.get("rtt_ms")),
            ("handshake complete", hs.get("complete")),
            ("end", tcp.get("end")),
            ("packets c2s / s2c", f"{packets.get('c2s')} / {packets.get('s2c')}"),
            ("retransmissions", tcp.get("retransmissions")),
            ("gaps", tcp.get("gaps")),
        ],
    )


def build_detail(ix: Index, row: Row, load_packets: PacketLoader | None) -> dict[str, Any]:
    """The stack of one row, top layer first, then the packets that carried it."""
    sections: list[dict[str, Any]] = []
    frames: set[int] = set(row.packets)
    carriers: list[Row] = []
    conns = [row.connection]
    if row.layer == "socketio":
        sections.append(_sio_section(ix, row))
        for e in ix.sio_eio_rows(row):
            conns.append(e.connection)
            sections.append(_eio_section(ix, e))
            frames.update(e.packets)
            carriers.extend(c for c in ix.carrier_rows(e) if c not in carriers)
    elif row.layer == "engineio":
        sections.append(_eio_section(ix, row))
        carriers.extend(ix.carrier_rows(row))
    elif row.layer == "websocket":
        sections.extend(_ws_sections(ix, row))
        for f in ix.ws_message_frames(row):
            frames.update(record_packets(f))
    elif row.layer == "http":
        sections.append(_http_section(ix, row))
    elif row.layer == "tcp":
        sections.append(_tcp_section(ix, row))
    for c in carriers:
        if c.layer == "websocket":
            sections.extend(_ws_sections(ix, c))
            for f in ix.ws_message_frames(c):
                frames.update(record_packets(f))
        else:
            sections.append(_http_section(ix, c))
        frames.update(c.packets)
    wanted = sorted(frames)
    packets = load_packets(wanted[:MAX_PACKETS]) if load_packets and wanted else []
    sections.extend(tls_sections(ix, [*conns, *(c.connection for c in carriers)], packets))
    sections.extend(packet_sections(packets, seq_bases(ix, packets, load_packets)))
    return {
        "row": row.to_dict(),
        "layer_name": LAYER_NAMES.get(row.layer, row.layer),
        "sections": sections,
        "frames": wanted,
        "frames_cut": len(wanted) > MAX_PACKETS,
        "carriers": [c.to_dict() for c in carriers],
        "ack": ix.links.ack_partner(row),
    }
