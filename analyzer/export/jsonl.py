"""JSON Lines export: the record of each decoded message at one layer (the sink that writes
them is analyzer/export/jsonl_stream.py), and the JSON text of a line.

Layers: `websocket` (text/binary messages of every selected connection), `engineio` (Engine.IO
packets of every selected session, both transports), `socketio` (Socket.IO packets, binary
attachments put in place). Records of several connections or sessions are merged in capture
order (by packet number). Field names are listed in docs/exports.md.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["LAYERS", "eio_record", "json_line", "safe_text", "sio_line", "sio_record", "ws_record"]

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
    return _line(_dumps(record))


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _line(text: str) -> str:
    if not text.isascii():
        text = safe_text(text).translate(_LINE_BREAKS)
    return text + "\n"


def sio_line(sid: str, d: dict[str, Any], args: str | None = None, data: str | None = None) -> str:
    """`json_line(sio_record(sid, d))`; `args` and `data`, when given, are the JSON text of those
    two fields as the document has them (streamsel.sio_entries: `d` lacks them then), written as
    they are instead of being decoded and encoded again. The document writes them as json.dumps
    does, and the text has no lone surrogate (TalliedSpill keeps no parts then): same line."""
    if args is None or data is None:
        return json_line(sio_record(sid, d))
    rec = sio_record(sid, {**d, "args": None, "data": None})
    keys = list(rec)
    at = keys.index("args")
    head = _dumps({k: rec[k] for k in keys[:at]})
    tail = _dumps({k: rec[k] for k in keys[at + 2 :]})
    return _line(head[:-1] + ',"args":' + args + ',"data":' + data + "," + tail[1:])


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
