"""socketscope web UI (Flask + plotly): `create_app()` builds the application.

Captured content is hostile: templates autoescape, scripts are static files that build
the DOM with textContent, and every response carries a strict Content-Security-Policy.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from webui.appsetup import install_guards, register_blueprints
from webui.hosts import LOOPBACK_HOSTS
from webui.store import CaptureStore
from webui.vendor import plotly_bundle

__all__ = [
    "CSP",
    "LOOPBACK_HOSTS",
    "create_app",
    "default_capture_dirs",
    "plotly_js_path",
    "plotly_style_guards",
]

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        # plotly.js creates one empty <style> element and fills it through the CSSOM (allowed);
        # the hash is that of the empty string, so no inline style text can ever run.
        "style-src 'self' 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
DEFAULT_UPLOAD_SLOTS = 2  # uploads read at the same time (each up to MAX_CONTENT_LENGTH in memory)


def plotly_js_path() -> str:
    """plotly.js as the pages load it: the partial strict bundle beside this module
    (webui/plotlyjs/plotly-custom.min.js, built by scripts/build_plotly_bundle.sh with only the
    trace types the pages draw; its WebGL traces need no `'unsafe-eval'`, which the CSP does not
    allow), else the plotly package's own plotly.min.js."""
    here = os.path.join(os.path.dirname(__file__), "plotlyjs")
    for name in ("plotly-custom.min.js", "plotly-strict.min.js"):
        if os.path.exists(os.path.join(here, name)):
            return os.path.join(here, name)
    import plotly

    return os.path.join(os.path.dirname(plotly.__file__), "package_data", "plotly.min.js")


def plotly_style_guards() -> list[str]:
    """Ids of the <style> elements plotly.min.js injects only when no element has that id
    (the maplibre stylesheet): the pages carry an empty element with each id, so nothing is
    injected and the strict CSP has nothing to block."""
    try:
        with open(plotly_js_path(), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return []
    return sorted(set(re.findall(r'getElementById\("([0-9a-f]{32,64})"\)', text)))


def default_capture_dirs() -> list[str]:
    """captures/ in the current directory, when there is one: the bundled captures when
    `socketscope serve` starts from a source checkout, whether the package is installed from it
    or not (an installed package has no captures folder beside it)."""
    try:
        here = Path.cwd() / "captures"
        return [str(here.resolve())] if here.is_dir() else []
    except OSError:  # the current directory was removed
        return []


def create_app(
    captures: list[str] | None = None,
    folders: list[str] | None = None,
    upload_dir: str | None = None,
    config: Mapping[str, Any] | None = None,
) -> Flask:
    """The Flask app. `captures`: files named on the command line; `folders`: folders whose
    pcap/pcapng files are listed (default: ./captures/, when it exists); `upload_dir`: where uploads
    go (default: a new temporary folder)."""
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=256 << 20,
        ANALYSIS_WAIT=1.5,  # seconds a page waits for an analysis before showing progress
        CACHE_SIZE=8,
        ALLOWED_HOSTS=list(LOOPBACK_HOSTS),  # DNS rebinding: only these names answer (webui/hosts.py)
        UPLOAD_SLOTS=DEFAULT_UPLOAD_SLOTS,
        TEMPLATES_AUTO_RELOAD=False,
    )
    if config:
        app.config.update(config)
    # the Host check is ours (Flask's TRUSTED_HOSTS never matches a bracketed IPv6 Host)
    app.config["TRUSTED_HOSTS"] = None
    slots = max(1, int(app.config["UPLOAD_SLOTS"]))
    app.extensions["socketscope.upload_slots"] = (threading.BoundedSemaphore(slots), slots)
    app.jinja_env.autoescape = True  # every template, whatever its name
    if upload_dir is None:
        upload_dir = app.config.get("UPLOAD_DIR") or tempfile.mkdtemp(prefix="socketscope-uploads-")
    app.extensions["socketscope.store"] = CaptureStore(
        folders=default_capture_dirs() if folders is None else folders,
        files=captures or [],
        upload_dir=upload_dir,
        cache_size=int(app.config["CACHE_SIZE"]),
        analyze=app.config.get("ANALYZE"),
        inflate_budget_mb=app.config.get("INFLATE_BUDGET_MB"),  # `serve --inflate-budget-mb`
        keylog=app.config.get("KEYLOG"),  # `serve --keylog`: a KeyLog, for every capture
    )
    app.extensions["socketscope.plotly_guards"] = plotly_style_guards()
    plotly_bundle()  # its hash and gzip once per process (webui/vendor.py), not on the first page
    app.extensions["socketscope.csrf"] = app.config.get("CSRF_TOKEN") or secrets.token_urlsafe(32)
    register_blueprints(app)
    install_guards(app, CSP)
    return app
