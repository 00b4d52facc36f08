"""HTML pages: captures, and per capture: overview, timeline, sequence, messages, detail,
packets, latency, anomalies. Templates autoescape; scripts are static files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, Concatenate, ParamSpec

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import Response as FlaskResponse
from werkzeug.exceptions import SecurityError
from werkzeug.wrappers import Response as WzResponse

from analyzer.query import FilterError, FilterRunError
from webui import figures, latencies
from webui.api import overview_data
from webui.detail import build_detail
from webui.docutil import message_text
from webui.h2view import h2_summary
from webui.index import (
    LAYER_NAMES,
    LAYERS,
    Filters,
    Index,
    as_int,
)
from webui.packets import packet_rows, packet_sections, seq_bases
from webui.pagedata import LIST_PAGE, latency_lists, latency_views, overview_lists
from webui.rowfilter import anomalies_kept
from webui.store import CaptureEntry, UploadError
from webui.tlsroutes import read_keylog_upload
from webui.tlsview import keys_added, tls_summary
from webui.vendor import plotly_digest, serve_plotly
from webui.web import (
    analysis,
    check_csrf,
    csrf_token,
    entry_or_404,
    load_packets,
    pager,
    paging,
    parse_frames,
    store,
    upload_slot,
)

__all__ = ["bp"]

bp = Blueprint(
    "pages", __name__, template_folder="templates", static_folder="static", static_url_path="/static"
)

MAX_LISTED = 500  # connections and sessions the sequence page offers (and the one asked for)
TABS = (
    ("overview", "Overview"),
    ("timeline", "Timeline"),
    ("sequence", "Sequence"),
    ("pane", "Pane"),
    ("messages", "Messages"),
    ("latency", "Latency"),
    ("anomalies", "Anomalies"),
)
PAGE = 100  # rows of the messages table (the other lists: pagedata.LIST_PAGE)


def _render(template: str, **ctx: Any) -> str:
    ctx.setdefault("csrf_token", csrf_token())
    ctx.setdefault("layer_names", LAYER_NAMES)
    ctx.setdefault("plotly_guards", current_app.extensions.get("socketscope.plotly_guards", []))
    return render_template(template, **ctx)


def _capture_page(cid: str, tab: str) -> tuple[CaptureEntry, Index | None, str | tuple[str, int] | None]:
    """The entry and its index, or the page to show instead (progress or error)."""
    entry = entry_or_404(cid)
    job, ix = analysis(entry)
    if job is None:
        abort(404, description="the capture file is gone")
    if job.state == "error":
        return (
            entry,
            None,
            (
                _render(
                    "error.html", title="Not a capture", entry=entry, tab=tab, tabs=TABS, message=job.error
                ),
                422,
            ),
        )
    if ix is None:
        return entry, None, _render("analyzing.html", entry=entry, tab=tab, tabs=TABS, status=job.status())
    return entry, ix, None


P = ParamSpec("P")


@dataclass(frozen=True, slots=True)
class Tab:
    """A capture's page under one of the TABS, its capture analysed."""

    entry: CaptureEntry
    ix: Index
    name: str

    def render(self, template: str, **ctx: Any) -> str:
        return _render(template, entry=self.entry, tab=self.name, tabs=TABS, **ctx)


def capture_tab(
    tab: str,
) -> Callable[[Callable[Concatenate[Tab, P], str]], Callable[P, str | tuple[str, int]]]:
    """A view of the capture `cid` under `tab`: it runs once the capture is analysed, the
    progress or error page stands in for it before."""

    def decorate(view: Callable[Concatenate[Tab, P], str]) -> Callable[P, str | tuple[str, int]]:
        @wraps(view)
        def page(*args: P.args, **kwargs: P.kwargs) -> str | tuple[str, int]:
            entry, ix, other = _capture_page(str(kwargs["cid"]), tab)
            if other is not None:
                return other
            assert ix is not None
            return view(Tab(entry, ix, tab), *args, **kwargs)

        return page

    return decorate


@bp.app_errorhandler(404)
def _not_found(exc: Any) -> tuple[str | FlaskResponse, int]:
    if request.path.startswith("/api/"):
        return jsonify({"error": "not found"}), 404
    return _render("error.html", title="Not found", message=getattr(exc, "description", "")), 404


