"""plotly.min.js as the pages load it: under a URL that names its content
(`/vendor/plotly.<hash>.min.js`), cached by browsers for a year as immutable, and sent
gzip-compressed (the partial bundle of webui/plotlyjs/: 1.8 MB -> 0.6 MB) to the clients that
accept it.

The hash and the compressed bytes are made once per process, when the first app is created,
and made again only if the file changes (a plotly upgrade: its new hash makes a new URL).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from dataclasses import dataclass

from flask import Response, abort, redirect, request, send_file, url_for
from werkzeug.wrappers import Response as WzResponse

__all__ = ["CACHE_CONTROL", "Bundle", "plotly_bundle", "plotly_digest", "serve_plotly"]

CACHE_CONTROL = "public, max-age=31536000, immutable"
_lock = threading.Lock()
_made: dict[tuple[str, int, int], Bundle] = {}


@dataclass(frozen=True, slots=True)
class Bundle:
    path: str
    digest: str  # the first 16 hex digits of the file's SHA-256
    size: int
    gz: bytes  # the file, gzip-compressed (mtime 0: the same bytes every time)


def plotly_bundle() -> Bundle | None:
    """The bundle of the installed plotly.min.js, made at most once per version of the file;
    None when plotly.min.js cannot be read."""
    from webui import plotly_js_path

    path = plotly_js_path()
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (path, st.st_mtime_ns, st.st_size)
    with _lock:
        found = _made.get(key)
        if found is None:
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
            except OSError:
                return None
            found = Bundle(
                path, hashlib.sha256(data).hexdigest()[:16], len(data), gzip.compress(data, 9, mtime=0)
            )
            _made.clear()
            _made[key] = found
    return found


def plotly_digest() -> str:
    """What the script URL names: the hash of the file ("missing" when there is none)."""
    b = plotly_bundle()
    return b.digest if b is not None else "missing"


def serve_plotly(digest: str) -> WzResponse:
    """The file under its hashed URL; an older hash is sent to the current URL (not cached)."""
    b = plotly_bundle()
    if b is None:
        abort(404, description="plotly.min.js is not installed")
    if digest != b.digest:
        return redirect(url_for("pages.plotly_js", digest=b.digest), code=302)
    if request.accept_encodings["gzip"] > 0:
        resp: WzResponse = Response(b.gz, mimetype="text/javascript")
        resp.headers["Content-Encoding"] = "gzip"
    else:
        resp = send_file(b.path, mimetype="text/javascript", conditional=False, etag=False)
    resp.headers["Cache-Control"] = CACHE_CONTROL
    resp.headers["Vary"] = "Accept-Encoding"
    resp.headers["ETag"] = f'"{b.digest}"'
    return resp
