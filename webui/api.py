"""JSON API under /api/: the analysis document (ANALYSIS_JSON.md schema), paged, and the views' data."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request

from webui import figures, latencies
from webui.detail import build_detail
from webui.h2view import sequence_h2
from webui.index import (
    LAYERS,
    Filters,
    Index,
    Row,
    as_float,
    as_int,
    as_list,
    as_str,
    conn_label,
    endpoint_text,
    session_label,
)
from webui.recstore import LazyDocs, json_pieces
from webui.rowfilter import anomalies_kept
from webui.store import UploadError
from webui.web import (
    check_csrf,
    csrf_token,
    entry_or_404,
    load_packets,
    paging,
    parse_frames,
    ready_index,
    store,
    upload_slot,
)

__all__ = ["bp"]

bp = Blueprint("api", __name__, url_prefix="/api")

SECTIONS = ("capture", "connections", "engineio_sessions", "anomalies", "layer_stats")
MAX_SEQUENCE = 2000


def _ready(cid: str) -> tuple[Any, Index]:
    wait = request.args.get("wait", "")
    return ready_index(cid, float(wait) if wait.isdigit() and len(wait) < 4 else None)


def _paged(items: Sequence[Any], total: int | None = None, **extra: Any) -> Response:
    offset, limit = paging(request.args)
    body: dict[str, Any] = {"offset": offset, "limit": limit, "total": len(items) if total is None else total}
    body.update(extra)
    body["items"] = list(items[offset : offset + limit]) if total is None else items
    return _json_response(body)


def _json_response(value: Any) -> Response:
    """JSON of a value that may hold StoredLists (webui/recstore.py): streamed, the stored
    records copied as they are, so a big document is never whole in memory."""

    def pieces() -> Iterator[bytes]:
        for piece in json_pieces(value):
            yield piece.encode("utf-8", "backslashreplace")  # lone surrogates as JSON escapes

    return Response(pieces(), mimetype="application/json")


@bp.errorhandler(400)
@bp.errorhandler(403)
@bp.errorhandler(404)
@bp.errorhandler(413)
@bp.errorhandler(422)
def _error(exc: Any) -> tuple[Response, int]:
    return jsonify({"error": getattr(exc, "description", str(exc))}), getattr(exc, "code", 500) or 500


@bp.get("/captures")
def captures() -> Response:
    out = []
    s = store()
    for e in s.entries():
        d = e.to_dict()
        job = s.job(e, start=False)
        d["status"] = job.status()["state"] if job else "not analyzed"
        out.append(d)
    return jsonify({"items": out, "total": len(out)})


@bp.get("/csrf-token")
def csrf() -> Response:
    """The token POST /api/captures wants in X-CSRF-Token (same-origin pages only can read it)."""
    return jsonify({"csrf_token": csrf_token()})


@bp.post("/captures")
def upload() -> tuple[Response, int]:
    with upload_slot():
        check_csrf()
        f = request.files.get("file")
        if f is None:
            abort(400, description="no file in the upload (form field 'file')")
        data = f.read()
        try:
            e = store().add_upload(f.filename or "upload", data)
        except UploadError as exc:
            abort(400, description=str(exc))
        return jsonify(e.to_dict()), 201


@bp.get("/captures/<cid>")
def capture(cid: str) -> Response:
    e = entry_or_404(cid)
    job = store().job(e, start=False)
    d = e.to_dict()
    d["status"] = job.status() if job else None
    return jsonify(d)


@bp.get("/captures/<cid>/status")
def status(cid: str) -> Response:
    e = entry_or_404(cid)
    job = store().job(e)
    if job is None:
        abort(404, description="the capture file is gone")
    return jsonify(job.status())


@bp.get("/captures/<cid>/analysis")
def document(cid: str) -> Response:
    """The analysis document; `section=` returns one part, lists paged with offset/limit."""
    _, ix = _ready(cid)
    section = request.args.get("section")
    if section is None:
        return _json_response(ix.doc)
    if section == "sessions":
        section = "engineio_sessions"
    if section not in SECTIONS:
        abort(400, description=f"section is one of {', '.join(SECTIONS)}")
    value = ix.doc.get(section)
    if isinstance(value, list | LazyDocs):
        return _paged(value, section=section)
    return _json_response({"section": section, "value": value})


@bp.get("/captures/<cid>/connections")
def connections(cid: str) -> Response:
    _, ix = _ready(cid)
    return _paged(ix.connections, section="connections")


@bp.get("/captures/<cid>/sessions")
def sessions(cid: str) -> Response:
    _, ix = _ready(cid)
    return _paged(ix.sessions, section="engineio_sessions")


@bp.get("/captures/<cid>/anomalies")
def anomalies(cid: str) -> Response:
    from analyzer.model.registry import lookup

    _, ix = _ready(cid)
    items = ix.anomalies
    for key in ("severity", "layer", "code"):
        v = request.args.get(key)
        if v:
            items = [a for a in items if a.get(key) == v]
    items = anomalies_kept(items, request.args.get("filter"))  # 400 naming the column: webui/filterapi.py
    codes: dict[str, Any] = {}
    for a in items:
        code = str(a.get("code"))
        if code not in codes:
            try:
                d = lookup(code)
                codes[code] = {
                    "severity": d.severity.value,
                    "layer": d.layer.value,
                    "summary": d.summary,
                    "reference": d.reference,
                }
            except KeyError:
                codes[code] = None
    return _paged(items, section="anomalies", codes=codes)


@bp.get("/captures/<cid>/messages")
def messages(cid: str) -> Response:
    _, ix = _ready(cid)
    flt = Filters.from_args(request.args)
    offset, limit = paging(request.args)
    total, rows = ix.page(flt, offset, limit)
    items = []
    for r in rows:
        d = r.to_dict()
        d["t"] = round(r.ts - ix.t0, 6)
        items.append(d)
    return jsonify(
        {"offset": offset, "limit": limit, "total": total, "filters": flt.to_args(), "items": items}
    )


@bp.get("/captures/<cid>/messages/<int:rid>")
def message(cid: str, rid: int) -> Response:
    entry, ix = _ready(cid)
    row = ix.row(rid)
    if row is None:
        abort(404, description="no such message")
    want_packets = request.args.get("packets", "1") != "0"
    detail = build_detail(ix, row, (lambda fr: load_packets(entry, fr, ix)) if want_packets else None)
    detail["record"] = ix.record(row)
    return jsonify(detail)


@bp.get("/captures/<cid>/packets")
def packets(cid: str) -> Response:
    entry, ix = _ready(cid)
    frames = parse_frames(request.args.get("frames"))
    if not frames:
        abort(400, description="frames=1,2,3 (or a range 1-20) is required")
    out = load_packets(entry, frames, ix)
    for p in out:
        p["rows"] = [r.id for r in ix.rows_for_frame(int(p["frame"]))]
    return jsonify({"frames": frames, "items": out})


@bp.get("/captures/<cid>/sequence")
def sequence(cid: str) -> Response:
    """Arrows of one connection (connection=ID) or Engine.IO session (session=N), per layer."""
    _, ix = _ready(cid)
    flt = Filters.from_args(request.args)
    if flt.connection is None and flt.session is None:
        abort(400, description="connection=ID or session=N is required")
    layers = [x for x in request.args.get("layers", ",".join(LAYERS)).split(",") if x in LAYERS]
    offset, limit = paging(request.args, MAX_SEQUENCE)
    limit = min(limit, MAX_SEQUENCE)
    if flt.session is not None:
        if not 0 <= flt.session < len(ix.sessions):
            abort(404, description="no such session")
        sess = ix.sessions[flt.session]
        conns = {c for c in as_list(sess, "connections") if isinstance(c, int)}
        title = session_label(sess, flt.session)
        first = ix.connection(min(conns)) if conns else None
        ends = (endpoint_text(first.get("client")), endpoint_text(first.get("server"))) if first else ("", "")

        def keep(r: Row) -> bool:
            return r.session == flt.session or (r.session is None and r.connection in conns)
    else:
        conn = ix.connection(flt.connection)
        if conn is None:
            abort(404, description="no such connection")
        title = conn_label(conn)
        ends = (endpoint_text(conn.get("client")), endpoint_text(conn.get("server")))

        def keep(r: Row) -> bool:
            return r.connection == flt.connection

    items = []
    total = 0
    if flt.session is not None:  # its packets, and its connections' TCP and HTTP rows
        ids: Sequence[int] = sorted(
            {*ix.session_row_ids(flt.session), *(i for c in conns for i in ix.connection_row_ids(c))}
        )
    else:
        ids = ix.connection_row_ids(flt.connection)
    shown = {LAYERS.index(x) for x in layers}
    for i in ids:
        if ix.table.layer[i] not in shown:
            continue
        r = ix.table.row(i)
        if not keep(r):
            continue
        if offset <= total < offset + limit:
            d = r.to_dict()
            d["t"] = round(r.ts - ix.t0, 6)
            items.append(d)
        total += 1
    # HTTP/2: stream labels, RST_STREAM and GOAWAY marks (webui/h2view.py)
    scope = conns if flt.session is not None else {flt.connection}
    items = sequence_h2(ix, scope, items, offset == 0, offset + limit >= total)
    return jsonify(
        {
            "title": title,
            "client": ends[0],
            "server": ends[1],
            "layers": layers,
            "offset": offset,
            "limit": limit,
            "total": total,
            "items": items,
        }
    )


@bp.get("/captures/<cid>/figures/<name>")
def figure(cid: str, name: str) -> Response:
    _, ix = _ready(cid)
    if name == "timeline":
        f = Filters.from_args(request.args)
        limit = current_app.config.get("TIMELINE_MAX_POINTS")
        return jsonify(figures.timeline_figure(ix, f.t0, f.t1, int(limit) if limit else None))
    if name == "osi":
        return jsonify(figures.osi_figure(ix))
    if name.startswith("latency-"):
        figs = latencies.latency_figures(ix)
        key = name.removeprefix("latency-")
        if key in figs:
            return jsonify(figs[key])
    abort(404, description="no such figure")


@bp.get("/captures/<cid>/latency")
def latency(cid: str) -> Response:
    _, ix = _ready(cid)
    return jsonify(latencies.latency_tables(ix))


@bp.get("/captures/<cid>/overview")
def overview(cid: str) -> Response:
    _, ix = _ready(cid)
    return jsonify(overview_data(ix))


def overview_data(ix: Index) -> dict[str, Any]:
    severities = {"error": 0, "warn": 0, "note": 0, "chat": 0}
    for a in ix.anomalies:
        sev = str(a.get("severity"))
        severities[sev] = severities.get(sev, 0) + 1
    cap = ix.capture
    capture = {
        "path": as_str(cap.get("path")),
        "format": as_str(cap.get("format")),
        "link_types": [str(x) for x in as_list(cap, "link_types")],
        "packets": as_int(cap.get("packets")),
        "bytes": as_int(cap.get("bytes")),
        "first_ts": as_float(cap.get("first_ts")),
        "last_ts": as_float(cap.get("last_ts")),
        "complete": cap.get("complete") is not False,
        "error": as_str(cap.get("error")),
    }
    return {
        "capture": capture,
        "connections": len(ix.connections),
        "websocket_connections": sum(1 for c in ix.conn_summaries if c.ws_messages is not None),
        "engineio_sessions": len(ix.sessions),
        "rows_per_layer": ix.counts(),
        "anomalies_by_severity": severities,
        "osi": figures.osi_layers(ix),
        "layer_stats": ix.layer_stats,
    }
