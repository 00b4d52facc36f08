"""Pure functions: analysis index -> plotly figures (as plain JSON-ready dicts).

Every string that came from the capture is HTML-escaped before it goes into a figure:
plotly renders a small HTML subset in hover labels and tick texts, and captured bytes
are hostile. Plotly turns the entities back into characters, shown as text.
"""

from __future__ import annotations

import html
import math
import statistics
from collections.abc import Sequence
from typing import Any, NamedTuple

from webui.index import LAYERS, Index, Row, as_dict, as_int, as_list, as_str
from webui.indexbuild import ConnSummary

_int, _str = as_int, as_str

__all__ = [
    "MAX_POINTS",
    "ack_latency",
    "heartbeat_rtts",
    "latency_figures",
    "latency_tables",
    "osi_figure",
    "osi_layers",
    "timeline_figure",
    "upgrade_latencies",
    "ws_ping_rtts",
]

MAX_POINTS = 20_000  # above this, the timeline is binned by time
MAX_LANES = 300  # above this, the quietest connections and sessions share one timeline lane
MAX_BARS = 500  # above this, a latency is shown as a histogram instead of a bar per item
MAX_TRACES = 30  # above this, per-connection/session series are merged into one trace
BINS = 400

# Marker categories: (key, legend label, colour).
_CATEGORIES = {
    "tcp": ("TCP", "#7f7f7f"),
    "http": ("HTTP", "#1f77b4"),
    "ws-data": ("WebSocket message", "#2ca02c"),
    "ws-control": ("WebSocket control", "#98df8a"),
    "engineio": ("Engine.IO", "#ff7f0e"),
    "socketio": ("Socket.IO", "#d62728"),
}
_OFFSETS = {
    "tcp": -0.32,
    "http": -0.16,
    "ws-data": 0.0,
    "ws-control": 0.0,
    "engineio": 0.16,
    "socketio": 0.32,
}
_SYMBOLS = {"c2s": "triangle-right", "s2c": "triangle-left", None: "circle"}
_DIR_TEXT = {"c2s": "client \u2192 server", "s2c": "server \u2192 client", None: ""}
_SEVERITY_COLOURS = {"chat": "#9467bd", "note": "#17becf", "warn": "#bcbd22", "error": "#e31a1c"}
_LAYOUT_BASE: dict[str, Any] = {
    "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
    "font": {"family": "system-ui, sans-serif", "size": 12},
    "paper_bgcolor": "#ffffff",
    "plot_bgcolor": "#fafafa",
    "hoverlabel": {"align": "left"},
}


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _category_of(layer: str, kind: str) -> str:
    if layer == "websocket":
        return "ws-data" if kind in ("text", "binary") else "ws-control"
    return layer


def lanes(ix: Index, limit: int | None = None) -> tuple[list[str], dict[tuple[str, int], int]]:
    """Lane labels (top to bottom) and (kind, index) -> lane number: connections, then sessions;
    beyond `limit` lanes, the quietest share one lane at the bottom."""
    labels: list[str] = []
    pos: dict[tuple[str, int], int] = {}
    order: list[tuple[float, str, int, str]] = []
    for ci, c in enumerate(ix.conn_summaries):
        order.append((c.first_ts if c.first_ts is not None else ix.t0, "c", ci, c.label))
    for si in range(len(ix.session_summaries)):
        ts = ix.session_first_ts[si] if si < len(ix.session_first_ts) else None
        order.append((ts if ts is not None else ix.t0, "s", si, ix.session_label(si)))
    order.sort(key=lambda t: (t[1] == "s", t[0]))
    limit = MAX_LANES if limit is None else limit
    if len(order) > limit:  # the busiest keep a lane of their own, the others share the last one
        busy = _lane_activity(ix)
        keep = set(sorted(range(len(order)), key=lambda k: -busy.get(order[k][1:3], 0))[:limit])
        other = [o for k, o in enumerate(order) if k not in keep]
        order = [o for k, o in enumerate(order) if k in keep]
    else:
        other = []
    for _ts, kind, i, label in order:
        pos[(kind, i)] = len(labels)
        labels.append(label)
    if other:
        n_conn = sum(1 for o in other if o[1] == "c")
        for _ts, kind, i, _label in other:
            pos[(kind, i)] = len(labels)
        labels.append(f"{n_conn:,} other connections, {len(other) - n_conn:,} other sessions")
    return labels, pos