@bp.app_errorhandler(413)
def _too_big(exc: Any) -> tuple[str | FlaskResponse, int]:
    limit = int(current_app.config["MAX_CONTENT_LENGTH"]) >> 20
    msg = f"The upload is larger than the limit ({limit} MiB)."
    if request.path.startswith("/api/"):
        return jsonify({"error": msg}), 413
    return _render("error.html", title="Upload too large", message=msg), 413


@bp.app_errorhandler(503)
def _busy(exc: Any) -> tuple[str | FlaskResponse, int, dict[str, str]]:
    msg = getattr(exc, "description", "") or "The server is busy: try again in a moment."
    if request.path.startswith("/api/"):
        return jsonify({"error": msg}), 503, {"Retry-After": "5"}
    return _render("error.html", title="Busy", message=msg), 503, {"Retry-After": "5"}


@bp.app_errorhandler(TimeoutError)
def _timed_out(exc: Any) -> tuple[str, int, dict[str, str]]:
    """The client stopped sending the request's body (serve --idle-timeout)."""
    return (
        "Request timeout: the client stopped sending.\n",
        408,
        {"Content-Type": "text/plain", "Connection": "close"},
    )


@bp.app_errorhandler(400)
@bp.app_errorhandler(403)
def _bad(exc: Any) -> tuple[str, int] | tuple[str, int, dict[str, str]]:
    code = int(getattr(exc, "code", 400) or 400)
    if isinstance(exc, SecurityError):  # an untrusted Host header: no URL can be built for it
        return (
            "Bad request: this server answers on its loopback names only.",
            400,
            {"Content-Type": "text/plain"},
        )
    return _render("error.html", title="Request refused", message=getattr(exc, "description", "")), code


@bp.url_defaults
def _plotly_digest(endpoint: str, values: dict[str, Any]) -> None:
    """`url_for("pages.plotly_js")` names the file's current hash (webui/vendor.py)."""
    if endpoint == "pages.plotly_js":
        values.setdefault("digest", plotly_digest())


@bp.get("/vendor/plotly.<digest>.min.js")
def plotly_js(digest: str) -> WzResponse:
    return serve_plotly(digest)


@bp.get("/vendor/plotly.min.js")
def plotly_js_current() -> WzResponse:
    """The unhashed name of earlier versions: sent on to the hashed URL."""
    return redirect(url_for("pages.plotly_js"), code=302)


@bp.get("/favicon.ico")
def favicon() -> WzResponse:
    return redirect(url_for("pages.static", filename="favicon.svg"), code=301)


@bp.get("/")
def index() -> str:
    s = store()
    items = []
    for e in s.entries():
        d = e.to_dict()
        job = s.job(e, start=False)
        d["status"] = job.status() if job else None
        items.append(d)
    limit = int(current_app.config["MAX_CONTENT_LENGTH"]) >> 20
    return _render("captures.html", captures=items, upload_limit_mb=limit, error=request.args.get("error"))


@bp.post("/upload")
def upload() -> WzResponse | tuple[str, int]:
    with upload_slot():
        check_csrf()
        f = request.files.get("file")
        if f is None or not f.filename:
            return _render("error.html", title="Upload refused", message="Choose a pcap or pcapng file."), 400
        try:
            e = store().add_upload(f.filename, f.read())
            keys = read_keylog_upload()  # a TLS key log beside it (webui/tlsroutes.py), optional
            if keys is not None:
                store().add_keylog(e, keys)
        except UploadError as exc:
            return _render("error.html", title="Upload refused", message=str(exc)), 400
    return redirect(url_for("pages.overview", cid=e.id), code=303)


@bp.get("/c/<cid>/")
@capture_tab("overview")
def overview(cap: Tab, cid: str) -> str:
    return cap.render(
        "overview.html",
        data=overview_data(cap.ix),
        tls=tls_summary(cap.ix),
        h2=h2_summary(cap.ix),
        keys_added=keys_added(request.args),
        **overview_lists(cap.ix, request.args, lambda offsets: url_for("pages.overview", cid=cid, **offsets)),
    )


