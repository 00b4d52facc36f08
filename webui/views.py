"""The views of issue #18: the timeline's data at any size, the messages pane (DevTools-like),
the packet list of one connection (Wireshark-like) with "follow stream", and the hand-off
downloads (HAR, JSONL, CSV, pcapng slice). HTML routes render templates; data routes are JSON
under /api/. Captured content stays text: autoescaped templates, textContent in scripts."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, request, url_for
from werkzeug.wrappers import Response as WzResponse

from webui import connview, handoff, pane, timelane
from webui.index import LAYER_NAMES, LAYERS, Filters, Index
from webui.packets import seq_bases
from webui.pages import Tab, capture_tab
from webui.store import CaptureEntry
from webui.web import pager, paging, ready_index

__all__ = ["bp"]

bp = Blueprint("views", __name__, template_folder="templates")


def ready_json(cid: str) -> tuple[CaptureEntry, Index]:
    """web.ready_index; `wait=` (any value) waits up to 30 s."""
    return ready_index(cid, 30.0 if request.args.get("wait") else None)


def _float(name: str) -> float | None:
    flt = Filters.from_args({name: request.args.get(name, "")})
    return flt.t0 if name == "t0" else flt.t1


@bp.get("/api/captures/<cid>/timeline")
def timeline_api(cid: str) -> Response:
    """Lanes and points of the window t0..t1 (seconds since the first packet), decimated."""
    from flask import current_app

    _, ix = ready_json(cid)
    limit = int(current_app.config.get("TIMELINE_MAX_POINTS") or timelane.MAX_POINTS)
    return jsonify(timelane.timeline_data(ix, _float("t0"), _float("t1"), max_points=limit))


def _pane_query(ix: Index) -> tuple[Filters, tuple[str, ...], dict[str, str]]:
    """The pane's filter, its layers (layer-NAME=1 boxes, or layers=a,b), and both as query
    arguments for the data route."""
    flt = Filters.from_args(request.args)
    boxes = [name for name in LAYERS if request.args.get(f"layer-{name}")]
    layers = pane.parse_layers(ix, ",".join(boxes) if boxes else request.args.get("layers"))
    query = {**flt.to_args(), "layers": ",".join(layers)}
    return flt, layers, query


@bp.get("/c/<cid>/pane")
@capture_tab("pane")
def pane_page(cap: Tab, cid: str) -> str:
    ix = cap.ix
    flt, layers, query = _pane_query(ix)
    return cap.render(
        "pane.html",
        title="Messages pane",
        flt=flt,
        layers=layers,
        default_layers=pane.default_layers(ix),
        layer_text=" or ".join(LAYER_NAMES.get(x, x) for x in layers),
        all_layers=LAYERS,
        query=query,
        page_size=pane.PANE_PAGE,
        formats=handoff.FORMATS,
        scope={**handoff.scope_args(flt), "layers": ",".join(layers)},
        scope_text=handoff.scope_text(flt),
        filter_error=pane.filter_problem(flt),
    )


@bp.get("/api/captures/<cid>/pane")
def pane_api(cid: str) -> Response:
    _, ix = ready_json(cid)
    flt, layers, _ = _pane_query(ix)
    offset, limit = paging(request.args, pane.PANE_PAGE)
    return jsonify(pane.pane_page(ix, flt, layers, offset, limit))


@bp.get("/c/<cid>/download")
def download(cid: str) -> WzResponse:
    """The export of `format` (har, jsonl, csv, pcapng) of the scope the view shows, kept to its
    filter (`filter=`; one that is not a filter: 400 naming the column)."""
    from flask import send_file

    entry, ix = ready_json(cid)
    fmt = request.args.get("format", "")
    if fmt not in {f for f, _ in handoff.FORMATS}:
        abort(400, description="format is one of har, jsonl, csv, pcapng")
    flt = Filters.from_args(request.args)
    layers = list(pane.parse_layers(ix, request.args.get("layers")))
    table = handoff.csv_table(request.args.get("table"), layers) if fmt == "csv" else None
    label = handoff.download_label(entry.name, flt)
    d = handoff.make_download(entry.path, label, fmt, handoff.selection_for(ix, flt), table, flt.expr)
    resp = send_file(d.path, mimetype=d.mimetype, as_attachment=True, download_name=d.name)
    resp.call_on_close(handoff.remove(d))
    return resp


CONN_PAGE = 100  # packets of a connection's list on one page


@bp.get("/c/<cid>/connections/<int:conn>/packets")
@capture_tab("messages")
def conn_packets(cap: Tab, cid: str, conn: int) -> str:
    """A connection's packets as Wireshark lists them, a page at a time; `select=N` shows
    packet N's bytes with one layer (`layer=`) highlighted, and prev/next inside the connection."""
    from analyzer.pipeline.access import connection_packets

    entry, ix = cap.entry, cap.ix
    ends = connview.conn_ends(ix, conn)
    if ends is None:
        abort(404, description="no such connection")
    offset, limit = paging(request.args, CONN_PAGE)
    try:
        pkts, total = connection_packets(entry.path, ends, offset, limit, ix.capture_marks)
    except Exception:  # a file that changed or vanished: an empty list, not a 500
        pkts, total = [], 0
    lines = connview.packet_list(ix, pkts, seq_bases(ix, pkts, None))
    known = total if total is not None else offset + len(pkts) + 1
    pg = pager(
        known, offset, limit,
        lambda o: url_for("views.conn_packets", cid=cid, conn=conn, offset=o, limit=limit),
    )  # fmt: skip
    return cap.render(
        "conn_packets.html",
        title=f"TCP #{conn} packets",
        conn=conn,
        label=ix.conn_summaries[ix.conn_pos[conn]].label,
        lines=lines,
        pg=pg,
        total=total,
        **_selected(cid, pkts, lines, conn, offset, limit),
        formats=handoff.FORMATS,
    )