def _lane_activity(ix: Index) -> dict[tuple[str, int], int]:
    """Rows per lane (as _lane_of places them), from the row columns."""
    t = ix.table
    out: dict[tuple[str, int], int] = {}
    conn_pos = ix.conn_pos
    for s, c in zip(t.session, t.connection, strict=True):
        if s >= 0:
            key = ("s", s)
        else:
            ci = conn_pos.get(c) if c >= 0 else None
            if ci is None:
                continue
            key = ("c", ci)
        out[key] = out.get(key, 0) + 1
    return out


class _Mark(NamedTuple):
    """What a binned timeline needs of a row (no summary: that stays on disk)."""

    id: int
    ts: float
    session: int | None
    connection: int | None


def _marks(ix: Index, ids: range, binned: bool) -> dict[tuple[str, str | None], list[Any]]:
    """Rows grouped by (category, direction): whole Rows when each is drawn, else _Marks."""
    t = ix.table
    groups: dict[tuple[str, str | None], list[Any]] = {}
    for i in ids:
        cat = _category_of(t.layer_of(i), t.kind_of(i))
        if binned:
            s, c = t.session[i], t.connection[i]
            item: Any = _Mark(i, t.ts[i], None if s < 0 else s, None if c < 0 else c)
        else:
            item = t.row(i)
        groups.setdefault((cat, t.direction_of(i)), []).append(item)
    return groups


def _lane_of(ix: Index, row: Row | _Mark, pos: dict[tuple[str, int], int]) -> int | None:
    if row.session is not None and ("s", row.session) in pos:
        return pos[("s", row.session)]
    ci = ix.conn_pos.get(row.connection)
    return pos.get(("c", ci)) if ci is not None else None


def _hover(ix: Index, row: Row) -> str:
    rel = ix.rel(row.ts) or 0.0
    bits = [
        f"{esc(row.layer)} {esc(row.kind)} {esc(_DIR_TEXT[row.direction])}",
        f"t = {rel:.6f} s, packet {row.frame if row.frame is not None else '?'}",
        esc(row.summary[:120]),
    ]
    if row.nsp is not None:
        bits.append(f"namespace {esc(row.nsp)}")
    return "<br>".join(bits)


