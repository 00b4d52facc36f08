"""TLS key logs uploaded beside a capture, and the capture's TLS as JSON.

A key log is read into memory (at most MAX_KEYLOG_UPLOAD bytes), parsed, and kept there for
the capture's analysis only (webui/store.py: CaptureStore.add_keylog): never written to disk,
never sent back. What the browser gets is a count of secrets. The same CSRF token and upload
slots as a capture upload guard it.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, redirect, request, url_for
from werkzeug.wrappers import Response as WzResponse

from webui.store import MAX_KEYLOG_UPLOAD, UploadError
from webui.tlsview import tls_summary
from webui.web import analysis, check_csrf, entry_or_404, store, upload_slot

__all__ = ["bp", "read_keylog_upload"]

bp = Blueprint("tls", __name__)

_FORM_ROOM = 64 << 10  # the multipart framing and the CSRF field around the file


def read_keylog_upload(field: str = "keylog") -> bytes | None:
    """The key log file of this request's form (None when the field is absent or empty);
    UploadError past MAX_KEYLOG_UPLOAD. Call with the upload slot held."""
    f = request.files.get(field)
    if f is None or not f.filename:
        return None
    try:
        data = bytes(f.read(MAX_KEYLOG_UPLOAD + 1))
    finally:
        f.close()  # its spooled temporary file, now (the secrets are not left in it)
    if len(data) > MAX_KEYLOG_UPLOAD:
        raise UploadError(f"the key log is larger than {MAX_KEYLOG_UPLOAD >> 20} MiB")
    return data


def _upload(cid: str) -> int:
    """The key log of the request for capture `cid`; how many secrets the capture now has."""
    entry = entry_or_404(cid)
    request.max_content_length = MAX_KEYLOG_UPLOAD + _FORM_ROOM  # before the body is read
    check_csrf()
    try:
        data = read_keylog_upload()
        if data is None:
            abort(400, description="no key log in the upload (form field 'keylog')")
        return store().add_keylog(entry, data)
    except UploadError as exc:
        abort(400, description=str(exc))


@bp.post("/c/<cid>/keylog")
def upload_page(cid: str) -> WzResponse:
    with upload_slot():
        count = _upload(cid)
    return redirect(url_for("pages.overview", cid=cid, keys=count) + "#tls", code=303)


@bp.post("/api/captures/<cid>/keylog")
def upload_api(cid: str) -> tuple[Response, int]:
    with upload_slot():
        count = _upload(cid)
    return jsonify({"secrets": count, "analysis": url_for("api.status", cid=cid)}), 201


@bp.get("/api/captures/<cid>/tls")
def tls(cid: str) -> Response:
    """The capture's TLS connections (no secret: what the `tls` objects hold, less client_random)."""
    entry = entry_or_404(cid)
    job, ix = analysis(entry)
    if ix is None:
        state = job.status() if job else None
        return jsonify({"error": "the analysis is not ready", "status": state})
    return jsonify(tls_summary(ix))
