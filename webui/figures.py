"""Pure functions: analysis index -> plotly figures (as plain JSON-ready dicts): the timeline
and the OSI stack (the latency figures are in webui/latencies.py).

Every string that came from the capture is HTML-escaped (webui/plotstyle.py: esc) before it
goes into a figure.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from webui.docutil import message_text
from webui.h2view import http_layer_name
from webui.index import LAYERS, Index, Row, as_int, as_list
from webui.plotstyle import LAYOUT_BASE, esc
from webui.tlsview import osi_row

_int = as_int

__all__ = ["BINS", "MAX_LANES", "MAX_POINTS", "lanes", "osi_figure", "osi_layers", "timeline_figure"]

MAX_POINTS = 20_000  # above this, the timeline is binned by time
MAX_LANES = 300  # above this, the quietest connections and sessions share one timeline lane
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
_NO_LANE = "anomalies of no connection"
_SEVERITY_COLOURS = {"chat": "#9467bd", "note": "#17becf", "warn": "#bcbd22", "error": "#e31a1c"}


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


Lanes = dict[tuple[str, int], int]


def _binned_points(
    ix: Index, grp: list[Any], pos: Lanes, lo: float, width: float, cat: str, direction: str | None
) -> dict[str, Any]:
    """A marker per (lane, time bin) of a group's rows, sized by how many it stands for."""
    name = _CATEGORIES[cat][0]
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
    return {"x": xs, "y": ys, "text": texts, "customdata": custom, "sizes": sizes}


def _row_points(ix: Index, grp: list[Any], pos: Lanes, cat: str) -> dict[str, Any]:
    """A marker per row of a group."""
    xs, ys, texts = [], [], []
    custom_rows: list[dict[str, int]] = []
    for r in grp:
        lane = _lane_of(ix, r, pos)
        if lane is None:
            continue
        xs.append(round(r.ts - ix.t0, 6))
        ys.append(lane + _OFFSETS[cat])
        texts.append(_hover(ix, r))
        custom_rows.append({"row": r.id})
    return {"x": xs, "y": ys, "text": texts, "customdata": custom_rows}


def _timeline_layout(labels: list[str], binned: bool, t0: float | None, t1: float | None) -> dict[str, Any]:
    n = max(len(labels), 1)
    layout: dict[str, Any] = {
        **LAYOUT_BASE,
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
    return layout


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
                points = _binned_points(ix, grp, pos, lo, width, cat, direction)
                trace["marker"]["size"] = points.pop("sizes")
            else:
                points = _row_points(ix, grp, pos, cat)
            trace.update(points)
            traces.append(trace)
    traces.extend(_anomaly_trace(ix, pos, labels, t0, t1))
    return {
        "data": traces,
        "layout": _timeline_layout(labels, binned, t0, t1),
        "meta": {"points": len(ids), "binned": binned, "lanes": len(labels)},
    }


def _anomaly_lane(ix: Index, a: dict[str, Any], frames: list[int], pos: Lanes) -> int | None:
    """The lane an anomaly belongs on: its Engine.IO session's for an Engine.IO or Socket.IO
    anomaly (the session of a record at its first packet), else its connection's."""
    if a.get("layer") in ("engineio", "socketio") and frames:
        for r in ix.rows_for_frame(frames[0]):
            if r.session is not None and ("s", r.session) in pos:
                return pos[("s", r.session)]
    ci = ix.conn_pos.get(_int(a.get("connection")))
    return pos.get(("c", ci)) if ci is not None else None


def _anomaly_trace(
    ix: Index, pos: Lanes, labels: list[str], t0: float | None, t1: float | None
) -> list[dict[str, Any]]:
    """A marker per anomaly on its lane, over the records there; the anomalies of no connection
    get a lane of their own (added to `labels`)."""
    xs, ys, texts, colours, custom = [], [], [], [], []
    for i, a in enumerate(ix.anomalies[:MAX_POINTS]):
        frames = [f for f in as_list(a, "frames") if isinstance(f, int) and not isinstance(f, bool)]
        ts = ix.ts_of(frames[0]) if frames else None
        if ts is None:
            continue
        rel = ts - ix.t0
        if (t0 is not None and rel < t0) or (t1 is not None and rel > t1):
            continue
        lane = _anomaly_lane(ix, a, frames, pos)
        if lane is None:
            if not labels or labels[-1] != _NO_LANE:
                labels.append(_NO_LANE)
            lane = len(labels) - 1
        xs.append(round(rel, 6))
        ys.append(lane)
        texts.append(
            f"{esc(a.get('code'))} ({esc(a.get('severity'))})<br>{esc(message_text(a.get('message'))[:160])}"
        )
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
            # drawn last, over the records of its lane; the white edge keeps it apart from them
            "marker": {"symbol": "x", "size": 14, "color": colours, "line": {"width": 1, "color": "#ffffff"}},
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
    tls = osi_row(ix)  # the presentation layer, when the capture has TLS (webui/tlsview.py)
    return [
        {"layer": "Link", "packets": packets_total, "bytes": _stat(ix, "link_header_bytes")},
        {"layer": "IP", "packets": ip_packets, "bytes": _stat(ix, "ip_header_bytes")},
        {"layer": "TCP", "packets": tcp_packets, "bytes": _stat(ix, "tcp_header_bytes")},
        *([tls] if tls is not None else []),
        {
            "layer": http_layer_name(ix),  # HTTP/2 when it is (webui/h2view.py)
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
    if len(layers) > len(colours):  # TLS between TCP and HTTP
        colours.insert(3, "#9467bd")
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
        **LAYOUT_BASE,
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