def timeline_figure(
    ix: Index, t0: float | None = None, t1: float | None = None, max_points: int | None = None
) -> dict[str, Any]:
    """One lane per TCP connection and Engine.IO session; a marker per row (binned when many)."""
    labels, pos = lanes(ix)
    ids = ix.rows_between(t0, t1)
    binned = len(ids) > (MAX_POINTS if max_points is None else max_points)
    groups = _marks(ix, ids, binned)
    traces: list[dict[str, Any]] = []
    ts = ix.table.ts
    lo = (ts[ids[0]] if ids else ix.t0) - ix.t0  # rows are in time order
    hi = (ts[ids[-1]] if ids else ix.t0) - ix.t0
    width = (hi - lo) / BINS or 1e-6
    for cat in _CATEGORIES:
        for direction in ("c2s", "s2c", None):
            grp = groups.get((cat, direction))
            if not grp:
                continue
            name, colour = _CATEGORIES[cat]
            trace: dict[str, Any] = {
                "type": "scatter",
                "mode": "markers",
                "name": f"{name} {_DIR_TEXT[direction]}".strip(),
                "legendgroup": cat,
                "hoverinfo": "text",
                "marker": {"color": colour, "symbol": _SYMBOLS[direction], "size": 9, "line": {"width": 0}},
            }
            if binned:
                bins: dict[tuple[int, int], list[_Mark]] = {}
                for r in grp:
                    lane = _lane_of(ix, r, pos)
                    if lane is None:
                        continue
                    b = min(int((r.ts - ix.t0 - lo) / width), BINS - 1)
                    bins.setdefault((lane, b), []).append(r)
                xs, ys, texts, custom, sizes = [], [], [], [], []
                for (lane, b), members in sorted(bins.items()):
                    start = lo + b * width
                    xs.append(round(start + width / 2, 6))
                    ys.append(lane + _OFFSETS[cat])
                    texts.append(
                        f"{len(members)} \u00d7 {esc(name)} {esc(_DIR_TEXT[direction])}<br>"
                        f"t = {start:.3f} .. {start + width:.3f} s<br>click to zoom in"
                    )
                    custom.append({"zoom": [round(start, 6), round(start + width, 6)]})
                    sizes.append(min(6 + 3 * math.log2(len(members)), 24))
                trace.update(x=xs, y=ys, text=texts, customdata=custom)
                trace["marker"]["size"] = sizes
            else:
                xs, ys, texts, custom = [], [], [], []
                custom_rows: list[dict[str, int]] = []
                for r in grp:
                    lane = _lane_of(ix, r, pos)
                    if lane is None:
                        continue
                    xs.append(round(r.ts - ix.t0, 6))
                    ys.append(lane + _OFFSETS[cat])
                    texts.append(_hover(ix, r))
                    custom_rows.append({"row": r.id})
                trace.update(x=xs, y=ys, text=texts, customdata=custom_rows)
            traces.append(trace)
    traces.extend(_anomaly_trace(ix, pos, t0, t1))
    n = max(len(labels), 1)
    layout = {
        **_LAYOUT_BASE,
        "title": {"text": "Binned by time: zoom in for single records" if binned else "", "y": 0.99},
        "xaxis": {"title": {"text": "seconds since the first packet"}, "zeroline": False},
        "yaxis": {
            "tickmode": "array",
            "tickvals": list(range(len(labels))),
            "ticktext": [esc(x) for x in labels],
            "autorange": "reversed",
            "range": [n - 0.5, -0.5],
            "zeroline": False,
            "automargin": True,
        },
        "height": max(380, 170 + 60 * n),
        "hovermode": "closest",
        "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
        "margin": {"l": 20, "r": 20, "t": 110, "b": 50},
    }
    if t0 is not None and t1 is not None:
        layout["xaxis"]["range"] = [t0, t1]
    return {
        "data": traces,
        "layout": layout,
        "meta": {"points": len(ids), "binned": binned, "lanes": len(labels)},
    }


def _anomaly_trace(
    ix: Index, pos: dict[tuple[str, int], int], t0: float | None, t1: float | None
) -> list[dict[str, Any]]:
    xs, ys, texts, colours, custom = [], [], [], [], []
    for i, a in enumerate(ix.anomalies[:MAX_POINTS]):
        frames = [f for f in as_list(a, "frames") if isinstance(f, int) and not isinstance(f, bool)]
        ts = ix.ts_of(frames[0]) if frames and isinstance(frames[0], int) else None
        if ts is None:
            continue
        rel = ts - ix.t0
        if (t0 is not None and rel < t0) or (t1 is not None and rel > t1):
            continue
        ci = ix.conn_pos.get(_int(a.get("connection")))
        lane = pos.get(("c", ci)) if ci is not None else None
        xs.append(round(rel, 6))
        ys.append(lane + 0.42 if lane is not None else -0.4)
        texts.append(f"{esc(a.get('code'))} ({esc(a.get('severity'))})<br>{esc(str(a.get('message'))[:160])}")
        colours.append(_SEVERITY_COLOURS.get(str(a.get("severity")), "#000000"))
        custom.append({"anomaly": i, "frames": frames[:50]})
    if not xs:
        return []
    return [
        {
            "type": "scatter",
            "mode": "markers",
            "name": "anomaly",
            "hoverinfo": "text",
            "x": xs,
            "y": ys,
            "text": texts,
            "customdata": custom,
            "marker": {"symbol": "x", "size": 10, "color": colours},
        }
    ]


