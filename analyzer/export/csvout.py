"""CSV export: one table per layer, each in its own file of one directory. The rows and lines
are made here; the sink that writes them is analyzer/export/csv_stream.py.

Tables and their columns are fixed (`TABLES`) and documented in docs/exports.md. Cells:
empty for null, `true`/`false` for booleans, timestamps as epoch seconds with every digit
Python keeps, lists of packet numbers separated by spaces, JSON values as compact JSON text.
Files are RFC 4180 CSV (comma, double quotes, CRLF), UTF-8 without a BOM.

Captured text is hostile: unless `raw=True`, a free-text cell that starts with `=`, `+`, `-`,
`@`, TAB or CR gets a leading `'` so that spreadsheets do not run it as a formula (OWASP
"CSV Injection"). The JSON Lines export always has the exact values.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

from analyzer.export.jsonl import safe_text
from analyzer.model.records import HttpExchange, header_value

__all__ = [
    "TABLES",
    "ack_row",
    "anomaly_row",
    "cell_field",
    "connection_row",
    "csv_fields",
    "csv_line",
    "eio_row",
    "http_row",
    "row_cells",
    "sio_row",
    "write_lines",
    "write_table",
    "ws_row",
]

# table -> columns; free-text columns (captured strings) are marked with a trailing "*" here only
_SPEC: dict[str, tuple[str, ...]] = {
    "connections": (
        "id",
        "client_ip",
        "client_port",
        "server_ip",
        "server_port",
        "ip_version",
        "app_protocol",
        "sids*",
        "first_frame",
        "last_frame",
        "first_ts",
        "last_ts",
        "packets_c2s",
        "packets_s2c",
        "payload_bytes_c2s",
        "payload_bytes_s2c",
        "handshake_complete",
        "handshake_rtt_ms",
        "end",
        "retransmissions",
        "gaps",
        "http_exchanges",
        "ws_url*",
        "ws_frames",
        "ws_messages",
        "ws_close_code_c2s",
        "ws_close_code_s2c",
    ),
    "websocket_messages": (
        "connection",
        "sid*",
        "direction",
        "ts",
        "frame",
        "packets",
        "opcode",
        "compressed",
        "frames",
        "length",
        "truncated",
        "text*",
        "data_hex",
    ),
    "engineio_packets": (
        "sid*",
        "connection",
        "transport",
        "direction",
        "ts",
        "frame",
        "type",
        "binary",
        "b64",
        "size",
        "truncated",
        "data*",
        "data_hex",
    ),
    "socketio_packets": (
        "sid*",
        "connection",
        "transport",
        "direction",
        "ts",
        "frame",
        "packets",
        "type",
        "nsp*",
        "ack_id",
        "event*",
        "args",
        "data",
        "attachments",
        "complete",
    ),
    "acks": (
        "sid*",
        "nsp*",
        "ack_id",
        "event*",
        "request_direction",
        "request_ts",
        "request_frame",
        "response_ts",
        "response_frame",
        "latency_ms",
    ),
    "anomalies": ("code", "severity", "layer", "connection", "direction", "frames", "message*"),
    "http": (
        "connection",
        "index",
        "sid*",
        "method*",
        "target*",
        "host*",
        "request_version*",
        "request_frame",
        "request_ts",
        "request_frames",
        "request_body_bytes",
        "request_content_type*",
        "upgrade*",
        "status",
        "reason*",
        "response_version*",
        "response_frame",
        "response_ts",
        "response_frames",
        "response_body_bytes",
        "response_content_type*",
    ),
}
TABLES: dict[str, tuple[str, ...]] = {t: tuple(c.rstrip("*") for c in cols) for t, cols in _SPEC.items()}
_FREE_TEXT: dict[str, frozenset[int]] = {
    t: frozenset(i for i, c in enumerate(cols) if c.endswith("*")) for t, cols in _SPEC.items()
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Row = list[Any]


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, tuple | list):
        return safe_text(" ".join(str(x) for x in v))
    return safe_text(str(v))


def _json(v: Any) -> str | None:
    return None if v is None else json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def connection_row(c: Any, sids: list[str], ws_frames: int | None, ws_messages: int | None) -> Row:
    tcp = c.tcp
    hs = tcp.get("handshake") or {}
    ws = c.websocket
    close = ws.close if ws is not None else {}
    return [
        c.id,
        c.client.get("ip"),
        c.client.get("port"),
        c.server.get("ip"),
        c.server.get("port"),
        c.ip_version,
        c.app_protocol,
        sids,
        tcp.get("first_frame"),
        tcp.get("last_frame"),
        tcp.get("first_ts"),
        tcp.get("last_ts"),
        (tcp.get("packets") or {}).get("c2s"),
        (tcp.get("packets") or {}).get("s2c"),
        (tcp.get("payload_bytes") or {}).get("c2s"),
        (tcp.get("payload_bytes") or {}).get("s2c"),
        hs.get("complete"),
        hs.get("rtt_ms"),
        tcp.get("end"),
        tcp.get("retransmissions"),
        tcp.get("gaps"),
        len(c.http),
        ws.url if ws is not None else None,
        ws_frames,
        ws_messages,
        (close.get("c2s") or {}).get("code"),
        (close.get("s2c") or {}).get("code"),
    ]


def ws_row(cid: int, sid: str | None, d: dict[str, Any]) -> Row:
    """A WebSocket message, as in the analysis document."""
    return [
        cid,
        sid,
        d["direction"],
        d["ts"],
        d["frame"],
        d["packets"],
        d["opcode"],
        d["compressed"],
        d["frames"],
        d["length"],
        d["truncated"],
        d["text"],
        d["data_hex"],
    ]


def _text(json_text: str) -> str | None:
    """A JSON text as _json writes the value it encodes."""
    return None if json_text == "null" else json_text


def _placed(sid: str, d: dict[str, Any]) -> Row:
    """The first cells of a session's packet: where and when it travelled."""
    return [sid, d["connection"], d["transport"], d["direction"], d["ts"], d["frame"]]


