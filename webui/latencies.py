"""The latency page's tables and figures: TCP handshakes, WebSocket upgrades and pings, Engine.IO
upgrades and heartbeats, Socket.IO acks per event.

The analysis pairs what answers what (its records: `websocket.pings[]`, the session's
`upgrade.attempts[]` and `heartbeat.pairs[]`, `socketio.acks[]`); nothing is paired here: the
rows only locate the packets a record names, so that a table can link to them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from webui.docutil import cut
from webui.index import LAYERS, Index, as_dict, as_int, as_list, as_str
from webui.indexbuild import ConnSummary
from webui.plotstyle import LAYOUT_BASE, esc

__all__ = [
    "MAX_BARS",
    "MAX_TRACES",
    "ack_latency",
    "heartbeat_rtts",
    "latency_figures",
    "latency_tables",
    "upgrade_latencies",
    "ws_ping_rtts",
]

MAX_BARS = 40  # above this, a latency is shown as a histogram instead of a bar per item
MAX_TRACES = 30  # above this, per-connection/session series are merged into one trace

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


def _fig(title: str, data: list[dict[str, Any]], xtitle: str, ytitle: str, **extra: Any) -> dict[str, Any]:
    layout = {
        **LAYOUT_BASE,
        "title": {"text": title, "x": 0.01, "xanchor": "left"},
        "xaxis": {"title": {"text": xtitle}, "automargin": True},
        "yaxis": {"title": {"text": ytitle}, "rangemode": "tozero", "automargin": True},
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
    title: str, many_title: str, items: list[tuple[str, float, str]], ytitle: str, colour: str
) -> dict[str, Any]:
    """A horizontal bar per (label, ms, hover text) item, its label written level on the left
    (upright labels under vertical bars were turned on their side and squeezed the plot to a few
    pixels); beyond MAX_BARS, one bar per item no longer reads: a histogram of the values does."""
    if len(items) > MAX_BARS:
        trace = {
            "type": "histogram",
            "x": [ms for _, ms, _ in items],
            "nbinsx": 60,
            "marker": {"color": colour},
        }
        return _fig(many_title, [trace], "ms", "count")
    labels: list[str] = []
    for label, _, _ in items:  # the bars' categories: the same label twice would make one bar
        shown = cut(label, 36)
        n = 2
        while esc(shown) in labels:
            shown = f"{cut(label, 32)} ({n})"
            n += 1
        labels.append(esc(shown))
    bars = {
        "type": "bar",
        "orientation": "h",
        "y": labels,
        "x": [ms for _, ms, _ in items],
        "text": [esc(text) for _, _, text in items],
        "hoverinfo": "text+x",
        "textposition": "none",
        "marker": {"color": colour},
    }
    fig = _fig(title, [bars], "ms", ytitle, height=max(300, 120 + 26 * len(items)))
    fig["layout"]["yaxis"] = {
        "title": {"text": ytitle},
        "type": "category",
        "automargin": True,
        "autorange": "reversed",
    }
    fig["layout"]["xaxis"]["rangemode"] = "tozero"
    return fig


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


def _upgrade_name(u: dict[str, Any]) -> str:
    """A short name for an upgrade's bar (the hover text has the whole label)."""
    if u.get("session") is not None:
        return f"EIO #{u['session']} (Engine.IO)"
    return f"TCP #{u.get('connection')} (WebSocket)"


def latency_figures(ix: Index) -> dict[str, dict[str, Any]]:
    t = latency_tables(ix)
    hs = [h for h in t["tcp_handshake"] if h["ms"] is not None]
    figs: dict[str, dict[str, Any]] = {}
    figs["tcp_handshake"] = _bars(
        "TCP handshake RTT per connection (SYN \u2192 ACK)",
        f"TCP handshake RTT of {len(hs):,} connections (SYN \u2192 ACK)",
        [(f"TCP #{h['connection']}", h["ms"], h["label"]) for h in hs],
        "",
        "#7f7f7f",
    )
    ups = t["upgrades"]
    figs["upgrades"] = _bars(
        "Upgrade latency",
        f"Upgrade latency of {len(ups):,} upgrades",
        [(_upgrade_name(u), u["ms"], f"{u['what']}: {u['label']}") for u in ups],
        "",
        "#2ca02c",
    )
    pings: dict[str, dict[str, Any]] = {}
    for p in t["ws_ping"]:
        if _ms(p["ts"]) is None:
            continue  # a document without the ping's time (hostile or damaged)
        key = f"TCP #{p['connection']} ping {p['direction']}"
        tr = pings.setdefault(
            key, {"type": "scatter", "mode": "lines+markers", "name": key, "x": [], "y": []}
        )
        tr["x"].append(round(p["ts"] - ix.t0, 6))
        tr["y"].append(p["ms"])
    figs["ws_ping"] = _fig("WebSocket ping RTT over time", _few_traces(pings), "seconds", "ms")
    beats: dict[str, dict[str, Any]] = {}
    for p in t["heartbeat"]:
        if _ms(p["ts"]) is None:
            continue
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