# -- the OSI stack --
def _layer_packets(ix: Index) -> dict[str, int]:
    """Packets that carried a byte of each layer's rows (from the row columns)."""
    t = ix.table
    seen: list[set[int]] = [set() for _ in LAYERS]
    starts, pk = t.pk_start, t.pk
    for i, layer in enumerate(t.layer):
        seen[layer].update(pk[starts[i] : starts[i + 1]])
    return {name: len(seen[n]) for n, name in enumerate(LAYERS)}


def _stat(ix: Index, *keys: str) -> int | None:
    for k in keys:
        v = ix.layer_stats.get(k)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return None


def osi_layers(ix: Index) -> list[dict[str, Any]]:
    """Packets and bytes per layer, bottom to top. Bytes are each layer's own header/framing bytes,
    except the top layer (Socket.IO payload); `None` when the analysis has no figure for it."""
    t = ix.table
    packets = _layer_packets(ix)
    counts = ix.counts()
    st = ix.layer_stats
    ws_header = ix.ws_frame_bytes[0]
    packets_total = _stat(ix, "packets") or int(ix.capture.get("packets") or 0)
    tcp_packets = _stat(ix, "tcp_packets")
    ip_packets = None
    if "ipv4" in st or "ipv6" in st:
        ip_packets = (_stat(ix, "ipv4") or 0) + (_stat(ix, "ipv6") or 0)
    eio_bytes = _stat(ix, "engineio_header_bytes", "engineio_framing_bytes", "engineio_bytes")
    sio_bytes = _stat(ix, "socketio_payload_bytes", "socketio_bytes")
    if eio_bytes is None and counts["engineio"]:
        eio_bytes = counts["engineio"]  # one type character per packet (EIO "Encoding")
    if sio_bytes is None and counts["socketio"]:
        eio_no = LAYERS.index("engineio")
        sio_bytes = sum(
            max(t.length[i], 0)
            for i, layer in enumerate(t.layer)
            if layer == eio_no and t.kind_of(i) == "message"
        )
    return [
        {"layer": "Link", "packets": packets_total, "bytes": _stat(ix, "link_header_bytes")},
        {"layer": "IP", "packets": ip_packets, "bytes": _stat(ix, "ip_header_bytes")},
        {"layer": "TCP", "packets": tcp_packets, "bytes": _stat(ix, "tcp_header_bytes")},
        {
            "layer": "HTTP",
            "packets": packets["http"],
            "bytes": _stat(ix, "http_bytes", "http_header_bytes"),
        },
        {
            "layer": "WebSocket framing",
            "packets": packets["websocket"],
            "bytes": _stat(ix, "websocket_header_bytes", "websocket_framing_bytes", "websocket_bytes")
            or (ws_header if ws_header else None),
        },
        {"layer": "Engine.IO", "packets": packets["engineio"], "bytes": eio_bytes},
        {"layer": "Socket.IO payload", "packets": packets["socketio"], "bytes": sio_bytes},
    ]