@bp.get("/c/<cid>/timeline")
@capture_tab("timeline")
def timeline(cap: Tab, cid: str) -> str:
    return cap.render(
        "timeline.html",
        points=len(cap.ix.rows),
        max_points=int(current_app.config.get("TIMELINE_MAX_POINTS") or figures.MAX_POINTS),
    )


@bp.get("/c/<cid>/sequence")
@capture_tab("sequence")
def sequence(cap: Tab, cid: str) -> str:
    ix = cap.ix
    flt = Filters.from_args(request.args)
    # a drop-down of tens of thousands of entries helps nobody: the first MAX_LISTED of each,
    # and the one asked for (the overview and the messages table link to any of them)
    choices = [("connection", c.id, c.label) for c in ix.conn_summaries[:MAX_LISTED] if c.id is not None]
    choices += [("session", si, ix.session_label(si)) for si in range(min(len(ix.sessions), MAX_LISTED))]
    pos = ix.conn_pos.get(flt.connection) if flt.connection is not None else None
    if flt.connection is not None and pos is not None and pos >= MAX_LISTED:
        choices.append(("connection", flt.connection, ix.conn_summaries[pos].label))
    if flt.session is not None and MAX_LISTED <= flt.session < len(ix.sessions):
        choices.append(("session", flt.session, ix.session_label(flt.session)))
    selected: tuple[str, int] | None = None
    if flt.session is not None and 0 <= flt.session < len(ix.sessions):
        selected = ("session", flt.session)
    elif flt.connection is not None and ix.connection(flt.connection) is not None:
        selected = ("connection", flt.connection)
    elif ix.sessions:
        selected = ("session", 0)
    elif any(isinstance(c[1], int) for c in choices):
        selected = next((k, i) for k, i, _ in choices if k == "connection" and isinstance(i, int))
    return cap.render(
        "sequence.html",
        choices=choices,
        selected=selected,
        layers=LAYERS,
    )


@bp.get("/c/<cid>/messages")
@capture_tab("messages")
def messages(cap: Tab, cid: str) -> str:
    flt = Filters.from_args(request.args)
    offset, limit = paging(request.args, PAGE)
    try:
        total, rows = cap.ix.page(flt, offset, limit)
        filter_error = None
    except (FilterError, FilterRunError) as exc:  # shown above the table, the filter kept in its box
        total, rows, filter_error = 0, [], exc
    args = _args(flt)
    pg = pager(
        total, offset, limit, lambda o: url_for("pages.messages", cid=cid, **args, offset=o, limit=limit)
    )
    return cap.render(
        "messages.html",
        rows=rows,
        t0=cap.ix.t0,
        pg=pg,
        flt=flt,
        keep=_kept_args(flt, limit),
        filter_error=filter_error,
        facets=cap.ix.facets(),
        layers=LAYERS,
    )


