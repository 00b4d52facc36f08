"""The HTTP/2 step of a connection: streams become HTTP exchanges, RFC 8441 tunnels WebSockets.

`H2Step` runs the sans-IO HTTP/2 parser (analyzer/protocols/h2) for one ConnectionApp, started
by ALPN `h2` under TLS, the prior-knowledge preface, or an h2c Upgrade answered 101 (RFC 9113
§3; RFC 7540 §3.2). Each stream is one `HttpExchange` (version "HTTP/2", `stream_id`; the
pseudo-header fields give method, target and status, RFC 9113 §8.3), handed on like an HTTP/1.1
one when its response ends (END_STREAM), when it is reset, or at the end: Engine.IO polling
over HTTP/2 reaches the session builder exactly as over HTTP/1.1. A request's `frame` is the
packet with its last header or data byte. The first extended CONNECT answered 2xx (RFC 8441)
becomes the connection's WebSocket: its DATA in each direction feeds the WebSocket decoder,
offsets mapped back through the DATA frames (`PieceMap`). Later tunnels on the same connection
are listed as exchanges only (their bodies are the tunnel bytes, bounded).
"""

from __future__ import annotations

import base64
import binascii
from array import array
from bisect import bisect_right
from typing import TYPE_CHECKING, Any, Protocol

from analyzer.model.codes.h2 import H2_GOAWAY_ERROR, H2_LIMIT, H2_STREAM_RESET
from analyzer.model.common import Direction
from analyzer.model.facts import H2GoAwayFacts, Http2Facts
from analyzer.model.records import HttpExchange, HttpRequest, HttpResponse, header_value
from analyzer.protocols.h2 import (
    H2Anomaly,
    H2Connection,
    H2Data,
    H2Event,
    H2GoAway,
    H2Head,
    H2Reset,
    field,
)
from analyzer.protocols.h2.tunnel import is_extended_connect, tunnel_handshake
from analyzer.protocols.handshake import HandshakeResult
from analyzer.protocols.http1_body import BodyCollector

if TYPE_CHECKING:
    from analyzer.protocols.deflate import InflateBudget

__all__ = ["ERROR_NAMES", "H2Host", "H2Step", "PieceMap", "h2c_settings"]

_C2S, _S2C = Direction.C2S, Direction.S2C
MAX_OPEN = 1000  # streams assembled at one time (the parser bounds the states it checks)
MAX_BODY = 8 << 20  # bytes kept of one body, as for HTTP/1.1
MAX_KEPT = 64 << 20  # body bytes kept per connection (streams are concurrent: 1000 x 8 MiB otherwise)
ERROR_NAMES = (
    "NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
    "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
    "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
)  # RFC 9113 §7  # fmt: skip
_MAX_PIECES = 1 << 20  # DATA frames of a tunnel mapped (16 bytes each); later ones map to the last


def error_name(code: int) -> str:
    return ERROR_NAMES[code] if 0 <= code < len(ERROR_NAMES) else f"0x{code:x}"


class PieceMap:
    """Offsets of a tunnel's WebSocket byte stream -> offsets of the HTTP/2 direction that carried
    them (one piece per DATA frame)."""

    __slots__ = ("_h2", "_ws", "next")

    def __init__(self) -> None:
        self._ws = array("q")
        self._h2 = array("q")
        self.next = 0  # WebSocket offset of the next byte

    def add(self, h2_offset: int, length: int) -> None:
        if len(self._ws) < _MAX_PIECES:
            self._ws.append(self.next)
            self._h2.append(h2_offset)
        self.next += length

    def at(self, offset: int) -> int:
        i = bisect_right(self._ws, offset) - 1
        if i < 0:
            return self._h2[0] if self._h2 else 0
        return self._h2[i] + offset - self._ws[i]