def osi_figure(ix: Index) -> dict[str, Any]:
    layers = osi_layers(ix)
    names = [x["layer"] for x in layers]
    colours = ["#c7c7c7", "#aec7e8", "#7f7f7f", "#1f77b4", "#2ca02c", "#ff7f0e", "#d62728"]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": "bytes",
            "y": names,
            "x": [x["bytes"] or 0 for x in layers],
            "text": [f"{x['bytes']:,} B" if x["bytes"] is not None else "n/a" for x in layers],
            "textposition": "auto",
            "marker": {"color": colours},
            "xaxis": "x",
            "yaxis": "y",
            "hoverinfo": "y+text",
        },
        {
            "type": "bar",
            "orientation": "h",
            "name": "packets",
            "y": names,
            "x": [x["packets"] or 0 for x in layers],
            "text": [f"{x['packets']:,} packets" if x["packets"] is not None else "n/a" for x in layers],
            "textposition": "auto",
            "marker": {"color": colours},
            "xaxis": "x2",
            "yaxis": "y",
            "hoverinfo": "y+text",
        },
    ]
    layout = {
        **_LAYOUT_BASE,
        "title": {"text": "The OSI stack: bytes and packets per layer", "x": 0.01, "xanchor": "left"},
        "grid": {"rows": 1, "columns": 2, "pattern": "independent"},
        "xaxis": {"domain": [0.0, 0.47], "title": {"text": "bytes (the layer's own headers / framing)"}},
        "xaxis2": {"domain": [0.53, 1.0], "title": {"text": "packets carrying the layer"}},
        "yaxis": {"automargin": True},
        "showlegend": False,
        "height": 360,
        "margin": {"l": 20, "r": 20, "t": 50, "b": 50},
    }
    return {"data": data, "layout": layout}


# -- latency: the facts of the analysis (its records pair pings, heartbeats, acks and upgrades;
# the rows only locate the packets they name) --
RowKey = tuple[str, str | None, int]  # (type, direction, packet)
FrameRows = dict[RowKey, list[int]]
_PROBES = ("2probe", "3probe")


def _frame_rows(
    ix: Index, ids: Sequence[int], layer: str, kinds: tuple[str, ...], probes: bool | None = None
) -> FrameRows:
    """Rows among `ids` of one layer and some types, by (type, direction, packet), in time order;
    `probes` True or False keeps only or leaves out Engine.IO upgrade probes (2probe, 3probe)."""
    t = ix.table
    layer_no = LAYERS.index(layer)
    out: FrameRows = {}
    for i in ids:
        if t.layer[i] != layer_no:
            continue
        kind = t.kind_of(i)
        if kind not in kinds or (probes is not None and (t.summary_of(i) in _PROBES) != probes):
            continue
        out.setdefault((kind, t.direction_of(i), t.frame[i]), []).append(i)
    return out


def _key(kind: str, direction: str | None, frame: Any) -> RowKey:
    f = as_int(frame)
    return kind, direction, f if f is not None else -1


def _other(direction: str | None) -> str:
    return "c2s" if direction == "s2c" else "s2c"


def _ms(v: Any) -> float | int | None:
    """A number of milliseconds of the document, as it is there."""
    return v if isinstance(v, int | float) and not isinstance(v, bool) else None


def _by_pong(item: dict[str, Any]) -> tuple[bool, int]:
    """Pairs in the order their answers came (rows are in time order)."""
    return item["pong_row"] is None, item["pong_row"] or 0


def _http_ts(ix: Index, c: ConnSummary) -> tuple[float | None, float | None]:
    """When a connection's WebSocket Upgrade request and its answer were sent (their HTTP rows)."""
    req_f, resp_f = c.ws_request_frame, c.ws_response_frame
    req_ts = resp_ts = None
    t = ix.table
    http_layer = LAYERS.index("http")
    for i in ix.connection_row_ids(c.id):
        if t.layer[i] == http_layer:
            if t.src_kind[i] == 1 and t.frame[i] == req_f:
                req_ts = t.ts[i]
            elif t.src_kind[i] == 2 and t.frame[i] == resp_f:
                resp_ts = t.ts[i]
    return (
        req_ts if req_ts is not None else ix.ts_of(req_f),
        resp_ts if resp_ts is not None else ix.ts_of(resp_f),
    )


