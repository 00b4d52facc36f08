"""The filter language (docs/filters.md) and the indexed text search over the JSON API.

- `GET /api/filter?filter=EXPR`: whether EXPR is a filter (`valid`; if not, the error JSON: the
  sentence, its column and the filter) and the fields it names, for the filter box as it is typed;
- `GET /api/filter/fields`: every field, its type and the records it applies to;
- `GET /api/captures/<cid>/search?q=TEXT`: the rows whose text holds TEXT, paged, with the time
  the answer took and the index's size (webui/search.py); `filter=` and the messages table's
  other filters narrow it.

`filter=` on `/api/captures/<cid>/messages` (and the messages page) is read by `Filters`
(webui/index.py); a filter that is not one is answered here, for every route: 400 with the
error JSON under /api/, the error page otherwise.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, abort, jsonify, render_template, request

from analyzer.query import FIELDS, KIND_NAMES, FilterError, FilterRunError, compile_filter
from webui.docutil import LAYER_NAMES
from webui.index import Filters, Index
from webui.web import analysis, csrf_token, entry_or_404, paging

__all__ = ["bp"]

bp = Blueprint("filterapi", __name__, url_prefix="/api")


@bp.app_errorhandler(FilterError)
def filter_error(exc: FilterError) -> tuple[str | Response, int]:
    if request.path.startswith("/api/"):
        return jsonify(exc.to_dict()), 400
    return _error_page(str(exc) + "\n" + exc.caret()), 400


@bp.app_errorhandler(FilterRunError)
def filter_run_error(exc: FilterRunError) -> tuple[str | Response, int]:
    if request.path.startswith("/api/"):
        return jsonify({"error": str(exc), "filter": request.args.get("filter", "")}), 400
    return _error_page(str(exc)), 400


@bp.errorhandler(400)
@bp.errorhandler(404)
def _bad_request(exc: Any) -> tuple[Response, int]:
    return jsonify({"error": getattr(exc, "description", str(exc))}), getattr(exc, "code", 400) or 400


def _error_page(message: str) -> str:
    return render_template(
        "error.html", title="Not a filter", message=message, csrf_token=csrf_token(), layer_names=LAYER_NAMES
    )


@bp.get("/filter")
def check() -> Response:
    """A check, not a use: a filter that is not one is a normal answer here (200, `valid` false)."""
    try:
        flt = compile_filter(request.args.get("filter", ""))
    except FilterError as exc:
        return jsonify({"valid": False, **exc.to_dict()})
    return jsonify({"valid": True, "filter": flt.text, "fields": list(flt.fields)})


@bp.get("/filter/fields")
def fields() -> Response:
    return jsonify(
        {
            "items": [
                {
                    "name": f.name,
                    "type": f.type,
                    "applies_to": [KIND_NAMES[k] for k in KIND_NAMES if k in f.getters],
                    "values": list(f.choices),
                    "doc": f.doc,
                }
                for f in FIELDS.values()
            ]
        }
    )


def _ready(cid: str) -> Index:
    job, ix = analysis(entry_or_404(cid))
    if job is None:
        abort(404, description="the capture file is gone")
    if ix is None:
        resp = jsonify({"status": job.status()})
        resp.status_code = 422 if job.state == "error" else 202
        abort(resp)
    return ix


@bp.get("/captures/<cid>/search")
def search(cid: str) -> Response:
    ix = _ready(cid)
    flt = Filters.from_args(request.args)
    if not flt.text:
        abort(400, description="q=TEXT is required")
    offset, limit = paging(request.args)
    started = time.perf_counter()
    total, rows = ix.page(flt, offset, limit)
    took = time.perf_counter() - started
    items: list[dict[str, Any]] = []
    for r in rows:
        d = r.to_dict()
        d["t"] = round(r.ts - ix.t0, 6)
        items.append(d)
    assert flt.text is not None
    used = ix.search is not None and ix.search.answers(flt.text.casefold())
    return jsonify(
        {
            "q": flt.text,
            "offset": offset,
            "limit": limit,
            "total": total,
            "took_ms": round(took * 1000, 1),
            "index": ix.search.stats if used and ix.search is not None else None,
            "items": items,
        }
    )