def eio_row(sid: str, d: dict[str, Any]) -> Row:
    """An Engine.IO packet, as in the analysis document."""
    return [
        *_placed(sid, d),
        d["type"],
        d["binary"],
        d.get("b64", False),
        d["size"],
        d.get("truncated", False),
        d["data"],
        d["data_hex"],
    ]


def sio_row(sid: str, d: dict[str, Any], args: str | None = None, data: str | None = None) -> Row:
    """A Socket.IO packet, as in the analysis document. `args` and `data`, when given, are the
    JSON text of those fields as the document has them (streamsel.sio_entries): the cells are
    that text, not decoded and encoded again (the same text: jsonl.sio_line says why)."""
    return [
        *_placed(sid, d),
        d["frames"] or [d["frame"]],
        d["type"],
        d["nsp"],
        d["ack_id"],
        d["event"],
        _json(d["args"]) if args is None else _text(args),
        _json(d["data"]) if data is None else _text(data),
        d["attachments"],
        d.get("complete", True),
    ]


def ack_row(sid: str, a: Any) -> Row:
    return [
        sid,
        a.nsp,
        a.ack_id,
        a.event,
        a.request_direction.value,
        a.request_ts,
        a.request_frame,
        a.response_ts,
        a.response_frame,
        a.latency_ms,
    ]


def anomaly_row(a: Any) -> Row:
    return [
        a.code,
        a.severity.value,
        a.layer.value,
        a.connection,
        a.direction.value if a.direction is not None else None,
        a.frames,
        a.message,
    ]


def http_row(sid: str | None, x: HttpExchange) -> Row:
    q, r = x.request, x.response
    return [
        x.connection,
        x.index,
        sid,
        q.method if q else None,
        q.target if q else None,
        (header_value(q.headers, "host") or header_value(q.headers, ":authority"))
        if q
        else None,  # HTTP/2: RFC 9113 §8.3.1
        q.version if q else None,
        q.frame if q else None,
        q.ts if q else None,
        q.frames if q else None,
        len(q.body) if q else None,
        header_value(q.headers, "content-type") if q else None,
        header_value(q.headers, "upgrade") if q else None,
        r.status if r else None,
        r.reason if r else None,
        r.version if r else None,
        r.frame if r else None,
        r.ts if r else None,
        r.frames if r else None,
        len(r.body) if r else None,
        header_value(r.headers, "content-type") if r else None,
    ]


def write_table(directory: str, table: str, rows: Iterable[Row], raw: bool = False) -> int:
    """`<table>.csv` in `directory`: the header, then the rows (values, made cells here)."""
    return write_lines(directory, table, (csv_line(row_cells(table, row, raw)) for row in rows))


def write_lines(directory: str, table: str, lines: Iterable[str]) -> int:
    """`<table>.csv` in `directory`: the header, then lines made by `csv_line`."""
    n = 0
    with open(os.path.join(directory, table + ".csv"), "w", encoding="utf-8", newline="") as fh:
        write = fh.write
        write(csv_line(TABLES[table]))
        for line in lines:
            write(line)
            n += 1
    return n


def row_cells(table: str, row: Row, raw: bool) -> list[str]:
    """A row's values as the text of its cells, free-text cells defused (unless `raw`)."""
    cells = [_cell(v) for v in row]
    if not raw:
        for i in _FREE_TEXT[table]:
            if cells[i].startswith(_FORMULA_START):
                cells[i] = "'" + cells[i]
    return cells


def cell_field(table: str, column: int, value: Any, raw: bool) -> str:
    """One cell as `csv_line` writes it (for a cell filled in after the rest of its line)."""
    cell = _cell(value)
    if not raw and column in _FREE_TEXT[table] and cell.startswith(_FORMULA_START):
        cell = "'" + cell
    return _field(cell)


def _field(cell: str) -> str:
    # RFC 4180 §2 items 6-7: a field holding a comma, a double quote or a line break is quoted,
    # its double quotes doubled
    if '"' in cell:
        return '"' + cell.replace('"', '""') + '"'
    if "," in cell or "\n" in cell or "\r" in cell:
        return '"' + cell + '"'
    return cell


def csv_line(cells: Sequence[str]) -> str:
    """One CSV line, exactly as Python's csv.writer (excel dialect) writes it. That writer copies
    each cell character by character into a buffer it grows 32 KiB at a time: 30 MB/s on the
    multi-megabyte payload cells of a big capture. The str methods here scan at memory speed."""
    if len(cells) == 1 and cells[0] == "":
        return '""\r\n'  # csv.writer quotes a lone empty field, or the line would read as no field
    return csv_fields(cells) + "\r\n"


def csv_fields(cells: Sequence[str]) -> str:
    """Cells as the comma-separated fields of a line (no line end, no special case)."""
    return ",".join(map(_field, cells))
