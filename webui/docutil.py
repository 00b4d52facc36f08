"""Reading the analysis document defensively (ANALYSIS_JSON.md): a missing or mistyped key gives
an empty value, never an exception; and the one-line summaries the web views show per record."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from webui.recstore import StoredList
from webui.rowtable import LAYERS

# Bottom to top, as the filters and the toggles show them.
LAYER_NAMES = {
    "tcp": "TCP",
    "http": "HTTP",
    "websocket": "WebSocket",
    "engineio": "Engine.IO",
    "socketio": "Socket.IO",
}
_LAYER_ORDER = {name: i for i, name in enumerate(LAYERS)}

# Engine.IO packet types (EIO v3/v4 "Packet types") and Socket.IO packet types (v4/v5).
EIO_TYPE_DIGIT = {
    "open": "0",
    "close": "1",
    "ping": "2",
    "pong": "3",
    "message": "4",
    "upgrade": "5",
    "noop": "6",
}
SIO_TYPE_DIGIT = {
    "CONNECT": "0",
    "DISCONNECT": "1",
    "EVENT": "2",
    "ACK": "3",
    "CONNECT_ERROR": "4",
    "BINARY_EVENT": "5",
    "BINARY_ACK": "6",
}
# RFC 6455 §5.2 opcodes.
WS_OPCODE_NAMES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}

SUMMARY_CHARS = 160
SEARCH_CHARS = 1 << 16


def _list(d: Any, key: str) -> Sequence[Any]:
    """A list of the document, or a StoredList standing in for one (webui/recstore.py)."""
    v = d.get(key) if isinstance(d, Mapping) else None
    return v if isinstance(v, list | StoredList) else []


def _dict(d: Any, key: str) -> dict[str, Any]:
    v = d.get(key) if isinstance(d, Mapping) else None
    return v if isinstance(v, dict) else {}


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _float(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    return float(v) if isinstance(v, int | float) else None


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


as_int, as_str, as_float = _int, _str, _float


def as_list(d: Any, key: str) -> Sequence[Any]:
    return _list(d, key)


def as_dict(d: Any, key: str) -> dict[str, Any]:
    return _dict(d, key)


def cut(text: str, n: int = SUMMARY_CHARS) -> str:
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def record_packets(rec: Mapping[str, Any]) -> tuple[int, ...]:
    """Every packet that carried a byte of the record ("packets" or "frames"), else its "frame"."""
    v = rec.get("packets")
    if type(v) is list and len(v) == 1 and type(v[0]) is int:
        return (v[0],)  # the common case, without the general path's set and sort
    for key in ("packets", "frames"):
        v = rec.get(key)
        if isinstance(v, list) and v:
            return tuple(sorted({x for x in v if isinstance(x, int) and not isinstance(x, bool)}))
    f = _int(rec.get("frame"))
    return (f,) if f is not None else ()


def endpoint_text(ep: Any) -> str:
    ip = _str(ep.get("ip")) if isinstance(ep, Mapping) else None
    port = _int(ep.get("port")) if isinstance(ep, Mapping) else None
    ip = ip or "?"
    if ":" in ip:
        ip = f"[{ip}]"
    return f"{ip}:{port if port is not None else '?'}"


def conn_label(conn: Mapping[str, Any]) -> str:
    client, server = endpoint_text(conn.get("client")), endpoint_text(conn.get("server"))
    return f"TCP #{conn.get('id')} {client} \u2192 {server}"


def session_label(sess: Mapping[str, Any], index: int) -> str:
    sid = _str(sess.get("sid")) or "?"
    return f"EIO #{index} sid {cut(sid, 24)}"


def json_text(v: Any) -> str:
    try:
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return repr(v)


def message_text(v: Any) -> str:
    """An anomaly's message as the views show it: the analyzer's text as it is; anything else
    (a document written by another tool) as JSON text, never as a Python repr."""
    if isinstance(v, str):
        return v
    if v is None:
        return ""
    try:
        return json.dumps(v, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return json.dumps(str(v), ensure_ascii=False)


def is_header(h: Any) -> bool:
    return isinstance(h, list | tuple) and len(h) == 2 and isinstance(h[0], str) and isinstance(h[1], str)


def ws_message_summary(m: Mapping[str, Any]) -> str:
    text = _str(m.get("text"))
    if text is not None:
        return cut(text)
    hexd = _str(m.get("data_hex")) or ""
    return cut(f"[{m.get('length')} B] {hexd[:64]}")


def ws_frame_summary(f: Mapping[str, Any]) -> str:
    op = _int(f.get("opcode"))
    name = WS_OPCODE_NAMES.get(op or 0, f"opcode {op}").capitalize()
    if op == 8:
        code = f.get("close_code")
        reason = _str(f.get("close_reason")) or ""
        return cut(f"Close {code if code is not None else '(no code)'} {reason}".rstrip())
    payload = _str(f.get("payload_hex")) or ""
    try:
        shown = bytes.fromhex(payload).decode("utf-8")
    except ValueError:
        shown = payload
    return cut(f"{name} {shown}".rstrip())


def eio_summary(p: Mapping[str, Any]) -> str:
    """The packet as written on the wire (EIO "Encoding"): type digit, then the data."""
    kind = _str(p.get("type")) or "?"
    if p.get("binary"):
        hexd = _str(p.get("data_hex")) or ""
        return cut(f"binary {kind} [{len(hexd) // 2} B] {hexd[:48]}")
    return cut(EIO_TYPE_DIGIT.get(kind, "?") + (_str(p.get("data")) or ""))


def sio_summary(p: Mapping[str, Any]) -> str:
    kind = _str(p.get("type")) or "?"
    parts = [kind]
    nsp = _str(p.get("nsp"))
    if nsp and nsp != "/":
        parts.append(nsp)
    event = _str(p.get("event"))
    if event is not None:
        parts.append(json_text(event))
        args = p.get("args")
        parts.append(json_text(args if isinstance(args, list) else []))
    elif p.get("data") is not None:
        parts.append(json_text(p.get("data")))
    ack = _int(p.get("ack_id"))
    if ack is not None:
        parts.append(f"ack {ack}")
    n = _int(p.get("attachments"))
    if n:
        parts.append(f"+{n} attachment{'s' if n > 1 else ''}")
    return cut(" ".join(parts))


def flatten(values: Iterable[Iterable[int]]) -> list[int]:
    return sorted({v for vs in values for v in vs})