def upgrade_latencies(ix: Index) -> list[dict[str, Any]]:
    """WebSocket upgrades (request -> 101, RFC 6455 §4), then the Engine.IO upgrades of the
    sessions (2probe -> 5: the session's upgrade.attempts[] that were completed)."""
    out: list[dict[str, Any]] = []
    for c in ix.conn_summaries:
        if c.ws_messages is None or (c.ws_request_frame is None and c.ws_response_frame is None):
            continue
        req_ts, resp_ts = _http_ts(ix, c)
        if req_ts is not None and resp_ts is not None:
            out.append(
                {
                    "what": "WebSocket handshake",
                    "label": c.label,
                    "connection": c.id,
                    "session": None,
                    "ts": req_ts,
                    "ms": round((resp_ts - req_ts) * 1000, 3),
                }
            )
    for si, s in enumerate(ix.sessions):
        attempts = as_list(as_dict(s, "upgrade"), "attempts")
        done = [a for a in attempts if isinstance(a, dict) and _ms(a.get("upgrade_ms")) is not None]
        if not done:
            continue
        probes = _frame_rows(ix, ix.session_row_ids(si), "engineio", ("ping",), probes=True)
        for a in done:
            frame = as_int(a.get("probe_frame"))
            rows = probes.get(_key("ping", "c2s", frame))
            out.append(
                {
                    "what": "Engine.IO upgrade (2probe \u2192 5)",
                    "label": ix.session_label(si),
                    "connection": as_int(a.get("connection")),
                    "session": si,
                    "ts": ix.table.ts[rows[0]] if rows else ix.ts_of(frame),
                    "ms": _ms(a.get("upgrade_ms")),
                }
            )
    return out


def _nth(rows: FrameRows, seen: dict[RowKey, int], key: RowKey) -> int | None:
    """The row of the next record at `key` (several Pings may travel in one packet)."""
    k = seen.get(key, 0)
    seen[key] = k + 1
    found = rows.get(key)
    return found[min(k, len(found) - 1)] if found else None


def ws_ping_rtts(ix: Index) -> list[dict[str, Any]]:
    """Ping -> Pong round trips as the analysis paired them (websocket.pings[]: the Pong with the
    Ping's application data, RFC 6455 §5.5.2-3), with the rows of both frames."""
    out: list[dict[str, Any]] = []
    for ci, c in enumerate(ix.conn_summaries):
        if not c.ws_pings:
            continue
        rows = _frame_rows(ix, ix.connection_row_ids(c.id), "websocket", ("ping", "pong"))
        seen: dict[RowKey, int] = {}
        for p in as_list(as_dict(ix.connections[ci], "websocket"), "pings"):
            if not isinstance(p, dict):
                continue
            direction = as_str(p.get("direction"))
            ping_row = _nth(rows, seen, _key("ping", direction, p.get("ping_frame")))
            ms = _ms(p.get("rtt_ms"))
            if ms is None:
                continue  # never answered, or superseded by the answer to a later Ping
            out.append(
                {
                    "connection": c.id,
                    "direction": direction,
                    "ts": p.get("ping_ts"),
                    "ms": round(ms, 3),
                    "ping_row": ping_row,
                    "pong_row": _nth(rows, seen, _key("pong", _other(direction), p.get("pong_frame"))),
                }
            )
    out.sort(key=_by_pong)
    return out


