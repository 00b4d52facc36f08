"""What the overview and the latency pages show beside the figures: their long lists a page at
a time (each list its own offset in the URL, the JSON API has them whole), and which latency
views have something to draw (one line says so for the others)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from webui.index import Index
from webui.web import Pager, pager

__all__ = ["LIST_PAGE", "latency_lists", "latency_views", "overview_lists"]

LIST_PAGE = 50  # items of a list on an HTML page

Url = Callable[[dict[str, Any]], str]  # the page with these list offsets (the others kept)


def _offset(args: Mapping[str, str], name: str) -> int:
    v = args.get(name, "")
    return int(v) if v.isdigit() and len(v) < 10 else 0


def _paged(
    items: Sequence[Any], args: Mapping[str, str], name: str, names: tuple[str, ...], url: Url
) -> tuple[list[Any], Pager]:
    """One page of `items` at the offset named `name`; the links keep the other lists' offsets."""
    kept: dict[str, Any] = {n: _offset(args, n) for n in names if n != name and _offset(args, n)}
    offset = _offset(args, name)
    pg = pager(len(items), offset, LIST_PAGE, lambda o: url({**kept, name: o} if o else kept))
    return list(items[offset : offset + LIST_PAGE]), pg


def overview_lists(ix: Index, args: Mapping[str, str], url: Url) -> dict[str, Any]:
    """The connections and the Engine.IO sessions of the overview, a page of each."""
    names = ("conn_offset", "sess_offset")
    conns = [
        {
            "id": c.id,
            "label": c.label,
            "end": c.end,
            "packets": c.packets,
            "rtt": c.rtt_ms,
            "http": c.http,
            "ws_messages": c.ws_messages,
        }
        for c in ix.conn_summaries
    ]
    sessions = [
        {
            "index": si,
            "label": ix.session_label(si),
            "sid": sess.sid,
            "protocol": sess.protocol,
            "transport_path": list(sess.transport_path),
            "packets": sess.packets,
            "sio_packets": sess.sio_packets,
        }
        for si, sess in enumerate(ix.session_summaries)
    ]
    conns_page, conns_pager = _paged(conns, args, "conn_offset", names, url)
    sessions_page, sessions_pager = _paged(sessions, args, "sess_offset", names, url)
    return {
        "conns": conns_page,
        "conns_pager": conns_pager,
        "sessions": sessions_page,
        "sessions_pager": sessions_pager,
    }


_VIEWS = (
    ("tcp_handshake", "No TCP handshake in this capture (every connection started before it)."),
    ("upgrades", "No WebSocket or Engine.IO upgrade in this capture."),
    ("ws_ping", "No WebSocket Ping answered by a Pong in this capture."),
    ("heartbeat", "No Engine.IO heartbeat (ping \u2192 pong) in this capture."),
    ("acks", "No Socket.IO ack in this capture."),
)


def latency_views(tables: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The five latency figures in page order: name, whether it has something to draw, and the
    line shown instead when it has not."""
    has = {
        "tcp_handshake": any(h.get("ms") is not None for h in tables.get("tcp_handshake", [])),
        "upgrades": bool(tables.get("upgrades")),
        "ws_ping": bool(tables.get("ws_ping")),
        "heartbeat": bool(tables.get("heartbeat")),
        "acks": any(a.get("ms") is not None for a in tables.get("acks", [])),
    }
    return [{"name": name, "data": has[name], "empty": text} for name, text in _VIEWS]


def latency_lists(tables: Mapping[str, Any], args: Mapping[str, str], url: Url) -> dict[str, Any]:
    """The upgrades and the acks per event of the latency page, a page of each."""
    names = ("upg_offset", "ack_offset")
    upgrades, upgrades_pager = _paged(tables.get("upgrades", []), args, "upg_offset", names, url)
    per_event = list(tables.get("ack_summary", {}).items())
    acks, acks_pager = _paged(per_event, args, "ack_offset", names, url)
    return {"upgrades": upgrades, "upgrades_pager": upgrades_pager, "acks": acks, "acks_pager": acks_pager}
