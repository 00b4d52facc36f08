"""The parts of `create_app` past the configuration: the blueprints (live only when allowed),
the request guard (Host check, cross-origin changes refused) and the security headers."""

from __future__ import annotations

from flask import Flask, Response, abort, request

from webui.hosts import LOOPBACK_HOSTS, normalize_host, same_origin, split_host

__all__ = ["install_guards", "register_blueprints"]

_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def same_origin_request(host: str) -> bool:
    """A change is accepted from this server's own pages, and from clients that are not browsers
    (no Origin, no Sec-Fetch-Site; the CSRF token is still needed). The browser's Sec-Fetch-Site
    is trusted first: a form posted by our pages says `Origin: null`, as the Referrer-Policy
    no-referrer asks, and "same-origin" there."""
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if site is not None and site not in ("same-origin", "none"):
        return False
    if origin is None:
        return True
    if origin.strip() == "null":  # an opaque origin (sandboxed frame, file:, or no-referrer)
        return site is not None
    return same_origin(origin, host, request.scheme)


def register_blueprints(app: Flask) -> None:
    """Pages, API, the new views, and the live capture when `serve --allow-live` asked for it
    (otherwise /live and /api/live/* are 404)."""
    from webui.api import bp as api_bp
    from webui.filterapi import bp as filter_bp
    from webui.pages import bp as pages_bp
    from webui.tlsroutes import bp as tls_bp
    from webui.views import bp as views_bp

    app.register_blueprint(pages_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(views_bp)
    app.register_blueprint(tls_bp)  # key log uploads, /api/captures/<cid>/tls
    app.register_blueprint(filter_bp)  # filter= errors, /api/filter, /api/captures/<cid>/search
    if app.config.get("DATASET"):  # `serve --dataset DATASET`: the page across its captures
        from webui.dataset import bp as dataset_bp

        app.register_blueprint(dataset_bp)
    if app.config.get("ALLOW_LIVE"):
        from webui.live import DEFAULT_MAX_BYTES, DEFAULT_MAX_DURATION, LiveManager
        from webui.live import bp as live_bp

        app.register_blueprint(live_bp)
        app.extensions["socketscope.live"] = LiveManager(
            app.extensions["socketscope.store"],
            app.config.get("LIVE_CAPTURE"),  # a LiveCapture-like factory (tests inject a fake)
            max_duration=float(app.config.get("LIVE_MAX_DURATION") or DEFAULT_MAX_DURATION),
            max_bytes=int(app.config.get("LIVE_MAX_BYTES") or DEFAULT_MAX_BYTES),
            engine=str(app.config.get("LIVE_ENGINE") or "builtin"),
        )


def install_guards(app: Flask, csp: str) -> None:
    """The Host check and the cross-origin refusal before each request, the headers after."""
    allowed = frozenset(normalize_host(h) for h in app.config["ALLOWED_HOSTS"] or LOOPBACK_HOSTS)

    @app.before_request
    def _guard() -> Response | None:
        """Before anything else (the body is not read yet): a Host this server does not answer
        to is refused (DNS rebinding), and so is a change requested by another origin's page."""
        host = request.headers.get("Host", "")
        parsed = split_host(host)
        if parsed is None or parsed[0] not in allowed:
            return Response(
                "Bad request: this server does not answer to that host name "
                "(`socketscope serve --allowed-host NAME` adds one).\n",
                400,
                mimetype="text/plain",
            )
        if request.method in _CHANGES and not same_origin_request(host):
            abort(403, description="a page of another site cannot change anything here")
        return None

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers["Content-Security-Policy"] = csp
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        resp.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        if request.path.startswith("/api/") or request.endpoint in ("pages.upload", "tls.upload_page"):
            resp.headers["Cache-Control"] = "no-store"
        return resp