def _selected(
    cid: str, pkts: list[dict[str, Any]], lines: list[dict[str, Any]], conn: int, offset: int, limit: int
) -> dict[str, Any]:
    """The selected packet of the page (select=N, else none): its layers, its bytes with the
    chosen layer marked, and the packets before and after it in the connection."""
    sel = request.args.get("select", "")
    frames = [int(p.get("frame") or 0) for p in pkts]
    if not sel.isdigit() or int(sel) not in frames:
        return {"sel": None}
    k = frames.index(int(sel))
    p = pkts[k]
    ranges = connview.packet_ranges(p)
    layer = request.args.get("layer") or ("payload" if "payload" in ranges else "transport")
    lo, hi = ranges.get(layer, (0, 0))
    raw = bytes.fromhex(str(p.get("hex") or ""))

    def at(i: int) -> str | None:
        if 0 <= i < len(frames):
            return url_for(
                "views.conn_packets", cid=cid, conn=conn, offset=offset, limit=limit,
                select=frames[i], layer=layer, _anchor="selected",
            )  # fmt: skip
        return None

    return {
        "sel": lines[k],
        "sel_layers": [
            (name, ranges[name]) for name in ("link", "network", "transport", "payload") if name in ranges
        ],
        "sel_layer": layer,
        "sel_dump": connview.marked_dump(raw, lo, hi),
        "sel_prev": at(k - 1),
        "sel_next": at(k + 1),
    }


@bp.get("/c/<cid>/connections/<int:conn>/stream")
@capture_tab("messages")
def conn_stream(cap: Tab, cid: str, conn: int) -> str:
    """Follow stream: both directions of the connection as text (or hex), gaps marked."""
    from analyzer.pipeline.access import connection_stream

    entry, ix = cap.entry, cap.ix
    ends = connview.conn_ends(ix, conn)
    if ends is None:
        abort(404, description="no such connection")
    hex_mode = request.args.get("mode") == "hex"
    try:
        pieces, cut = connection_stream(entry.path, ends, ix.capture_marks)
    except Exception:
        pieces, cut = [], False
    chunks = connview.follow_stream(pieces, hex_mode)
    return cap.render(
        "stream.html",
        title=f"TCP #{conn} stream",
        conn=conn,
        label=ix.conn_summaries[ix.conn_pos[conn]].label,
        chunks=chunks,
        cut=cut or len(chunks) >= connview.MAX_CHUNKS,
        hex_mode=hex_mode,
        gaps=sum(1 for c in chunks if "gap" in c),
        sent={d: sum(c.get("length", 0) for c in chunks if c["c2s"] == d) for d in (True, False)},
    )
