"""The live page (`socketscope serve --allow-live`): capture on an interface from the browser.

One live session at a time. The capture thread feeds the streaming pipeline, whose observer
(a `LivePrinter` that publishes instead of printing) turns what is decoded into small JSON
events in a bounded ring (the oldest are dropped, and counted, when a slow client falls
behind). Browsers follow them through server-sent events (`/api/live/events`), resuming
with `Last-Event-ID`. The packets go to a pcapng file in the upload folder; when the
capture ends (Stop, duration, packet count, size bound, or the server stopping) the file is
kept as an ordinary uploaded capture.

Captured data is hostile: events carry text already escaped by the printer and truncated,
and the page builds its table with textContent only.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import itertools
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from analyzer.export.text.live import LiveLine, LivePrinter
from webui.store import CaptureStore
from webui.web import check_csrf, csrf_token

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DURATION",
    "LiveManager",
    "LiveSession",
    "bp",
    "interfaces",
    "manager",
    "shutdown",
    "validate_filter",
]

DEFAULT_MAX_DURATION = 600.0  # seconds: a forgotten capture ends by itself
DEFAULT_MAX_BYTES = 1 << 30  # captured bytes; the capture stops at the bound
HISTORY = 5000  # events kept for the SSE clients; older ones are dropped (and counted)
BATCH = 200  # events per SSE message
STREAM_SECONDS = 25.0  # one SSE response lasts at most this long; EventSource reconnects
MAX_FILTER = 1024
MAX_TEXT = 240
_IFACE_OK = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,31}")  # Linux IFNAMSIZ is 16; be lenient
_FIELDS = (
    "direction",
    "opcode",
    "length",
    "packet",
    "nsp",
    "event",
    "ack_id",
    "latency_ms",
    "transport",
    "method",
    "status",
    "response_ms",
    "rtt_ms",
    "code",
    "severity",
)

CaptureFactory = Callable[..., Any]

bp = Blueprint("live", __name__)


def interfaces() -> list[str]:
    """Interface names of this machine (socket.if_nameindex, /sys/class/net), plus Linux's "any"."""
    names: set[str] = set()
    with contextlib.suppress(OSError):
        names.update(name for _, name in socket.if_nameindex())
    with contextlib.suppress(OSError):
        names.update(os.listdir("/sys/class/net"))
    out = sorted(n for n in names if _IFACE_OK.fullmatch(n))
    if sys.platform.startswith("linux"):
        out.append("any")
    return out


def validate_filter(text: str) -> str | None:
    """The reason a capture filter is refused before it reaches the capture tool, or None.

    The filter is one argv element of tcpdump (no shell), but getopt would still read one that
    starts with '-' as an option, so those are refused; the tool checks the BPF syntax itself."""
    if len(text) > MAX_FILTER:
        return f"the capture filter is longer than {MAX_FILTER} characters."
    if any(not c.isprintable() for c in text):
        return "the capture filter contains control characters."
    if text.lstrip().startswith("-"):
        return "a capture filter cannot start with '-'."
    return None