class H2Host(Protocol):
    """What the connection (pipeline/connection.py: ConnectionApp) does for the step."""

    tls: Any
    inflate_budget: InflateBudget | None

    def where(self, d: Direction, start: int, end: int) -> tuple[int, float, tuple[int, ...]]: ...
    def ns(self, d: Direction, start: int, end: int) -> int: ...  # `where`'s time in nanoseconds
    def report(self, code: str, message: str, d: Direction | None, frames: tuple[int, ...] = ()) -> None: ...
    def add_exchange(self, ex: HttpExchange, tunnel: bool) -> None: ...
    def open_tunnel(self, hs: HandshakeResult, maps: dict[Direction, PieceMap], req: HttpRequest,
                    resp: HttpResponse, url: str) -> None: ...  # fmt: skip
    def tunnel_data(self, d: Direction, data: bytes) -> None: ...
    def tunnel_end(self, d: Direction, kind: str, frame: int, ts: float) -> None: ...
    def exchange_count(self) -> int: ...
    def connection_id(self) -> int: ...


class _Msg:
    __slots__ = ("body", "end", "ended", "fields", "start")

    def __init__(self, fields: tuple[tuple[str, str], ...], start: int, end: int, budget: Any) -> None:
        self.fields = fields
        self.start = start
        self.end = end
        self.ended = False
        codings = tuple(
            t.strip().lower()
            for v in (x for k, x in fields if k == "content-encoding")
            for t in v.split(",")
            if t.strip()
        )
        self.body = BodyCollector(codings, MAX_BODY, MAX_BODY, budget)


class _Stream:
    __slots__ = ("connect", "interim", "req", "request", "resp", "tunnel")

    def __init__(self) -> None:
        self.req: _Msg | None = None
        self.request: HttpRequest | None = None  # h2c Upgrade: the HTTP/1.1 request (stream 1)
        self.resp: _Msg | None = None
        self.interim: list[HttpResponse] = []
        self.connect = False  # an extended CONNECT (RFC 8441)
        self.tunnel = False  # the connection's WebSocket


