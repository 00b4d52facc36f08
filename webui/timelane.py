"""The timeline's data at any size: the lanes active in a time window and their points, decimated
on the server to a bounded number, for WebGL traces (`scattergl`) drawn by static/timeline.js.

The row columns (webui/rowtable.py) are read as numpy arrays once per index (time, lane,
category, direction), so a window of any width costs two binary searches, one pass of
vectorised counting and at most `max_points` points sent. A window that holds more rows than
that is binned (a point per lane, category, direction and time bin, sized by its count; a click
zooms into the bin); lanes are the connections and Engine.IO sessions with rows in the window,
the busiest `max_lanes` of them, the others sharing one lane. Anomalies are an overlay band per
lane (one line trace per severity, a segment per stretch of time with anomalies), not a marker
each; the anomalies of no connection or session (capture.*, tcp.table-full, link and IP ones) are
on a "capture" lane at the top, those without a packet across the whole window. Captured text is
escaped (plotstyle.esc) before it goes into a hover label.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from webui.index import LAYERS, Index, as_int, as_list
from webui.plotstyle import esc

__all__ = ["CAPTURE_LANE", "MAX_LANES", "MAX_POINTS", "density", "timeline_data"]

MAX_POINTS = 4000  # points one answer holds at most (markers; the bands are apart)
MAX_LANES = 60  # lanes of their own in one answer; the quieter ones share the last lane
BINS = 400  # time bins of a binned answer (fewer when the points would be too many)
BAND_BINS = 300  # resolution of the anomaly bands
DENSITY_BINS = 300  # resolution of the range slider's preview (rows per time bin, whole capture)
CAPTURE_LANE = "capture"  # the top lane's label: anomalies of no connection or session

# (legend name, colour, offset in the lane) per category; the order is the legend's
CATEGORIES = (
    ("TCP", "#7f7f7f", -0.32),
    ("HTTP", "#1f77b4", -0.16),
    ("WebSocket message", "#2ca02c", 0.0),
    ("WebSocket control", "#98df8a", 0.0),
    ("Engine.IO", "#ff7f0e", 0.16),
    ("Socket.IO", "#d62728", 0.32),
)
_LAYER_CAT = {"tcp": 0, "http": 1, "websocket": 2, "engineio": 4, "socketio": 5}
DIRECTIONS = ((None, "", "circle"), ("c2s", "client \u2192 server", "triangle-right"),
              ("s2c", "server \u2192 client", "triangle-left"))  # fmt: skip
SEVERITY_COLOURS = {"chat": "#9467bd", "note": "#17becf", "warn": "#bcbd22", "error": "#e31a1c"}

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Columns:
    """What the timeline needs of every row, as arrays: time since the first packet, lane key
    (connection position, or number of connections + session index; -1: none), category,
    direction (0 none, 1 c2s, 2 s2c)."""

    ts: FloatArray
    lane: IntArray
    cat: IntArray
    direction: IntArray
    anomaly_ts: FloatArray  # NaN: no packet (an anomaly of the capture as a whole)
    anomaly_lane: IntArray  # -1: the capture lane
    anomaly_sev: list[str]
    anomaly_code: list[str]
    lane_keys: IntArray  # every lane with rows, and its first and last row's time and count
    lane_first: FloatArray
    lane_last: FloatArray
    lane_rows: IntArray


_CACHE: weakref.WeakKeyDictionary[Index, Columns] = weakref.WeakKeyDictionary()


def _columns(ix: Index) -> Columns:
    got = _CACHE.get(ix)
    if got is None:
        got = _CACHE[ix] = _make_columns(ix)
    return got


def _make_columns(ix: Index) -> Columns:
    t = ix.table
    n_conn = len(ix.conn_summaries)
    ts = np.frombuffer(t.ts, dtype=np.float64) - ix.t0 if len(t) else np.zeros(0)
    conn = np.frombuffer(t.connection, dtype=np.int64) if len(t) else np.zeros(0, np.int64)
    sess = np.frombuffer(t.session, dtype=np.int32).astype(np.int64) if len(t) else np.zeros(0, np.int64)
    ids = [(c, p) for c, p in ix.conn_pos.items() if isinstance(c, int) and c >= 0]
    top = max((c for c, _ in ids), default=-1)
    lookup = np.full(top + 2, -1, dtype=np.int64)  # the last slot answers for -1 (no connection)
    for c, p in ids:
        lookup[c] = p
    conn_lane = lookup[np.where((conn >= 0) & (conn <= top), conn, -1)]
    lane = np.where(sess >= 0, n_conn + sess, conn_lane)
    layer = (
        np.frombuffer(bytes(t.layer), dtype=np.uint8).astype(np.int64) if len(t) else np.zeros(0, np.int64)
    )
    cat_of_layer = np.array([_LAYER_CAT[name] for name in LAYERS], dtype=np.int64)
    cat = cat_of_layer[layer] if len(t) else np.zeros(0, np.int64)
    data_kinds = np.array([v in ("text", "binary") for v in t.kinds.values] + [False], dtype=bool)
    kind = np.frombuffer(t.kind, dtype=np.int32).astype(np.int64) if len(t) else np.zeros(0, np.int64)
    ws = layer == LAYERS.index("websocket")
    cat = np.where(ws & ~data_kinds[np.where(kind >= 0, kind, -1)], 3, cat)
    direction = (
        np.frombuffer(bytes(t.direction), dtype=np.uint8).astype(np.int64)
        if len(t)
        else np.zeros(0, np.int64)
    )
    a_ts, a_lane, a_sev, a_code = _anomaly_columns(ix, n_conn)
    keys, first, counts = np.unique(lane, return_index=True, return_counts=True)
    _, last_rev = np.unique(lane[::-1], return_index=True)
    last = len(lane) - 1 - last_rev
    return Columns(
        ts,
        lane,
        cat,
        direction,
        a_ts,
        a_lane,
        a_sev,
        a_code,
        keys,
        ts[first],
        ts[last],
        counts.astype(np.int64),
    )


def _open_lanes(cols: Columns, lo_t: float, hi_t: float, max_lanes: int) -> IntArray:
    """The lanes open across a window without rows (a row before it and one after), the busiest
    `max_lanes`: what a zoom into a quiet stretch shows, rather than an empty plot."""
    inside = (cols.lane_first <= hi_t) & (cols.lane_last >= lo_t) & (cols.lane_keys >= 0)
    keys, counts = cols.lane_keys[inside], cols.lane_rows[inside]
    return np.sort(keys[np.argsort(-counts, kind="stable")[:max_lanes]])


def _anomaly_columns(ix: Index, n_conn: int) -> tuple[FloatArray, IntArray, list[str], list[str]]:
    """Time, lane, severity and code of each anomaly: an Engine.IO or Socket.IO anomaly on its
    session's lane (the session of a record at its first packet), any other on its connection's;
    -1 (the capture lane) when it has neither. An anomaly without a packet has no time (NaN): one
    of the capture lane is shown across the window, one of a connection or session is left out."""
    times: list[float] = []
    lanes: list[int] = []
    sevs: list[str] = []
    codes: list[str] = []
    for a in ix.anomalies:
        frames = [f for f in as_list(a, "frames") if isinstance(f, int) and not isinstance(f, bool)]
        ts = ix.ts_of(frames[0]) if frames else None
        lane = -1
        if a.get("layer") in ("engineio", "socketio"):
            for r in ix.rows_for_frame(frames[0]):
                if r.session is not None:
                    lane = n_conn + r.session
                    break
        if lane < 0:
            pos = ix.conn_pos.get(as_int(a.get("connection")))
            lane = pos if pos is not None else -1
        if ts is None and lane >= 0:
            continue
        times.append(np.nan if ts is None else ts - ix.t0)
        lanes.append(lane)
        sevs.append(str(a.get("severity")))
        codes.append(str(a.get("code")))
    return np.array(times, dtype=np.float64), np.array(lanes, dtype=np.int64), sevs, codes


def _lane_label(ix: Index, key: int) -> str:
    n_conn = len(ix.conn_summaries)
    if key < 0:
        return "no connection"
    if key < n_conn:
        return ix.conn_summaries[key].label
    return ix.session_label(key - n_conn)


def _window(cols: Columns, t0: float | None, t1: float | None) -> tuple[float, float, int, int]:
    span_end = float(cols.ts[-1]) if len(cols.ts) else 0.0
    lo_t = 0.0 if t0 is None else max(0.0, t0)
    hi_t = span_end if t1 is None else t1
    if hi_t < lo_t:
        lo_t, hi_t = hi_t, lo_t
    lo = int(np.searchsorted(cols.ts, lo_t, side="left"))
    hi = int(np.searchsorted(cols.ts, hi_t, side="right"))
    return lo_t, hi_t, lo, hi


def _lanes(ix: Index, lanes_in: IntArray, max_lanes: int) -> tuple[list[int], dict[int, int], int]:
    """The lane keys shown (busiest `max_lanes`, in lane order), key -> row on the plot, and how
    many lanes share the last row ('others')."""
    keys, counts = np.unique(lanes_in, return_counts=True)
    if len(keys) > max_lanes:
        keep = np.sort(keys[np.argsort(-counts, kind="stable")[:max_lanes]])
        others = len(keys) - max_lanes
    else:
        keep, others = keys, 0
    shown = [int(k) for k in keep]
    pos = {k: i for i, k in enumerate(shown)}
    return shown, pos, others


def timeline_data(
    ix: Index,
    t0: float | None = None,
    t1: float | None = None,
    max_points: int = MAX_POINTS,
    max_lanes: int = MAX_LANES,
) -> dict[str, Any]:
    """Lanes and points of the window [t0, t1] (seconds since the first packet; None: the ends)."""
    cols = _columns(ix)
    lo_t, hi_t, lo, hi = _window(cols, t0, t1)
    lane = cols.lane[lo:hi]
    shown, pos, others = _lanes(ix, lane[lane >= 0], max_lanes)
    quiet = not shown
    if quiet:
        shown = [int(k) for k in _open_lanes(cols, lo_t, hi_t, max_lanes)]
        pos = {k: i for i, k in enumerate(shown)}
    top = 1 if (cols.anomaly_lane < 0).any() else 0  # the capture lane, on row 0
    labels = [CAPTURE_LANE] * top + [_lane_label(ix, k) for k in shown]
    if others:
        labels.append(f"{others:,} other lanes")
    pos = {k: row + top for k, row in pos.items()}
    other_row = len(shown) + top
    lut_keys = np.array(shown, dtype=np.int64)
    row_of = np.full(len(lane), other_row if others else -1, dtype=np.int64)
    if len(lut_keys):
        at = np.searchsorted(lut_keys, lane).clip(0, len(lut_keys) - 1)
        hit = lut_keys[at] == lane
        row_of = np.where(hit, at + top, row_of)
    n = hi - lo
    binned = n > max_points
    traces = _bands(cols, lo_t, hi_t, pos, other_row if others else None, 0 if top else None)  # under
    if binned:
        traces += _binned_traces(cols, lo, hi, row_of, lo_t, hi_t, max_points)
    else:
        traces += _row_traces(ix, cols, lo, hi, row_of)
    return {
        "t0": lo_t,
        "t1": hi_t,
        "span": [0.0, float(cols.ts[-1]) if len(cols.ts) else 0.0],
        "density": density(cols),
        "lanes": [esc(x) for x in labels],
        "traces": traces,
        "meta": {
            "rows": n,
            "binned": binned,
            "points": sum(len(tr["x"]) for tr in traces if tr.get("mode") == "markers"),
            "lanes": len(labels),
            "lanes_active": 0 if quiet else len(shown) + others,
            "quiet": quiet,
        },
    }


def density(cols: Columns, bins: int = DENSITY_BINS) -> dict[str, list[float]]:
    """Rows per time bin over the whole capture (bin centres, counts): the range slider's
    preview, which plotly draws with a light SVG trace since it draws no WebGL trace there."""
    if not len(cols.ts):
        return {"x": [], "y": []}
    end = max(float(cols.ts[-1]), 1e-9)
    edges = np.linspace(0.0, end, bins + 1)
    at = np.searchsorted(cols.ts, edges[1:-1], side="left")  # ts is sorted
    counts = np.diff(np.concatenate(([0], at, [len(cols.ts)])))
    return {"x": np.round((edges[:-1] + edges[1:]) / 2, 6).tolist(), "y": counts.astype(float).tolist()}


def _trace(cat: int, d: int) -> dict[str, Any]:
    name, colour, _ = CATEGORIES[cat]
    return {
        "type": "scattergl",
        "mode": "markers",
        "name": f"{name} {DIRECTIONS[d][1]}".strip(),
        "legendgroup": name,
        "hoverinfo": "text",
        "marker": {"color": colour, "symbol": DIRECTIONS[d][2], "size": 9},
    }


def _row_traces(ix: Index, cols: Columns, lo: int, hi: int, row_of: IntArray) -> list[dict[str, Any]]:
    """A marker per row of the window (there are at most max_points)."""
    groups: dict[tuple[int, int], dict[str, Any]] = {}
    t = ix.table
    for k in range(hi - lo):
        y = int(row_of[k])
        if y < 0:
            continue
        i = lo + k
        cat, d = int(cols.cat[i]), int(cols.direction[i])
        tr = groups.get((cat, d))
        if tr is None:
            tr = groups[(cat, d)] = {**_trace(cat, d), "x": [], "y": [], "text": [], "customdata": []}
        tr["x"].append(round(float(cols.ts[i]), 6))
        tr["y"].append(y + CATEGORIES[cat][2])
        frame = t.frame[i]
        tr["text"].append(
            f"{esc(t.layer_of(i))} {esc(t.kind_of(i))} {DIRECTIONS[d][1]}<br>"
            f"t = {cols.ts[i]:.6f} s, packet {frame if frame >= 0 else '?'}<br>"
            f"{esc(t.summary_of(i)[:120])}"
        )
        tr["customdata"].append({"row": i})
    return [groups[key] for key in sorted(groups)]


def _binned_traces(
    cols: Columns, lo: int, hi: int, row_of: IntArray, lo_t: float, hi_t: float, max_points: int
) -> list[dict[str, Any]]:
    """A marker per (lane, category, direction, time bin), sized by how many rows it stands for;
    the bins are made wider until the markers are at most `max_points`."""
    ts = cols.ts[lo:hi]
    ok = row_of >= 0
    group = (row_of * len(CATEGORIES) + cols.cat[lo:hi]) * 3 + cols.direction[lo:hi]
    width_t = max(hi_t - lo_t, 1e-9)
    bins = BINS
    while True:
        b = np.minimum(((ts - lo_t) / width_t * bins).astype(np.int64), bins - 1)
        key = group * bins + b
        keys, counts = np.unique(key[ok], return_counts=True)
        if len(keys) <= max_points or bins <= 4:
            break
        bins = max(4, int(bins * max_points / len(keys) * 0.9))
    if len(keys) > max_points:  # the busiest bins (few bins, very many lanes)
        top = np.sort(np.argsort(-counts, kind="stable")[:max_points])
        keys, counts = keys[top], counts[top]
    width = width_t / bins
    out: list[dict[str, Any]] = []
    grp, bn = keys // bins, keys % bins
    lane_of, rest = np.divmod(grp, len(CATEGORIES) * 3)
    cat_of, dir_of = np.divmod(rest, 3)
    for cd in np.unique(rest):  # one trace per category and direction, every lane in it
        sel = rest == cd
        cat, d = int(cat_of[sel][0]), int(dir_of[sel][0])
        starts = lo_t + bn[sel] * width
        cnt = counts[sel]
        tr = _trace(cat, d)
        tr["x"] = np.round(starts + width / 2, 6).tolist()
        tr["y"] = (lane_of[sel] + CATEGORIES[cat][2]).tolist()
        tr["marker"]["size"] = np.minimum(6 + 3 * np.log2(cnt), 24).round(1).tolist()
        tr["text"] = [
            f"{c} \u00d7 {CATEGORIES[cat][0]} {DIRECTIONS[d][1]}<br>"
            f"t = {s:.3f} .. {s + width:.3f} s<br>click to zoom in"
            for c, s in zip(cnt.tolist(), starts.tolist(), strict=True)
        ]
        tr["customdata"] = [{"zoom": [round(s, 6), round(s + width, 6)]} for s in starts.tolist()]
        out.append(tr)
    return out


def _bands(
    cols: Columns, lo_t: float, hi_t: float, pos: dict[int, int], other_row: int | None, top: int | None
) -> list[dict[str, Any]]:
    """Per severity, one line trace: a thick segment over each lane where it has anomalies,
    one per stretch of time bins (BAND_BINS across the window) that holds some. The anomalies of
    no lane are on row `top` (the capture lane; None: not shown), those without a packet as one
    segment across the window."""
    timeless = np.isnan(cols.anomaly_ts) & (cols.anomaly_lane < 0)
    inside = ((cols.anomaly_ts >= lo_t) & (cols.anomaly_ts <= hi_t)) | timeless
    if not inside.any():
        return []
    width = max(hi_t - lo_t, 1e-9) / BAND_BINS
    found: dict[str, dict[int, dict[int, list[str]]]] = {}
    for k in np.flatnonzero(inside).tolist():
        key = int(cols.anomaly_lane[k])
        row = pos.get(key, other_row) if key >= 0 else top
        if row is None:
            continue
        b = -1 if timeless[k] else min(int((cols.anomaly_ts[k] - lo_t) / width), BAND_BINS - 1)
        found.setdefault(cols.anomaly_sev[k], {}).setdefault(row, {}).setdefault(b, []).append(
            cols.anomaly_code[k]
        )
    out = []
    for sev in ("chat", "note", "warn", "error"):
        rows = found.get(sev)
        if not rows:
            continue
        xs: list[float | None] = []
        ys: list[float | None] = []
        texts: list[str | None] = []
        for row, bins in sorted(rows.items()):
            for b, codes in sorted(bins.items()):
                label = _band_label(sev, codes, row == top, None if b < 0 else lo_t + b * width, width)
                a, z = (lo_t, hi_t) if b < 0 else (lo_t + b * width, lo_t + (b + 1) * width)
                xs += [round(a, 6), round(z, 6), None]
                ys += [row, row, None]
                texts += [label, label, None]
        out.append(
            {
                "type": "scattergl",
                "mode": "lines",
                "name": f"anomalies ({sev})",
                "legendgroup": "anomalies",
                "hoverinfo": "text",
                "x": xs,
                "y": ys,
                "text": texts,
                "line": {"color": SEVERITY_COLOURS.get(sev, "#000000"), "width": 14},
                "opacity": 0.35,
            }
        )
    return out


def _band_label(sev: str, codes: list[str], capture: bool, at: float | None, width: float) -> str:
    """A band segment's hover text: how many anomalies, when, and on the capture lane which codes."""
    c = len(codes)
    text = f"{c} {sev} anomal{'y' if c == 1 else 'ies'}"
    if capture:
        names = sorted(set(codes))
        more = " \u2026" if len(names) > 6 else ""
        text += f" of the capture: {esc(', '.join(names[:6]))}{more}"
    when = "no packet (the capture as a whole)" if at is None else f"t = {at:.3f} .. {at + width:.3f} s"
    return f"{text}<br>{when}"
