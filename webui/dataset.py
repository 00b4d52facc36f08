"""The dataset page (`socketscope serve --dataset DATASET`): across the captures of a `batch`
dataset, read with DuckDB (analyzer.batch.query): captures over time, sessions, anomalies by code,
and ack latency percentiles per event and namespace over time. Each row links to the capture's
own views when the capture is one the server lists (the serve command lists the dataset's local
captures). Figures are plotly JSON from /api/dataset/figures/<name>; captured text is escaped
(plotstyle.esc) and templates autoescape.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template

from webui.plotstyle import LAYOUT_BASE, esc
from webui.store import CaptureStore
from webui.web import csrf_token

__all__ = ["bp", "dataset_captures"]

bp = Blueprint("dataset", __name__)
ROWS = 200  # rows of each table on the page (the JSON API has all of them)
_LOCK = threading.Lock()  # one DuckDB query at a time (a connection per request is cheap)


def _query(sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    from analyzer.batch.query import connect

    root = current_app.config["DATASET"]
    with _LOCK:
        con = connect(root)
        try:
            cur = con.execute(sql, params or [])
            names = [d[0] for d in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        finally:
            con.close()


def dataset_captures(root: str) -> list[str]:
    """The local files of the dataset's captures (for the server to list them)."""
    from analyzer.batch.query import connect

    con = connect(root)
    try:
        rows = con.execute("SELECT source FROM captures ORDER BY source").fetchall()
    finally:
        con.close()
    return [r[0] for r in rows if isinstance(r[0], str) and os.path.isfile(r[0])]


def _links() -> dict[str, str]:
    """Source path -> the server's id of that capture (for links to its views)."""
    store: CaptureStore = current_app.extensions["socketscope.store"]
    return {e.path: e.id for e in store.entries()}


def _ts(v: Any) -> str | None:
    return None if v is None else v.isoformat(sep=" ", timespec="milliseconds")


def _captures() -> list[dict[str, Any]]:
    rows = _query(
        "SELECT capture_id, source, ts, packets, connections, sessions, anomalies, complete, error, damage "
        "FROM captures ORDER BY ts NULLS LAST, source"
    )
    links = _links()
    for r in rows:
        r["link"] = links.get(os.path.realpath(r["source"])) if r["source"] else None
        r["name"] = os.path.basename(r["source"] or "")
        r["ts"] = _ts(r["ts"])
    return rows


def _sessions() -> list[dict[str, Any]]:
    rows = _query(
        "SELECT s.capture_id, c.source, s.sid, s.ts, s.last_ts, s.transport_path, s.upgraded, s.end_reason, "
        "s.anomaly_count, s.namespaces FROM sessions s JOIN captures c USING (capture_id) "
        "ORDER BY s.ts NULLS LAST, s.sid"
    )
    links = _links()
    for r in rows:
        r["link"] = links.get(os.path.realpath(r.pop("source") or ""))
        r["ts"], r["last_ts"] = _ts(r["ts"]), _ts(r["last_ts"])
    return rows


def _anomaly_codes() -> list[dict[str, Any]]:
    return _query(
        "SELECT code, severity, count(*) AS n, count(DISTINCT capture_id) AS captures FROM anomalies "
        "GROUP BY code, severity ORDER BY n DESC, code"
    )


def _bucket() -> str:
    span = _query("SELECT epoch(max(ts)) - epoch(min(ts)) AS s FROM acks")[0]["s"] or 0
    return "day" if span > 14 * 86400 else "hour" if span > 2 * 86400 else "minute"


def _ack_percentiles() -> list[dict[str, Any]]:
    bucket = _bucket()
    return _query(
        f"SELECT date_trunc('{bucket}', ts) AS t, nsp, event, count(*) AS n, "
        "quantile_cont(latency_ms, 0.5) AS p50, quantile_cont(latency_ms, 0.95) AS p95, "
        "quantile_cont(latency_ms, 0.99) AS p99 FROM acks WHERE latency_ms IS NOT NULL "
        "GROUP BY ALL ORDER BY t, nsp, event"
    )


