"""HTTP/2 in the web UI: the HTTP/2 card of the overview, the stream labels and the RST_STREAM /
GOAWAY marks of the sequence diagrams, and the name of the HTTP layer of the OSI stack.

Everything shown comes from the connections' `http2` objects, their exchanges (`version:
"HTTP/2"`, `stream_id`), their WebSocket handshake (`h2_stream_id`, RFC 8441) and their `h2.*`
anomalies: facts the analyzer recorded, never computed again from the frames here.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from webui.index import Index, as_dict, as_int, as_list, as_str

__all__ = ["MAX_SCANNED", "h2_summary", "http_layer_name", "sequence_h2"]

MAX_SCANNED = 20_000  # connections read from disk for the HTTP/2 card (as for the TLS card)
MAX_MARKS = 1_000  # RST_STREAM and GOAWAY marks per sequence page
# RFC 9113 §6.5.2 (defined SETTINGS parameters) and RFC 8441 §3 (SETTINGS_ENABLE_CONNECT_PROTOCOL)
SETTING_NAMES = {
    1: "HEADER_TABLE_SIZE",
    2: "ENABLE_PUSH",
    3: "MAX_CONCURRENT_STREAMS",
    4: "INITIAL_WINDOW_SIZE",
    5: "MAX_FRAME_SIZE",
    6: "MAX_HEADER_LIST_SIZE",
    8: "ENABLE_CONNECT_PROTOCOL",
}

_cache: weakref.WeakKeyDictionary[Index, dict[str, Any]] = weakref.WeakKeyDictionary()


def _settings(d: dict[str, Any]) -> list[str]:
    out = []
    for k, v in d.items():
        n = int(k) if isinstance(k, str) and k.isascii() and k.isdigit() and len(k) < 8 else as_int(k)
        name = SETTING_NAMES.get(n, f"0x{n:x}") if isinstance(n, int) else str(k)
        out.append(f"{name} = {as_int(v) if as_int(v) is not None else as_str(v)}")
    return out[:64]


def _frames(d: dict[str, Any]) -> str:
    return ", ".join(f"{k} {as_int(v) or 0}" for k, v in sorted(d.items())[:32]) or "none"


def _h2_anomalies(ix: Index) -> dict[int, list[str]]:
    """The `h2.*` anomalies by connection, read once (at most 200 shown per connection)."""
    out: dict[int, list[str]] = {}
    for a in ix.anomalies:
        cid = a.get("connection")
        if isinstance(cid, int) and str(a.get("code", "")).startswith("h2."):
            shown = out.setdefault(cid, [])
            if len(shown) < 200:
                shown.append(f"{a.get('code')}: {as_str(a.get('message')) or ''}")
    return out


def _connection(cid: int, label: str, conn: dict[str, Any], anomalies: list[str]) -> dict[str, Any]:
    h2 = as_dict(conn, "http2")
    settings, frames = as_dict(h2, "settings"), as_dict(h2, "frames")
    ws = as_dict(conn, "websocket")
    tunnel = as_int(as_dict(ws, "handshake").get("h2_stream_id"))
    goaway = [
        f"{as_str(g.get('direction')) or '?'} last stream {as_int(g.get('last_stream_id'))}, "
        f"{as_str(g.get('error')) or '?'} in packet {as_int(g.get('frame'))}"
        for g in as_list(h2, "goaway")[:32]
        if isinstance(g, dict)
    ]
    return {
        "connection": cid,
        "label": label,
        "streams": as_int(h2.get("streams")) or 0,
        "settings": {d: _settings(as_dict(settings, d)) for d in ("c2s", "s2c")},
        "frames": {d: _frames(as_dict(frames, d)) for d in ("c2s", "s2c")},
        "enable_connect_protocol": bool(h2.get("enable_connect_protocol")),
        "resets": {str(k): as_int(v) or 0 for k, v in list(as_dict(h2, "resets").items())[:32]},
        "goaway": goaway,
        "pushes": as_int(h2.get("pushes")) or 0,
        "websocket_stream": tunnel,
        "anomalies": anomalies,
    }


def h2_summary(ix: Index) -> dict[str, Any]:
    """The HTTP/2 connections of a capture (computed once per analysis), and how many
    connections carried HTTP/1.x exchanges beside them."""
    done = _cache.get(ix)
    if done is not None:
        return done
    conns: list[dict[str, Any]] = []
    http1 = 0
    scanned = 0
    by_conn = _h2_anomalies(ix)
    for summary in ix.conn_summaries[:MAX_SCANNED]:
        scanned += 1
        if summary.id is None:
            continue
        doc = ix.connection(summary.id) or {}
        if isinstance(doc.get("http2"), dict):
            conns.append(_connection(summary.id, summary.label, doc, by_conn.get(summary.id, [])))
        elif summary.http:
            http1 += 1
    out = {
        "connections": conns,
        "count": len(conns),
        "http1": http1,
        "streams": sum(c["streams"] for c in conns),
        "scanned": scanned,
        "all_scanned": scanned == len(ix.conn_summaries),
    }
    _cache[ix] = out
    return out


def http_layer_name(ix: Index) -> str:
    """The HTTP layer of the OSI stack: `HTTP` as before when no connection speaks HTTP/2,
    `HTTP/2` when all that carry HTTP do, `HTTP/1.1 + HTTP/2` when both are there."""
    s = h2_summary(ix)
    if not s["count"]:
        return "HTTP"
    return "HTTP/1.1 + HTTP/2" if s["http1"] else "HTTP/2"


# -- the sequence diagrams ------------------------------------------------------------------------


def size_text(n: int | None) -> str:
    if n is None:
        return "?"
    if n < 1000:
        return f"{n} B"
    return f"{n / 1000:.1f} kB" if n < 1_000_000 else f"{n / 1_000_000:.1f} MB"


def _label(rec: dict[str, Any], kind: str, tunnel: int | None) -> str | None:
    sid = as_int(rec.get("stream_id"))
    if sid is None:
        return None
    if kind == "request":
        method = as_str(rec.get("method")) or "?"
        target = as_str(rec.get("target")) or ""
        if method == "CONNECT" and sid == tunnel:  # RFC 8441 §4: extended CONNECT
            return f"stream {sid} CONNECT :protocol websocket {target} (WebSocket upgrade)"
        return f"stream {sid} {method} {target}"
    status = as_int(rec.get("status"))
    if sid == tunnel:  # RFC 8441 §5: a 2xx opens the tunnel
        return f"stream {sid} {status}: WebSocket over HTTP/2 (RFC 8441)"
    length = as_int(as_dict(rec, "body").get("length"))
    return f"stream {sid} {status} ({size_text(length)})"


def _marks(ix: Index, cid: int, conn: dict[str, Any], resets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """RST_STREAM (from the `h2.stream-reset` anomalies) and GOAWAY frames of a connection."""
    out: list[dict[str, Any]] = []
    for a in resets[:MAX_MARKS]:
        frames = [f for f in as_list(a, "frames") if isinstance(f, int)]
        out.append(
            _mark(
                ix,
                cid,
                frames[0] if frames else None,
                a.get("direction"),
                "RST_STREAM",
                as_str(a.get("message")) or "RST_STREAM",
            )
        )
    for g in as_list(as_dict(conn, "http2"), "goaway"):
        if isinstance(g, dict):
            text = f"GOAWAY {as_str(g.get('error')) or '?'} (last stream {as_int(g.get('last_stream_id'))})"
            out.append(_mark(ix, cid, as_int(g.get("frame")), g.get("direction"), "GOAWAY", text))
    return [m for m in out if m["ts"] is not None][:MAX_MARKS]


def _mark(ix: Index, cid: int, frame: int | None, direction: Any, kind: str, text: str) -> dict[str, Any]:
    ts = ix.ts_of(frame) if frame is not None else None
    return {
        "id": None,
        "mark": kind,
        "ts": ts,
        "t": round(ts - ix.t0, 6) if ts is not None else None,
        "layer": "http",
        "type": kind,
        "direction": direction if direction in ("c2s", "s2c") else None,
        "frame": frame,
        "packets": [frame] if frame is not None else [],
        "connection": cid,
        "session": None,
        "summary": text,
        "label": text,
    }


def sequence_h2(
    ix: Index, conns: Iterable[int | None], items: list[dict[str, Any]], first: bool, last: bool
) -> list[dict[str, Any]]:
    """The sequence items of a page with their HTTP/2 stream labels (`label`), and the RST_STREAM
    and GOAWAY marks of the page's time span merged in. Items of HTTP/1.x connections are left
    as they were (no `label`), so such a page is the same as before."""
    h2conns: dict[int, dict[str, Any]] = {}
    for cid in conns:
        doc = ix.connection(cid) if cid is not None else None
        if cid is not None and doc is not None and isinstance(doc.get("http2"), dict):
            h2conns[cid] = doc
    if not h2conns:
        return items
    for it in items:
        conn = h2conns.get(it.get("connection"))  # type: ignore[arg-type]
        if conn is None or it.get("layer") != "http" or it.get("id") is None:
            continue
        row = ix.row(int(it["id"]))
        if row is None:
            continue
        tunnel = as_int(as_dict(as_dict(conn, "websocket"), "handshake").get("h2_stream_id"))
        label = _label(ix.record(row), str(it.get("type")), tunnel)
        if label is not None:
            it["label"] = label
    resets: dict[int, list[dict[str, Any]]] = {}
    for a in ix.anomalies:  # RFC 9113 §6.4: each RST_STREAM the analyzer reported
        if a.get("code") == "h2.stream-reset" and a.get("connection") in h2conns:
            resets.setdefault(int(a["connection"]), []).append(a)
    marks = [m for cid, doc in h2conns.items() for m in _marks(ix, cid, doc, resets.get(cid, []))]
    lo = items[0]["t"] if items and not first else float("-inf")
    hi = items[-1]["t"] if items and not last else float("inf")
    kept = [m for m in marks if lo <= m["t"] <= hi]
    if not kept:
        return items
    return sorted([*items, *kept], key=lambda x: (x["t"], x["id"] is None))