def _short(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"
    if isinstance(value, bool | int | float) or value is None:
        return value
    return _short(str(value))


def _publisher(publish: Callable[[dict[str, Any]], None]) -> LivePrinter:
    """The live printer (every WebSocket message, as its JSON Lines form tells them), its lines
    published as small events."""

    def emit(line: LiveLine) -> None:
        ev: dict[str, Any] = {"type": line.kind, "ts": line.ts, "connection": line.connection}
        ev["text"] = _short(line.text)
        for k in _FIELDS:
            if line.fields.get(k) is not None:
                ev[k] = _short(line.fields[k])
        publish(ev)

    return LivePrinter(fmt="jsonl", emit=emit)


class LiveSession:
    """One capture: the capture object, the pipeline it feeds, the event ring, and its end."""

    def __init__(
        self,
        factory: CaptureFactory,
        interface: str,
        bpf: str,
        *,
        duration: float,
        count: int | None,
        max_bytes: int,
        path: str,
        engine: str = "builtin",
    ) -> None:
        from analyzer.model.analysis import CaptureInfo
        from analyzer.pipeline import Options, Pipeline

        self.id = secrets.token_hex(8)
        self.interface = interface
        self.bpf = bpf
        self.duration = duration
        self.count = count
        self.max_bytes = max_bytes
        self.path = path
        self.state = "starting"  # "starting" | "running" | "stopping" | "done" | "error"
        self.error: str | None = None
        self.note: str | None = None  # why it ended when it was not Stop
        self.started = time.monotonic()
        self.started_wall = time.time()
        self.finished: float | None = None
        self.final: dict[str, Any] | None = None
        self.capture_id: str | None = None
        self.dropped = 0  # events pushed out of the ring before every client saw them
        self._seq = 0
        self._ring: deque[tuple[int, dict[str, Any]]] = deque(maxlen=HISTORY)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._ended = threading.Event()
        self._thread: threading.Thread | None = None
        self._keep: Callable[[LiveSession], str | None] = lambda s: None
        self.observer = _publisher(self.publish)
        self.pipe = Pipeline(
            CaptureInfo(path=f"live:{interface}", format="live"), Options(observer=self.observer)
        )
        self.capture = factory(interface, bpf, self.pipe.feed, engine=engine, write=path, count=count)

    # -- events --
    def publish(self, ev: dict[str, Any]) -> None:
        with self._cond:
            self._seq += 1
            if len(self._ring) == self._ring.maxlen:
                self.dropped += 1
            self._ring.append((self._seq, ev))
            self._cond.notify_all()

    def read(self, after: int, timeout: float) -> tuple[list[tuple[int, dict[str, Any]]], int]:
        """Events after sequence number `after` (at most BATCH), waiting up to `timeout` for one;
        and how many the reader missed (pushed out of the ring)."""
        with self._cond:
            if self._seq <= after and not self._ended.is_set():
                self._cond.wait(timeout)
            if not self._ring:
                return [], 0
            first = self._ring[0][0]
            missed = max(0, first - after - 1)
            start = max(0, after + 1 - first)
            return list(itertools.islice(self._ring, start, start + BATCH)), missed

    @property
    def last_seq(self) -> int:
        return self._seq

    # -- life --
    def start(self, keep: Callable[[LiveSession], str | None], timeout: float = 10.0) -> None:
        """Returns once capturing; raises the capture's LiveError (one sentence) otherwise."""
        self._keep = keep
        self.capture.start(timeout)
        self.state = "running"
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="socketscope-live", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        deadline = self.started + self.duration
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                self.note = f"stopped after {self.duration:g} s"
                break
            if self.capture.wait(min(0.25, left)):
                if self.count is not None and self.capture.stats.packets >= self.count:
                    self.note = f"stopped after {self.count} packets"
                else:
                    self.note = "the capture tool stopped"
                break
            if self.capture.stats.bytes >= self.max_bytes:
                self.note = f"stopped at the size bound ({self.max_bytes:,} bytes)"
                break
        self._finish()

    def _finish(self) -> None:
        self.state = "stopping"
        stats: dict[str, Any]
        try:
            stats = self.capture.stop(30.0).to_dict()
        except Exception as exc:  # the pipeline's failure, re-raised by stop(): shown, not raised
            self.error = f"the analysis failed: {type(exc).__name__}: {exc}"
            stats = self.capture.stats.to_dict()
        try:
            self.pipe.finish()  # the connections still open: their tcp_close lines
        except Exception as exc:
            self.error = self.error or f"the analysis failed: {type(exc).__name__}: {exc}"
        if stats.get("error") and not self.error:
            self.error = f"the capture stopped: {stats['error']}"
        try:
            self.observer.capture_stats(stats, self.interface)
            self.capture_id = self._keep(self)
        except OSError as exc:
            self.error = self.error or f"the capture file could not be kept: {exc.strerror or exc}."
        except Exception as exc:  # our bug: shown on the page, and the session still ends
            self.error = self.error or f"the capture could not be kept: {type(exc).__name__}: {exc}"
        self.final = stats
        self.finished = time.monotonic()
        self.state = "error" if self.error and self.capture_id is None else "done"
        with self._cond:
            self._ended.set()
            self._cond.notify_all()

    def stop(self, timeout: float = 60.0) -> bool:
        """Ask the capture to end and wait for it to be kept; True once it has."""
        self._stop.set()
        return self._ended.wait(timeout)

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    def status(self) -> dict[str, Any]:
        st = self.final if self.final is not None else self.capture.stats.to_dict()
        end = self.finished if self.finished is not None else time.monotonic()
        source = getattr(self.capture, "source", None)
        return {
            "session": self.id,
            "state": self.state,
            "interface": self.interface,
            "filter": self.bpf,
            "tool": getattr(source, "tool", ""),
            "packets": st.get("packets", 0),
            "bytes": st.get("bytes", 0),
            "kernel_dropped": st.get("kernel_dropped"),
            "elapsed": round(max(0.0, end - self.started), 3),
            "max_duration": self.duration,
            "events": self._seq,
            "events_dropped": self.dropped,
            "error": self.error,
            "note": self.note,
            "capture_id": self.capture_id,
        }


_MANAGERS: weakref.WeakSet[LiveManager] = weakref.WeakSet()


def _shutdown_all() -> None:
    for m in list(_MANAGERS):
        m.shutdown()


atexit.register(_shutdown_all)  # the capture tool runs in its own session: never leave it behind


class LiveManager:
    """The app's one live session (at most one running at a time)."""

    def __init__(
        self,
        capture_store: CaptureStore,
        factory: CaptureFactory | None = None,
        *,
        max_duration: float = DEFAULT_MAX_DURATION,
        max_bytes: int = DEFAULT_MAX_BYTES,
        engine: str = "builtin",
    ) -> None:
        if factory is None:
            from analyzer.pipeline.access import LiveCapture

            factory = LiveCapture
        self.store = capture_store
        self.factory = factory
        self.max_duration = max_duration
        self.max_bytes = max_bytes
        self.engine = engine
        self.session: LiveSession | None = None
        self.closed = False
        self._lock = threading.Lock()
        _MANAGERS.add(self)

    def start(self, interface: str, bpf: str, duration: float | None, count: int | None) -> LiveSession:
        """Raises ValueError (a refused request) or LiveError (the capture could not start)."""
        if interface not in interfaces():
            raise ValueError(f"there is no network interface named {interface!r}.")
        reason = validate_filter(bpf)
        if reason:
            raise ValueError(reason)
        if duration is None:
            duration = self.max_duration
        if not 0 < duration <= self.max_duration:
            raise ValueError(f"the duration must be between 0 and {self.max_duration:g} seconds.")
        if count is not None and count <= 0:
            raise ValueError("the packet count must be positive.")
        if self.store.upload_dir is None:
            raise ValueError("live capture needs an upload folder to keep its file.")
        with self._lock:
            if self.closed:
                raise ValueError("the server is stopping.")
            if self.session is not None and not self.session.ended:
                raise RuntimeError("a live capture is already running: stop it first.")
            path = os.path.join(self.store.upload_dir, f"live-{secrets.token_hex(8)}.pcapng.part")
            session = LiveSession(
                self.factory,
                interface,
                bpf.strip(),
                duration=duration,
                count=count,
                max_bytes=self.max_bytes,
                path=path,
                engine=self.engine,
            )
            try:
                session.start(self._keep)
            except BaseException:
                _remove(path)
                raise
            self.session = session
            return session

    def _keep(self, session: LiveSession) -> str | None:
        """The pcapng file becomes an upload (same layout as CaptureStore.add_upload); its id."""
        upload_dir = self.store.upload_dir
        if upload_dir is None or not os.path.isfile(session.path):
            return None
        h = hashlib.sha256()
        with open(session.path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        digest = h.hexdigest()[:24]
        dest = os.path.join(upload_dir, digest + ".cap")
        os.replace(session.path, dest)
        iface = re.sub(r"[^A-Za-z0-9._-]+", "_", session.interface)
        stamp = time.strftime("%Y-%m-%d %H%M%S", time.localtime(session.started_wall))
        with open(os.path.join(upload_dir, digest + ".name"), "w", encoding="utf-8") as fh:
            fh.write(f"live {iface} {stamp}.pcapng")
        self.store.rescan_uploads()
        real = os.path.realpath(dest)
        for e in self.store.entries():
            if e.path == real:
                return e.id
        return None

    def stop(self, timeout: float = 60.0) -> LiveSession | None:
        s = self.session
        if s is not None:
            s.stop(timeout)
        return s

    def shutdown(self) -> None:
        """Everything stops with the server: the capture ends and its file is kept."""
        self.closed = True
        self.stop(60.0)


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)


def manager() -> LiveManager:
    m = current_app.extensions["socketscope.live"]
    assert isinstance(m, LiveManager)
    return m


def shutdown(app: Any) -> None:
    """Stop the live capture of `app`, if live capture is allowed and one runs."""
    m = app.extensions.get("socketscope.live")
    if isinstance(m, LiveManager):
        m.shutdown()


# -- routes ---------------------------------------------------------------------------------------------


def _status_json(s: LiveSession | None) -> dict[str, Any]:
    if s is None:
        return {"state": "idle"}
    d = s.status()
    d["overview"] = url_for("pages.overview", cid=s.capture_id) if s.capture_id else None
    return d


def _error(message: str, code: int) -> tuple[Response, int]:
    return jsonify({"error": message}), code


@bp.app_context_processor
def _nav() -> dict[str, Any]:
    return {"live_enabled": True}


@bp.errorhandler(400)
@bp.errorhandler(403)
def _api_error(exc: Any) -> tuple[Response, int]:
    return _error(str(getattr(exc, "description", "") or "refused"), int(getattr(exc, "code", 400) or 400))


@bp.get("/live")
def page() -> str:
    return render_template(
        "live.html",
        title="Live capture",
        csrf_token=csrf_token(),
        interfaces=interfaces(),
        max_duration=manager().max_duration,
        plotly_guards=current_app.extensions.get("socketscope.plotly_guards", []),
        status=_status_json(manager().session),
    )


@bp.get("/api/live/interfaces")
def api_interfaces() -> Response:
    return jsonify({"items": interfaces()})


@bp.get("/api/live/status")
def api_status() -> Response:
    return jsonify(_status_json(manager().session))


def _number(name: str, kind: type[int] | type[float]) -> int | float | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = kind(raw)
    except ValueError:
        abort(400, description=f"{name} must be a number.")
    if value != value or value in (float("inf"), float("-inf")):
        abort(400, description=f"{name} must be a number.")
    return value


@bp.post("/api/live/start")
def api_start() -> tuple[Response, int]:
    from analyzer.pipeline.access import LiveError

    check_csrf()
    interface = (request.form.get("interface") or "").strip()
    bpf = request.form.get("filter") or ""
    duration = _number("duration", float)
    count = _number("count", int)
    try:
        s = manager().start(interface, bpf, duration, None if count is None else int(count))
    except ValueError as exc:
        return _error(str(exc), 400)
    except RuntimeError as exc:
        return _error(str(exc), 409)
    except LiveError as exc:
        return _error(str(exc), 400 if exc.kind in ("no-such-interface", "bad-filter") else 503)
    return jsonify(_status_json(s)), 200


@bp.post("/api/live/stop")
def api_stop() -> tuple[Response, int]:
    check_csrf()
    s = manager().stop(60.0)
    if s is None:
        return _error("no live capture to stop.", 409)
    return jsonify(_status_json(s)), 200


def _sse(event: str, data: Any, seq: int | None = None) -> str:
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=True, default=str)}\n\n"


@bp.get("/api/live/events")
def api_events() -> Response:
    m = manager()
    s = m.session
    raw = request.headers.get("Last-Event-ID") or request.args.get("after") or ""
    after = int(raw) if raw.isdigit() and len(raw) < 12 else 0

    def gen() -> Iterator[str]:
        nonlocal after
        yield "retry: 1000\n\n"
        if s is None:
            yield _sse("status", {"state": "idle"})
            return
        until = time.monotonic() + STREAM_SECONDS
        last_status = 0.0
        while time.monotonic() < until and not (m.closed and s.ended):
            events, missed = s.read(after, 0.3)
            if events:
                after = events[-1][0]
                yield _sse("batch", {"missed": missed, "events": [e for _, e in events]}, after)
            now = time.monotonic()
            if now - last_status >= 0.5:
                last_status = now
                yield _sse("status", _status_json(s), after)
            if s.ended and after >= s.last_seq:
                yield _sse("done", _status_json(s), after)
                return

    resp = Response(stream_with_context(gen()), mimetype="text/event-stream")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Accel-Buffering"] = "no"
    return resp