def _layout(title: str, xtitle: str, ytitle: str) -> dict[str, Any]:
    return {
        **LAYOUT_BASE,
        "title": {"text": title},
        "xaxis": {"title": {"text": xtitle}},
        "yaxis": {"title": {"text": ytitle}},
        "height": 340,
    }


def _figure(name: str) -> dict[str, Any]:
    if name == "captures":
        rows = [r for r in _captures() if r["ts"]]
        return {
            "data": [
                {
                    "type": "scatter",
                    "mode": "markers",
                    "x": [r["ts"] for r in rows],
                    "y": [r["packets"] for r in rows],
                    "text": [esc(r["name"]) for r in rows],
                    "marker": {"size": 9},
                    "hovertemplate": "%{text}<br>%{x}<br>%{y} packets<extra></extra>",
                }
            ],
            "layout": _layout("Captures over time", "first packet (UTC)", "packets"),
        }
    if name == "anomalies":
        rows = _anomaly_codes()
        return {
            "data": [
                {
                    "type": "bar",
                    "orientation": "h",
                    "y": [esc(r["code"]) for r in rows],
                    "x": [r["n"] for r in rows],
                    "text": [esc(r["severity"]) for r in rows],
                    "hovertemplate": "%{y} (%{text}): %{x}<extra></extra>",
                }
            ],
            "layout": {
                **_layout("Anomalies by code", "anomalies", ""),
                "margin": {"l": 220, "r": 20, "t": 40, "b": 50},
                "yaxis": {"automargin": True, "autorange": "reversed"},
            },
        }
    if name == "acks":
        rows = _ack_percentiles()
        series: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in rows:
            series.setdefault((r["nsp"] or "", r["event"] or ""), []).append(r)
        data = []
        for (nsp, event), pts in series.items():
            for q, dash in (("p50", "solid"), ("p95", "dot")):
                data.append(
                    {
                        "type": "scatter",
                        "mode": "lines+markers",
                        "name": esc(f"{nsp} {event} {q}"),
                        "x": [_ts(p["t"]) for p in pts],
                        "y": [p[q] for p in pts],
                        "line": {"dash": dash},
                        "hovertemplate": esc(f"{nsp} {event}")
                        + f" {q}: %{{y:.3f}} ms<br>%{{x}}<extra></extra>",
                    }
                )
        return {"data": data, "layout": _layout("Ack latency per event and namespace", "time (UTC)", "ms")}
    abort(404, description="no such figure")


@bp.app_context_processor
def _nav() -> dict[str, Any]:
    return {"dataset_enabled": True}


@bp.get("/dataset")
def page() -> str:
    captures, sessions, codes = _captures(), _sessions(), _anomaly_codes()
    acks = _ack_percentiles()
    for a in acks:
        a["t"] = _ts(a["t"])
    return render_template(
        "dataset.html",
        title="Dataset",
        root=current_app.config["DATASET"],
        captures=captures[:ROWS],
        n_captures=len(captures),
        sessions=sessions[:ROWS],
        n_sessions=len(sessions),
        codes=codes[:ROWS],
        acks=acks[:ROWS],
        n_acks=len(acks),
        csrf_token=csrf_token(),
        plotly_guards=current_app.extensions.get("socketscope.plotly_guards", []),
    )


@bp.get("/api/dataset")
def api() -> Response:
    return jsonify(
        {
            "captures": _captures(),
            "sessions": _sessions(),
            "anomalies_by_code": _anomaly_codes(),
            "ack_percentiles": [{**a, "t": _ts(a["t"])} for a in _ack_percentiles()],
        }
    )


@bp.get("/api/dataset/figures/<name>")
def figure(name: str) -> Response:
    return jsonify(_figure(name))
