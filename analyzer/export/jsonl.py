"""JSON Lines export: one record per decoded message at one layer, written as it is produced.

Layers: `websocket` (text/binary messages of every selected connection), `engineio` (Engine.IO
packets of every selected session, both transports), `socketio` (Socket.IO packets, binary
attachments put in place). Records of several connections or sessions are merged in capture
order (by packet number). Field names are listed in docs/exports.md.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Iterator
from typing import IO, Any

from analyzer.export.select import Selected
from analyzer.model.records import WsMessageRecord
from analyzer.model.session import EngineIOSession
from analyzer.model.websocket import message_dict

__all__ = [
    "LAYERS",
    "eio_record",
    "iter_records",
    "json_line",
    "safe_text",
    "sio_record",
    "write_jsonl",
    "ws_record",
]

LAYERS = ("websocket", "engineio", "socketio")


def safe_text(s: str) -> str:
    """`s` made encodable as UTF-8: lone surrogates (from JSON `"\\ud800"` on the wire) become the
    six characters `\\ud800`, which inside a JSON string is the same code point again."""
    if s.isascii():
        return s
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")
    return s


_LINE_BREAKS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def json_line(record: dict[str, Any]) -> str:
    """One compact JSON text with its newline, safe to write to any UTF-8 file.

    NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR are escaped too: JSON allows them raw, but
    line readers such as `str.splitlines()` break lines there. They can only occur inside
    strings, where the escape means the same character.
    """
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    if not text.isascii():
        text = safe_text(text).translate(_LINE_BREAKS)
    return text + "\n"


def ws_record(sid: str | None, cid: int, m: dict[str, Any]) -> dict[str, Any]:
    """A WebSocket message (as in the analysis document) as a JSON Lines record: text as a
    string, binary (or text that is not UTF-8) as $hex."""
    text = m.get("text")
    bad_utf8 = m["opcode"] == "text" and text is None
    data: Any = text if m["opcode"] == "text" and text is not None else {"$hex": m.get("data_hex") or ""}
    rec: dict[str, Any] = {
        "layer": "websocket",
        "sid": sid,
        "connection": cid,
        "direction": m["direction"],
        "ts": m["ts"],
        "frame": m["frame"],
        "packets": m["packets"],
        "opcode": m["opcode"],
        "compressed": m["compressed"],
        "frames": m["frames"],
        "length": m["length"],
        "truncated": m["truncated"],
        "data": data,
    }
    if bad_utf8:
        rec["invalid_utf8"] = True
    return rec


def _ws_records(selected: Selected) -> Iterator[tuple[int, dict[str, Any]]]:
    streams: list[Iterator[tuple[int, dict[str, Any]]]] = []
    for conn in selected.connections:
        if conn.websocket is not None and conn.websocket.messages:
            streams.append(_ws_conn_records(selected, conn.id, conn.websocket.messages))
    return heapq.merge(*streams, key=lambda r: r[0])


def _ws_conn_records(
    selected: Selected, cid: int, messages: Iterable[WsMessageRecord]
) -> Iterator[tuple[int, dict[str, Any]]]:
    sid = selected.sid_of_connection(cid)
    for m in messages:
        yield m.frame, ws_record(sid, cid, message_dict(m))


def eio_record(sid: str, d: dict[str, Any]) -> dict[str, Any]:
    """An Engine.IO packet (as in the analysis document) as a JSON Lines record."""
    rec: dict[str, Any] = {
        "layer": "engineio",
        "sid": sid,
        "connection": d["connection"],
        "direction": d["direction"],
        "ts": d["ts"],
        "frame": d["frame"],
        "packets": [d["frame"]],
        "transport": d["transport"],
        "type": d["type"],
        "binary": d["binary"],
        "size": d["size"],
        "data": {"$hex": d["data_hex"]} if d.get("data_hex") is not None else d["data"],
    }
    if d.get("b64"):
        rec["b64"] = True
    if d.get("truncated"):
        rec["truncated"] = True
    return rec


def sio_record(sid: str, d: dict[str, Any]) -> dict[str, Any]:
    """A Socket.IO packet (as in the analysis document: args/data with {"$hex"} in place)."""
    rec: dict[str, Any] = {
        "layer": "socketio",
        "sid": sid,
        "connection": d["connection"],
        "direction": d["direction"],
        "ts": d["ts"],
        "frame": d["frame"],
        "packets": d["frames"] or [d["frame"]],
        "transport": d["transport"],
        "type": d["type"],
        "nsp": d["nsp"],
        "ack_id": d["ack_id"],
        "event": d["event"],
        "args": d["args"],
        "data": d["data"],
        "attachments": d["attachments"],
        "complete": d.get("complete", True),
    }
    if "query" in d:
        rec["query"] = d["query"]
    return rec


def _session_records(selected: Selected, layer: str) -> Iterator[tuple[int, dict[str, Any]]]:
    def eio(s: EngineIOSession) -> Iterator[tuple[int, dict[str, Any]]]:
        for p in selected.eio_packets(s):
            yield p.frame, eio_record(s.sid, p.to_dict())

    def sio(s: EngineIOSession) -> Iterator[tuple[int, dict[str, Any]]]:
        for p in selected.sio_packets(s):
            yield p.frame, sio_record(s.sid, p.to_dict())

    make = eio if layer == "engineio" else sio
    return heapq.merge(*(make(s) for s in selected.sessions), key=lambda r: r[0])


def iter_records(selected: Selected, layer: str) -> Iterator[dict[str, Any]]:
    """The records of one layer in capture order (a generator: nothing is built up front)."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; one of {', '.join(LAYERS)}")
    source = _ws_records(selected) if layer == "websocket" else _session_records(selected, layer)
    for _, rec in source:
        yield rec


def write_jsonl(selected: Selected, layer: str, out: IO[str]) -> int:
    """Write one JSON text per line to `out` as the records come; returns how many were written."""
    n = 0
    write = out.write
    for rec in iter_records(selected, layer):
        write(json_line(rec))
        n += 1
    return n