@bp.get("/c/<cid>/messages/<int:rid>")
@capture_tab("messages")
def message(cap: Tab, cid: str, rid: int) -> str:
    ix = cap.ix
    row = ix.row(rid)
    if row is None:
        abort(404, description="no such message")
    detail = build_detail(ix, row, lambda fr: load_packets(cap.entry, fr, ix))
    flt = Filters.from_args(request.args)
    _, limit = paging(request.args, PAGE)
    if flt.active:  # prev and next among the rows the table showed, and the page it showed
        prev_id, next_id, pos = ix.neighbours(flt, rid)
    else:
        prev_id, next_id, pos = rid - 1 if rid > 0 else None, rid + 1 if rid + 1 < len(ix.rows) else None, rid
    keep = _kept_args(flt, limit)
    return cap.render(
        "message.html",
        title=f"Message #{rid}",
        row=row,
        t=row.ts - ix.t0,
        detail=detail,
        keep=keep,
        filtered=flt.active,
        prev_id=prev_id,
        next_id=next_id,
        all_url=url_for("pages.messages", cid=cid, **_args(flt), offset=pos // limit * limit, limit=limit),
    )


def _args(flt: Filters) -> dict[str, Any]:
    return dict(flt.to_args())


def _kept_args(flt: Filters, limit: int) -> dict[str, Any]:
    """What a link to a detail carries from the messages table: its filter and page size."""
    return {**_args(flt), **({"limit": limit} if limit != PAGE else {})}


@bp.get("/c/<cid>/packets")
@capture_tab("messages")
def packets(cap: Tab, cid: str) -> str:
    """The packets named by `frames=` (each layer from the link up, with prev/next packet), or
    without it the list of every packet, a page at a time."""

    def load(frames: list[int]) -> list[dict[str, Any]]:
        return load_packets(cap.entry, frames, cap.ix)

    count = len(cap.ix.frame_ts) or as_int(cap.ix.capture.get("packets")) or 0
    if "frames" not in request.args:
        offset, limit = paging(request.args, LIST_PAGE)
        pkts = load(list(range(offset + 1, min(offset + limit, count) + 1)))
        return cap.render(
            "packets.html",
            title="Packets",
            rows=packet_rows(cap.ix, pkts, seq_bases(cap.ix, pkts, load)),
            pg=pager(
                count, offset, limit, lambda o: url_for("pages.packets", cid=cid, offset=o, limit=limit)
            ),
        )
    frames = parse_frames(request.args.get("frames"))
    if not frames:
        abort(400, description="Name the packets: ?frames=1,2,3 or ?frames=1-20")
    pkts = load(frames)
    lo, hi = frames[0], frames[-1]
    return cap.render(
        "packets.html",
        title=("Packet " if len(frames) == 1 else "Packets ")
        + ", ".join(map(str, frames[:5]))
        + (" …" if len(frames) > 5 else ""),
        frames=frames,
        sections=packet_sections(pkts, seq_bases(cap.ix, pkts, load)),
        carried={int(p["frame"]): cap.ix.rows_for_frame(int(p["frame"])) for p in pkts},
        prev_frame=lo - 1 if lo > 1 else None,
        next_frame=hi + 1 if hi < count else None,
        list_url=url_for("pages.packets", cid=cid, offset=(lo - 1) // LIST_PAGE * LIST_PAGE),
    )


@bp.get("/c/<cid>/latency")
@capture_tab("latency")
def latency(cap: Tab, cid: str) -> str:
    tables = latencies.latency_tables(cap.ix)
    return cap.render(
        "latency.html",
        tables=tables,
        views=latency_views(tables),
        **latency_lists(tables, request.args, lambda offsets: url_for("pages.latency", cid=cid, **offsets)),
    )


@bp.get("/c/<cid>/anomalies")
@capture_tab("anomalies")
def anomalies(cap: Tab, cid: str) -> str:
    from analyzer.model.registry import lookup

    severity = request.args.get("severity") or None
    items = [a for a in cap.ix.anomalies if severity is None or a.get("severity") == severity]
    expr = request.args.get("filter") or None  # docs/filters.md: anomaly.* fields
    try:
        items, filter_error = anomalies_kept(items, expr), None
    except (FilterError, FilterRunError) as exc:  # shown above the table, the filter kept in its box
        items, filter_error = [], exc
    offset, limit = paging(request.args, LIST_PAGE)
    shown = []
    for a in items[offset : offset + limit]:
        try:
            d = lookup(str(a.get("code")))
            info = {"summary": d.summary, "reference": d.reference}
        except KeyError:
            info = {"summary": "(code not in the registry)", "reference": ""}
        frames = [f for f in a.get("frames") or [] if isinstance(f, int)]
        rows = cap.ix.rows_for_frame(frames[0]) if frames else []
        shown.append(
            {
                "a": a,
                "text": message_text(a.get("message")),
                "info": info,
                "frames": frames[:20],
                "more": len(frames) > 20,
                "rows": rows[:3],
            }
        )
    counts: dict[str, int] = {}
    for a in cap.ix.anomalies:
        counts[str(a.get("severity"))] = counts.get(str(a.get("severity")), 0) + 1
    return cap.render(
        "anomalies.html",
        items=shown,
        pg=pager(
            len(items),
            offset,
            limit,
            lambda o: url_for(
                "pages.anomalies", cid=cid, severity=severity, filter=expr, offset=o, limit=limit
            ),
        ),
        severity=severity,
        expr=expr,
        filter_error=filter_error,
        counts=counts,
    )