def heartbeat_rtts(ix: Index) -> list[dict[str, Any]]:
    """Engine.IO ping -> pong as the analysis paired them (heartbeat.pairs[]; v4: the server
    pings, v3: the client; probes are not heartbeats), with the rows of both packets."""
    out: list[dict[str, Any]] = []
    for si, s in enumerate(ix.sessions):
        hb = as_dict(s, "heartbeat")
        pairs = as_list(hb, "pairs")
        if not pairs:
            continue
        pinger = as_str(hb.get("pinger"))
        rows = _frame_rows(ix, ix.session_row_ids(si), "engineio", ("ping", "pong"), probes=False)
        for p in pairs:
            ms = _ms(p.get("rtt_ms")) if isinstance(p, dict) else None
            if ms is None:
                continue
            pings = rows.get(_key("ping", pinger, p.get("ping_frame")))
            pongs = rows.get(_key("pong", _other(pinger), p.get("pong_frame")))
            out.append(
                {
                    "session": si,
                    "direction": pinger,
                    "ts": p.get("ping_ts"),
                    "ms": ms,
                    "ping_row": pings[-1] if pings else None,  # a pong answers the latest ping
                    "pong_row": pongs[0] if pongs else None,
                }
            )
    out.sort(key=_by_pong)
    return out


def ack_latency(ix: Index) -> list[dict[str, Any]]:
    """Socket.IO acks with the event that asked for them (socketio.acks[]: Socket.IO v5
    "Acknowledgement")."""
    out: list[dict[str, Any]] = []
    for si, s in enumerate(ix.sessions):
        for a in as_list(as_dict(s, "socketio"), "acks"):
            if not isinstance(a, dict):
                continue
            event = a.get("event")
            out.append(
                {
                    "session": si,
                    "nsp": a.get("nsp"),
                    "ack_id": a.get("ack_id"),
                    "event": event if isinstance(event, str) else "?",
                    "request_direction": a.get("request_direction"),
                    "ts": a.get("request_ts"),
                    "ms": _ms(a.get("latency_ms")),
                }
            )
    return out


def _summary(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "min": None, "median": None, "p95": None, "max": None}
    s = sorted(values)
    return {
        "n": len(s),
        "min": round(s[0], 3),
        "median": round(statistics.median(s), 3),
        "p95": round(s[min(len(s) - 1, math.ceil(0.95 * len(s)) - 1)], 3),
        "max": round(s[-1], 3),
    }


def latency_tables(ix: Index) -> dict[str, Any]:
    handshakes = [{"connection": c.id, "label": c.label, "ms": c.rtt_ms} for c in ix.conn_summaries]
    acks = ack_latency(ix)
    per_event: dict[str, list[float]] = {}
    for a in acks:
        if a["ms"] is not None:
            per_event.setdefault(str(a["event"]), []).append(float(a["ms"]))
    return {
        "tcp_handshake": handshakes,
        "upgrades": upgrade_latencies(ix),
        "ws_ping": ws_ping_rtts(ix),
        "heartbeat": heartbeat_rtts(ix),
        "acks": acks,
        "ack_summary": {ev: _summary(v) for ev, v in sorted(per_event.items())},
        "summary": {
            "tcp_handshake": _summary([float(h["ms"]) for h in handshakes if h["ms"] is not None]),
            "ws_ping": _summary([x["ms"] for x in ws_ping_rtts(ix)]),
            "heartbeat": _summary([x["ms"] for x in heartbeat_rtts(ix)]),
        },
    }


def _fig(
    title: str, data: list[dict[str, Any]], xtitle: str, ytitle: str, category: bool = False, **extra: Any
) -> dict[str, Any]:
    layout = {
        **_LAYOUT_BASE,
        "title": {"text": title, "x": 0.01, "xanchor": "left"},
        "xaxis": {
            "title": {"text": xtitle},
            "automargin": True,
            **({"type": "category"} if category else {}),
        },
        "yaxis": {"title": {"text": ytitle}, "rangemode": "tozero"},
        "height": 340,
        "hovermode": "closest",
        **extra,
    }
    if not data or all(not d.get("x") and not d.get("y") for d in data):
        layout["annotations"] = [
            {
                "text": "nothing to show in this capture",
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "font": {"size": 14, "color": "#888"},
            }
        ]
    return {"data": data, "layout": layout}