class H2Step:
    """HTTP/2 on one connection; see the module docstring."""

    def __init__(
        self,
        host: H2Host,
        *,
        at: dict[Direction, int] | None = None,
        upgrade: HttpRequest | None = None,
        upgrade_settings: bytes | None = None,
    ) -> None:
        self.host = host
        self.parser = H2Connection(upgraded=upgrade is not None, upgrade_settings=upgrade_settings, at=at)
        self.streams: dict[int, _Stream] = {}
        self.maps: dict[Direction, PieceMap] | None = None  # the tunnel's, once open
        self.pushes = 0
        self.resets: dict[str, int] = {}
        self.goaway: list[H2GoAwayFacts] = []
        self._limited = False
        self.kept = 0  # body bytes kept on the connection
        self._over_kept = False
        if upgrade is not None:
            stream = self.streams[1] = _Stream()
            stream.request = upgrade

    # -- input --
    def data(self, d: Direction, data: bytes) -> None:
        self._events(self.parser.feed(d, data))

    def gap(self, d: Direction, length: int) -> None:
        self._events(self.parser.gap(d, length))

    def end(self, d: Direction) -> None:
        self._events(self.parser.eof(d))

    def _events(self, events: list[H2Event]) -> None:
        for ev in events:
            if isinstance(ev, H2Data):
                self._data(ev)
            elif isinstance(ev, H2Head):
                self._head(ev)
            elif isinstance(ev, H2Reset):
                self._reset(ev)
            elif isinstance(ev, H2GoAway):
                self._goaway(ev)
            elif isinstance(ev, H2Anomaly):
                self._report(ev.code, ev.message, ev.direction, ev.offset)

    def _report(self, code: str, message: str, d: Direction, offset: int) -> None:
        frame = self.host.where(d, offset, offset + 1)[0]
        self.host.report(code, message, d, (frame,) if frame else ())

    # -- streams --
    def _stream(self, ev: H2Head) -> _Stream | None:
        stream = self.streams.get(ev.stream_id)
        if stream is None and ev.direction is _C2S:
            if len(self.streams) >= MAX_OPEN:
                if not self._limited:
                    self._limited = True
                    self._report(
                        H2_LIMIT, f"over {MAX_OPEN} streams open: later ones not listed", _C2S, ev.start
                    )
                return None
            stream = self.streams[ev.stream_id] = _Stream()
        return stream

    def _head(self, ev: H2Head) -> None:
        if ev.promise:
            self.pushes += 1  # server push (RFC 9113 §8.4): counted, not listed as an exchange
            return
        stream = self._stream(ev)
        if stream is None:
            return
        fields = ev.fields if ev.fields is not None else ()
        budget = self.host.inflate_budget
        if ev.direction is _C2S:
            if stream.req is None:
                stream.req = _Msg(fields, ev.start, ev.end, budget)
                stream.connect = is_extended_connect(fields)
            stream.req.end = ev.end  # trailers end the request (RFC 9113 §8.1)
            stream.req.ended = stream.req.ended or ev.end_stream
            return
        status = _status(fields)
        if 100 <= status < 200 and stream.resp is None:  # RFC 9113 §8.1: interim responses
            if len(stream.interim) < 16:
                frame, ts, frames = self.host.where(_S2C, ev.start, ev.end)
                ns = self.host.ns(_S2C, ev.start, ev.end)
                stream.interim.append(
                    HttpResponse(
                        frame, ts, "HTTP/2", status, "", fields, b"", False, frames, ev.stream_id, ns
                    )
                )
            return
        if stream.resp is None:
            stream.resp = _Msg(fields, ev.start, ev.end, budget)
            if stream.connect and 200 <= status < 300 and self.maps is None:
                self._open_tunnel(ev.stream_id, stream)
        stream.resp.end = ev.end
        if ev.end_stream:
            self._ended(ev.stream_id, stream, _S2C, ev.end)

    def _data(self, ev: H2Data) -> None:
        stream = self.streams.get(ev.stream_id)
        if stream is None:
            return
        d = ev.direction
        if stream.tunnel and self.maps is not None:
            if ev.data:
                self.maps[d].add(ev.data_start, len(ev.data))
                self.host.tunnel_data(d, ev.data)
            if ev.end_stream:  # RFC 8441 §5: END_STREAM stands for TCP FIN
                frame, ts, _ = self.host.where(d, ev.start, ev.end)
                self.host.tunnel_end(d, "fin", frame, ts)
                self._ended(ev.stream_id, stream, d, ev.end)
            return  # the exchange stays the CONNECT's headers: its frames are the WebSocket's
        msg = stream.req if d is _C2S else stream.resp
        if msg is None:
            return
        if self.kept + len(ev.data) <= MAX_KEPT:
            self.kept += len(ev.data)
            msg.body.add(ev.data, 0, len(ev.data))
        else:  # past the connection's bound: counted, not kept (the body is marked truncated)
            msg.body.skip(len(ev.data))
            if not self._over_kept:
                self._over_kept = True
                self._report(H2_LIMIT, f"over {MAX_KEPT} body bytes kept on the connection", d, ev.start)
        msg.end = ev.end
        if ev.end_stream:
            self._ended(ev.stream_id, stream, d, ev.end)

    def _ended(self, sid: int, stream: _Stream, d: Direction, end: int) -> None:
        msg = stream.req if d is _C2S else stream.resp
        if msg is not None:
            msg.ended = True
        if d is _S2C:
            self._complete(sid)

    def _reset(self, ev: H2Reset) -> None:
        name = error_name(ev.error_code)
        self.resets[name] = self.resets.get(name, 0) + 1
        self._report(H2_STREAM_RESET, f"RST_STREAM {name} on stream {ev.stream_id}", ev.direction, ev.start)
        stream = self.streams.get(ev.stream_id)
        if stream is None:
            return
        if stream.tunnel:  # RFC 8441 §5: CANCEL stands for TCP RST; any other code is abnormal
            frame, ts, _ = self.host.where(ev.direction, ev.start, ev.end)
            self.host.tunnel_end(ev.direction, "rst", frame, ts)
        self._complete(ev.stream_id)

    def _goaway(self, ev: H2GoAway) -> None:
        name = error_name(ev.error_code)
        if len(self.goaway) < 16:
            frame = self.host.where(ev.direction, ev.start, ev.end)[0]
            self.goaway.append(
                {
                    "direction": ev.direction.value,
                    "frame": frame,
                    "last_stream_id": ev.last_stream_id,
                    "error": name,
                }
            )
        if ev.error_code:  # RFC 9113 §6.8: an error closed the connection
            debug = ev.debug[:200].decode("utf-8", "replace")
            self._report(
                H2_GOAWAY_ERROR,
                f"GOAWAY {name} (last stream {ev.last_stream_id}): {debug!r}",
                ev.direction,
                ev.start,
            )

    # -- records --
    def _open_tunnel(self, sid: int, stream: _Stream) -> None:
        req, resp = stream.req, stream.resp
        assert req is not None and resp is not None
        hs = tunnel_handshake(req.fields, _status(resp.fields), resp.fields)
        for code, message in hs.anomalies:
            self._report(code, message, _S2C, resp.start)
        stream.tunnel = True
        self.maps = {_C2S: PieceMap(), _S2C: PieceMap()}
        scheme = "wss" if (field(req.fields, ":scheme") or "https") == "https" else "ws"
        url = f"{scheme}://{field(req.fields, ':authority') or ''}{field(req.fields, ':path') or ''}"
        request, response = self._request(sid, req), self._response(sid, resp)
        self.host.open_tunnel(hs, self.maps, request, response, url)

    def _request(self, sid: int, msg: _Msg) -> HttpRequest:
        frame, ts, frames = self.host.where(_C2S, msg.start, msg.end)
        body, cut, _ = msg.body.finish()
        method = field(msg.fields, ":method") or ""
        target = (
            field(msg.fields, ":path")
            or (field(msg.fields, ":authority") if method == "CONNECT" else "")
            or ""
        )
        ns = self.host.ns(_C2S, msg.start, msg.end)
        return HttpRequest(
            frame, ts, method, target, "HTTP/2", msg.fields, body, cut or not msg.ended, frames, sid, ns
        )

    def _response(self, sid: int, msg: _Msg) -> HttpResponse:
        frame, ts, frames = self.host.where(_S2C, msg.start, msg.end)
        body, cut, issues = msg.body.finish()
        for code, message in issues:
            self._report(code, message, _S2C, msg.start)
        ns = self.host.ns(_S2C, msg.start, msg.end)
        return HttpResponse(
            frame, ts, "HTTP/2", _status(msg.fields), "", msg.fields, body, cut, frames, sid, ns
        )

    def _complete(self, sid: int) -> None:
        stream = self.streams.pop(sid, None)
        if stream is None:
            return
        req = stream.request
        if stream.req is not None:
            req = self._request(sid, stream.req)
        resp = self._response(sid, stream.resp) if stream.resp is not None else None
        ex = HttpExchange(
            self.host.connection_id(), self.host.exchange_count(), req, resp, tuple(stream.interim)
        )
        self.host.add_exchange(ex, stream.tunnel)

    def finish(self) -> Http2Facts:
        """The capture is over: open streams are listed; the connection's `http2` object."""
        for d in (_C2S, _S2C):
            self.end(d)
        for sid in sorted(self.streams):
            self._complete(sid)
        p = self.parser
        return {
            "streams": p.streams_seen,
            "frames": {d.value: dict(sorted(p.frame_counts[d].items())) for d in (_C2S, _S2C)},
            "settings": {
                d.value: {str(k): v for k, v in sorted(p.settings[d].items())} for d in (_C2S, _S2C)
            },
            "enable_connect_protocol": p.connect_enabled,
            "resets": dict(sorted(self.resets.items())),
            "goaway": self.goaway,
            "pushes": self.pushes,
        }


def h2c_settings(headers: tuple[tuple[str, str], ...]) -> bytes:
    """The SETTINGS payload in an h2c Upgrade request's HTTP2-Settings (base64url, RFC 7540 §3.2.1)."""
    raw = (header_value(headers, "http2-settings") or "").strip()
    try:
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (ValueError, binascii.Error):
        return b""


def _status(fields: tuple[tuple[str, str], ...]) -> int:
    value = field(fields, ":status") or ""
    return int(value) if value.isascii() and value.isdigit() and len(value) == 3 else 0  # "²" isdigit()
