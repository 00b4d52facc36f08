"""A record, as the analysis document writes it, into rows of the dataset's tables.

Each function takes the record's JSON form (the `to_dict()` of model/, or the spilled JSON of its
frames, messages and packets: the one serializer per record) and returns rows as dicts keyed by
the columns of schema.py. So a row says what the document says; only the form differs (times
as timestamps, payloads as bytes, values of Socket.IO packets as JSON text).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = [
    "ack_row",
    "anomaly_row",
    "connection_row",
    "eio_row",
    "http2_row",
    "http_rows",
    "json_text",
    "micros",
    "payload",
    "session_row",
    "sio_row",
    "text",
    "tls_row",
    "ws_frame_row",
    "ws_message_row",
]


def micros(ts: float | None) -> int | None:
    """Seconds since the epoch -> whole microseconds (the `ts` columns: timestamp[us, UTC])."""
    return None if ts is None else round(ts * 1_000_000)


def text(value: Any) -> str | None:
    """A string column's value: captured text may hold lone surrogates (from JSON escapes), which
    UTF-8 cannot carry; they are written as their escape (backslash u), as the document's file has them."""
    if value is None:
        return None
    s = str(value)
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")
    return s


def payload(text_value: str | None, hex_value: str | None) -> bytes | None:
    """A binary column from the document's text/hex pair: hex when binary, else the text as UTF-8."""
    if hex_value is not None:
        try:
            return bytes.fromhex(hex_value)
        except ValueError:
            return None
    if text_value is None:
        return None
    return text_value.encode("utf-8", "surrogatepass")


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # one encoder, not one a call


def json_text(value: Any) -> str:
    return text(_JSON.encode(value)) or "null"


def _headers(pairs: Iterable[Any] | None) -> list[dict[str, str | None]] | None:
    if pairs is None:
        return None
    return [{"name": text(p[0]), "value": text(p[1])} for p in pairs]


def _frames(values: Iterable[Any] | None) -> list[int] | None:
    return None if values is None else [int(v) for v in values]


def connection_row(d: dict[str, Any], n_frames: int | None, n_messages: int | None) -> dict[str, Any]:
    tcp = d["tcp"]
    hs = tcp.get("handshake") or {}
    ws = d.get("websocket")
    wshs = (ws or {}).get("handshake") or {}
    return {
        "frame": tcp.get("first_frame"),
        "ts": micros(tcp.get("first_ts")),
        "connection_id": d["id"],
        "client_ip": d["client"]["ip"],
        "client_port": d["client"]["port"],
        "server_ip": d["server"]["ip"],
        "server_port": d["server"]["port"],
        "ip_version": d["ip_version"],
        "app_protocol": d.get("app_protocol"),
        "last_frame": tcp.get("last_frame"),
        "last_ts": micros(tcp.get("last_ts")),
        "end": tcp.get("end"),
        "packets_c2s": tcp["packets"]["c2s"],
        "packets_s2c": tcp["packets"]["s2c"],
        "payload_bytes_c2s": tcp["payload_bytes"]["c2s"],
        "payload_bytes_s2c": tcp["payload_bytes"]["s2c"],
        "retransmissions": tcp.get("retransmissions"),
        "gaps": tcp.get("gaps"),
        "gap_bytes": tcp.get("gap_bytes"),
        "handshake_rtt_ms": hs.get("rtt_ms"),
        "http_exchanges": len(d.get("http") or ()),
        "ws_url": text(ws.get("url")) if ws else None,
        "ws_subprotocol": text(wshs.get("subprotocol")),
        "ws_frames": n_frames,
        "ws_messages": n_messages,
        "tls": d.get("tls") is not None,
        "http2": d.get("http2") is not None,
        "ws_h2_stream_id": wshs.get("h2_stream_id"),  # RFC 8441: the extended CONNECT's stream
    }