def _bars(
    title: str, many_title: str, items: list[tuple[str, float, str]], xtitle: str, colour: str
) -> dict[str, Any]:
    """A bar per (x, ms, hover text) item; beyond MAX_BARS, one bar per item no longer reads:
    a histogram of the values does."""
    if len(items) > MAX_BARS:
        trace = {
            "type": "histogram",
            "x": [ms for _, ms, _ in items],
            "nbinsx": 60,
            "marker": {"color": colour},
        }
        return _fig(many_title, [trace], "ms", "count")
    bars = {
        "type": "bar",
        "x": [x for x, _, _ in items],
        "y": [ms for _, ms, _ in items],
        "text": [esc(text) for _, _, text in items],
        "hoverinfo": "text+y",
        "marker": {"color": colour},
    }
    return _fig(title, [bars], xtitle, "ms", category=True)


def _few_traces(traces: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One trace per connection or session while the legend can show them; beyond MAX_TRACES,
    one trace with every point, each named in its hover text."""
    if len(traces) <= MAX_TRACES:
        return list(traces.values())
    merged: dict[str, Any] = {
        "type": "scatter",
        "mode": "markers",
        "name": f"{len(traces):,} series",
        "x": [],
        "y": [],
        "text": [],
        "hoverinfo": "text+x+y",
    }
    for name, tr in traces.items():
        merged["x"].extend(tr["x"])
        merged["y"].extend(tr["y"])
        merged["text"].extend([esc(name)] * len(tr["x"]))
    return [merged]


def latency_figures(ix: Index) -> dict[str, dict[str, Any]]:
    t = latency_tables(ix)
    hs = [h for h in t["tcp_handshake"] if h["ms"] is not None]
    figs: dict[str, dict[str, Any]] = {}
    figs["tcp_handshake"] = _bars(
        "TCP handshake RTT per connection (SYN \u2192 ACK)",
        f"TCP handshake RTT of {len(hs):,} connections (SYN \u2192 ACK)",
        [(f"#{h['connection']}", h["ms"], h["label"]) for h in hs],
        "connection",
        "#7f7f7f",
    )
    ups = t["upgrades"]
    figs["upgrades"] = _bars(
        "Upgrade latency",
        f"Upgrade latency of {len(ups):,} upgrades",
        [(esc(u["label"]), u["ms"], u["what"]) for u in ups],
        "",
        "#2ca02c",
    )
    pings: dict[str, dict[str, Any]] = {}
    for p in t["ws_ping"]:
        key = f"TCP #{p['connection']} ping {p['direction']}"
        tr = pings.setdefault(
            key, {"type": "scatter", "mode": "lines+markers", "name": key, "x": [], "y": []}
        )
        tr["x"].append(round(p["ts"] - ix.t0, 6))
        tr["y"].append(p["ms"])
    figs["ws_ping"] = _fig("WebSocket ping RTT over time", _few_traces(pings), "seconds", "ms")
    beats: dict[str, dict[str, Any]] = {}
    for p in t["heartbeat"]:
        key = f"EIO #{p['session']} ping {p['direction']}"
        tr = beats.setdefault(
            key, {"type": "scatter", "mode": "lines+markers", "name": key, "x": [], "y": []}
        )
        tr["x"].append(round(p["ts"] - ix.t0, 6))
        tr["y"].append(p["ms"])
    figs["heartbeat"] = _fig(
        "Engine.IO heartbeat RTT over time (ping \u2192 pong)", _few_traces(beats), "seconds", "ms"
    )
    boxes: dict[str, dict[str, Any]] = {}
    for a in t["acks"]:
        if a["ms"] is None:
            continue
        ev = esc(a["event"])[:60]
        boxes.setdefault(ev, {"type": "box", "name": ev, "y": [], "boxpoints": "all", "jitter": 0.3})[
            "y"
        ].append(a["ms"])
    figs["acks"] = _fig(
        "Socket.IO ack latency per event", list(boxes.values()), "event", "ms", showlegend=False
    )
    return figs