def http_rows(d: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for i, x in enumerate(d.get("http") or ()):
        q = x.get("request") or {}
        r = x.get("response") or {}
        qb = q.get("body") or {}
        rb = r.get("body") or {}
        q_ts, r_ts = q.get("ts"), r.get("ts")
        yield {
            "frame": q.get("frame", r.get("frame")),
            "ts": micros(q_ts if q else r_ts),
            "connection_id": d["id"],
            "exchange": i,
            "method": text(q.get("method")),
            "target": text(q.get("target")),
            "request_version": text(q.get("version")),
            "request_headers": _headers(q.get("headers")),
            "request_body": payload(qb.get("text"), qb.get("hex")) if qb else None,
            "request_body_length": qb.get("length"),
            "request_body_cut": qb.get("cut"),
            "response_frame": r.get("frame"),
            "response_ts": micros(r_ts),
            "status": r.get("status"),
            "reason": text(r.get("reason")),
            "response_headers": _headers(r.get("headers")),
            "response_body": payload(rb.get("text"), rb.get("hex")) if rb else None,
            "response_body_length": rb.get("length"),
            "response_body_cut": rb.get("cut"),
            "latency_ms": (r_ts - q_ts) * 1000 if q_ts is not None and r_ts is not None else None,
            "stream_id": q.get("stream_id", r.get("stream_id")),  # HTTP/2 (RFC 9113 §5.1.1)
        }


def ws_frame_row(cid: int, f: dict[str, Any]) -> dict[str, Any]:
    return {
        "frame": f["frame"],
        "ts": micros(f["ts"]),
        "connection_id": cid,
        "direction": f["direction"],
        "fin": f["fin"],
        "rsv1": f["rsv1"],
        "rsv2": f["rsv2"],
        "rsv3": f["rsv3"],
        "opcode": f["opcode"],
        "masked": f["masked"],
        "mask_key": f.get("mask_key"),
        "payload_length": f["payload_length"],
        "length_form": f.get("length_form"),
        "payload": payload(None, f.get("payload_hex")),
        "payload_in_message": f.get("payload_in_message"),
        "payload_truncated": f.get("payload_truncated"),
        "close_code": f.get("close_code"),
        "close_reason": text(f.get("close_reason")),
        "stream_offset": f.get("stream_offset"),
        "packets": _frames(f.get("packets")),
    }


def ws_message_row(cid: int, m: dict[str, Any]) -> dict[str, Any]:
    return {
        "frame": m["frame"],
        "ts": micros(m["ts"]),
        "connection_id": cid,
        "direction": m["direction"],
        "opcode": m["opcode"],
        "compressed": m.get("compressed"),
        "frames": m.get("frames"),
        "length": m.get("length"),
        "payload": payload(m.get("text"), m.get("data_hex")),
        "truncated": m.get("truncated"),
        "packets": _frames(m.get("packets")),
    }


def tls_row(d: dict[str, Any]) -> dict[str, Any] | None:
    t = d.get("tls")
    if t is None:
        return None
    records = t.get("records") or {}
    return {
        "frame": d["tcp"].get("first_frame"),
        "ts": micros(d["tcp"].get("first_ts")),
        "connection_id": d["id"],
        "version": text(t.get("version")),
        "cipher_suite": text(t.get("cipher_suite")),
        "cipher_suite_code": t.get("cipher_suite_code"),
        "sni": text(t.get("sni")),
        "alpn": text(t.get("alpn")),
        "alpn_offered": [text(a) for a in t.get("alpn_offered") or ()],
        "resumed": t.get("resumed"),
        "decrypted": t.get("decrypted"),
        "records_c2s": records.get("c2s"),
        "records_s2c": records.get("s2c"),
        "certificate_count": t.get("certificate_count"),
        "certificate_subjects": [text(c.get("subject")) for c in t.get("certificates") or ()],
        "alerts": [text(a.get("name")) for a in t.get("alerts") or ()],
        "not_decrypted": text(t.get("not_decrypted")),
    }


def _counts(m: dict[str, Any] | None) -> list[tuple[str | None, int]]:
    return [(text(k), v) for k, v in (m or {}).items()]


def http2_row(d: dict[str, Any]) -> dict[str, Any] | None:
    """The connection's `http2` summary (absent unless it spoke HTTP/2, RFC 9113)."""
    h = d.get("http2")
    if h is None:
        return None
    frames = h.get("frames") or {}
    settings = h.get("settings") or {}
    return {
        "frame": d["tcp"].get("first_frame"),
        "ts": micros(d["tcp"].get("first_ts")),
        "connection_id": d["id"],
        "streams": h.get("streams"),
        "frames_c2s": _counts(frames.get("c2s")),
        "frames_s2c": _counts(frames.get("s2c")),
        "settings_c2s": _counts(settings.get("c2s")),
        "settings_s2c": _counts(settings.get("s2c")),
        "enable_connect_protocol": h.get("enable_connect_protocol"),
        "resets": _counts(h.get("resets")),
        "goaway": [
            {
                "direction": g.get("direction"),
                "frame": g.get("frame"),
                "last_stream_id": g.get("last_stream_id"),
                "error": text(g.get("error")),
            }
            for g in h.get("goaway") or ()
        ],
        "pushes": h.get("pushes"),
    }


def session_row(s: dict[str, Any], sio: dict[str, Any] | None, first_frame: int | None) -> dict[str, Any]:
    """`s`: the session's keys but its packets (EngineIOSession.head_dict and tail_dict)."""
    hb = s.get("heartbeat") or {}
    end = s.get("end") or {}
    return {
        "frame": first_frame,
        "ts": micros(s.get("first_ts")),
        "sid": text(s.get("sid")),
        "protocol": s.get("protocol"),
        "path": text(s.get("path")),
        "last_ts": micros(s.get("last_ts")),
        "transport_path": [text(t) for t in s.get("transport_path") or ()],
        "upgraded": s.get("upgraded"),
        "handshake_captured": s.get("handshake_captured"),
        "ping_interval_ms": s.get("ping_interval_ms"),
        "ping_timeout_ms": s.get("ping_timeout_ms"),
        "connections": _frames(s.get("connections")),
        "end_reason": text(end.get("reason")),
        "anomaly_count": s.get("anomaly_count"),
        "sio_protocol": sio.get("protocol") if sio else None,
        "sio_parser": sio.get("parser") if sio else None,
        "namespaces": [text(n.get("nsp")) for n in (sio or {}).get("namespaces") or ()],
        "heartbeat_rtt_mean_ms": hb.get("rtt_mean_ms"),
        "heartbeat_rtt_max_ms": hb.get("rtt_max_ms"),
    }


def eio_row(sid: str, p: dict[str, Any]) -> dict[str, Any]:
    data = p.get("data")
    return {
        "frame": p["frame"],
        "ts": micros(p["ts"]),
        "sid": text(sid),
        "connection_id": p.get("connection"),
        "direction": p["direction"],
        "transport": p.get("transport"),
        "type": p.get("type"),
        "binary": p.get("binary"),
        "payload": payload(data if isinstance(data, str) else None, p.get("data_hex")),
        "size": p.get("size"),
    }


def _json_column(raw: str | None) -> str | None:
    return None if raw is None or raw == "null" else text(raw)


def sio_row(sid: str, p: dict[str, Any]) -> dict[str, Any]:
    """`p`: the packet's JSON form with `args` and `data` as JSON text (rawjson.ObjectFeed)."""
    return {
        "frame": p["frame"],
        "ts": micros(p["ts"]),
        "sid": text(sid),
        "connection_id": p.get("connection"),
        "direction": p["direction"],
        "transport": p.get("transport"),
        "type": p.get("type"),
        "nsp": text(p.get("nsp")),
        "ack_id": p.get("ack_id"),
        "event": text(p.get("event")),
        "args": _json_column(p.get("args")),
        "data": _json_column(p.get("data")),
        "attachments": p.get("attachments"),
        "packets": _frames(p.get("frames")),
    }


def ack_row(sid: str, a: dict[str, Any]) -> dict[str, Any]:
    return {
        "frame": a.get("request_frame"),
        "ts": micros(a.get("request_ts")),
        "sid": text(sid),
        "nsp": text(a.get("nsp")),
        "ack_id": a.get("ack_id"),
        "event": text(a.get("event")),
        "request_direction": a.get("request_direction"),
        "response_frame": a.get("response_frame"),
        "response_ts": micros(a.get("response_ts")),
        "latency_ms": a.get("latency_ms"),
    }


def anomaly_row(a: dict[str, Any], ts: float | None) -> dict[str, Any]:
    """`ts`: the time of the anomaly's first packet (anomalies carry none; task.py looks it up)."""
    frames = a.get("frames") or []
    return {
        "frame": frames[0] if frames else None,
        "ts": micros(ts),
        "code": a["code"],
        "severity": a.get("severity"),
        "layer": a.get("layer"),
        "message": text(a.get("message")),
        "connection_id": a.get("connection"),
        "direction": a.get("direction"),
        "frames": _frames(frames),
    }
