"""Passive HTTP/1.x parser for both directions of one TCP connection (sans-IO).

The pipeline feeds each direction's reassembled bytes in capture order:

    conn = Http1Connection()
    events = conn.feed(Direction.C2S, data)    # also gap(direction, n), eof(direction)

Events, in stream order per direction:

- `HttpRequestHead` / `HttpResponseHead` as soon as a head is complete;
- `HttpMessageDone` when its body is complete (exactly one per head, also for
  messages cut short by a gap, an error or the end of the stream);
- `Upgraded` when a direction stops being HTTP (101, or 2xx to CONNECT);
- `ResponseLost` when a response turns out to have been in a gap (see `feed`'s `at`);
- `HttpAnomaly`: a registered code (analyzer/model/codes/http.py) with the
  direction and the offset in that direction's stream.

Offsets count from the first byte fed in that direction, gaps included.
Responses are paired with requests in order (pipelining included); the method
of the request decides HEAD and CONNECT framing (RFC 9112 §6.3). After a request
asking to upgrade (Upgrade + Connection: upgrade, RFC 9110 §7.8) or a CONNECT,
the client side holds what follows until the response: on 101 / 2xx both sides
emit `Upgraded`; on any other final status the held bytes are parsed as HTTP.

`Upgraded.data` holds the bytes of that direction already received after the
HTTP message; later bytes are the caller's to route (feed() then returns nothing).
Held client bytes are bounded by `max_head_bytes`. A client side that ended while
holding still gets its `Upgraded` when the 101 arrives: end the next parser too.

Undecodable bytes yield one anomaly, then the direction looks for the next line
that starts a message (a request line with a known method, or `HTTP/1.x NNN`).
Everything the peer controls is bounded: head size, kept and decoded body
sizes, held bytes, pending requests. Nothing here raises on captured bytes.

Modules: this one pairs the two directions (`Http1Connection`); http1_side.py reads one
direction (heads, resynchronisation, gaps, the end), http1_chunked.py its bodies,
http1_state.py holds the parser state records, http1_events.py the events, http1_reader.py
and http1_body.py the pure functions over start lines, fields and framing.
"""

from __future__ import annotations

from collections import deque

from analyzer.model.codes.http import (
    HTTP_H2_PREFACE,
    HTTP_RESPONSE_LOST,
    HTTP_RESPONSE_WITHOUT_REQUEST,
    HTTP_TOO_MANY_PENDING,
    HTTP_UNANSWERED_REQUEST,
    HTTP_UNDECODED_BYTES,
    HTTP_UNREQUESTED_UPGRADE,
)
from analyzer.model.codes.websocket import HANDSHAKE_NOT_101
from analyzer.model.common import Direction
from analyzer.model.records import Headers, header_value
from analyzer.protocols.deflate import InflateBudget
from analyzer.protocols.http1_body import BodyKind, Framing, request_framing, response_framing
from analyzer.protocols.http1_events import (
    HttpAnomaly,
    HttpEvent,
    HttpMessageDone,
    HttpRequestHead,
    HttpResponseHead,
    ResponseLost,
    Upgraded,
)
from analyzer.protocols.http1_reader import Issue
from analyzer.protocols.http1_side import HttpSide
from analyzer.protocols.http1_state import Pending, State

__all__ = [
    "Http1Connection",
    "HttpAnomaly",
    "HttpEvent",
    "HttpMessageDone",
    "HttpRequestHead",
    "HttpResponseHead",
    "ResponseLost",
    "Upgraded",
]

_C2S = Direction.C2S  # a module constant: Enum attribute lookups are slow


def _connection_has_token(headers: Headers, token: str) -> bool:
    """RFC 9110 §7.6.1: Connection is a comma list of case-insensitive tokens."""
    for name, value in headers:
        if name.lower() == "connection" and any(t.strip(" \t").lower() == token for t in value.split(",")):
            return True
    return False


class Http1Connection:
    """Both directions of one HTTP/1.x connection, requests paired with responses."""

    def __init__(
        self,
        *,
        max_head_bytes: int = 64 << 10,
        max_body_bytes: int = 8 << 20,
        max_decoded_bytes: int = 8 << 20,
        max_pending: int = 64,
        midstream: bool = False,
        inflate_budget: InflateBudget | None = None,
    ) -> None:
        """`midstream`: the capture began after the connection did, so either stream may start
        inside a message: each side looks for its first start line as after a gap.
        `inflate_budget`: decoded bodies past it are dropped (docs/bounds.md)."""
        self.inflate_budget = inflate_budget
        self.max_head_bytes = max(max_head_bytes, 16)
        self.max_body_bytes = max(max_body_bytes, 0)
        self.max_decoded_bytes = max(max_decoded_bytes, 0)
        self.max_pending = max(max_pending, 1)
        self.events: list[HttpEvent] = []
        self.c2s = HttpSide(self, Direction.C2S)
        self.s2c = HttpSide(self, Direction.S2C)
        if midstream:
            self.c2s.start_midstream()
            self.s2c.start_midstream()
        self._pending: deque[Pending] = deque()
        self._requests = 0
        self._pending_overflow = False
        self._responses_lost = False  # a gap on the response side since the last final response
        self._at = 0  # order key of the bytes being fed (feed's `at`)

    def release(self) -> None:
        """The connection is over: break the sides' references back to it (unusable afterwards)."""
        del self.c2s.conn, self.s2c.conn

    def _side(self, direction: Direction) -> HttpSide:
        return self.c2s if direction is _C2S else self.s2c

    def _take_events(self) -> list[HttpEvent]:
        events, self.events = self.events, []
        return events

    def feed(self, direction: Direction, data: bytes, at: int = 0) -> list[HttpEvent]:
        """Next bytes of one direction, in stream order. `at` (optional, > 0) orders the bytes of
        both directions as they were sent, e.g. the packet number that carried them: it tells
        which requests a response can answer when responses were lost in a gap."""
        if not isinstance(data, bytes | bytearray):
            data = bytes(data)  # e.g. a memoryview: the readers need find()
        self._at = at
        self._side(direction).feed(data)
        return self._take_events()

    def gap(self, direction: Direction, length: int) -> list[HttpEvent]:
        """`length` bytes of one direction are missing from the capture."""
        self._side(direction).gap(length)
        return self._take_events()

    def eof(self, direction: Direction) -> list[HttpEvent]:
        """One direction ended (FIN, RST or end of capture)."""
        self._side(direction).end()
        return self._take_events()

    def is_upgraded(self, direction: Direction) -> bool:
        return self._side(direction).state is State.UPGRADED

    # -- pairing (called by the sides) ------------------------------------------

    def _request_head(
        self,
        side: HttpSide,
        method: str,
        target: str,
        version: str,
        headers: Headers,
        start: int,
        end: int,
        issues: list[Issue],
        bare: bool,
    ) -> None:
        index = self._requests
        self._requests += 1
        self.events.append(HttpRequestHead(method, target, version, headers, start, end, index))
        for code, message, offset in issues:
            side.anomaly(code, message, offset)
        if method == "PRI" and version == "HTTP/2.0":
            # RFC 9113 §3.4: HTTP/2 with prior knowledge; nothing after this is HTTP/1.
            side.anomaly(HTTP_H2_PREFACE, "HTTP/2 connection preface", start)
            side._begin(index, start, end, Framing(BodyKind.NONE), None, False, bare)
            side.state = State.DEAD
            side.i = len(side.work)
            return
        # RFC 9110 §7.8: Upgrade only counts when Connection lists "upgrade".
        wants_switch = method == "CONNECT" or (
            header_value(headers, "upgrade") is not None and _connection_has_token(headers, "upgrade")
        )
        pending = None
        if len(self._pending) < self.max_pending:
            pending = Pending(index, method, start, wants_switch, at=self._at)
            self._pending.append(pending)
        elif not self._pending_overflow:
            self._pending_overflow = True
            side.anomaly(HTTP_TOO_MANY_PENDING, f"more than {self.max_pending} requests pending", start)
        side._begin(index, start, end, request_framing(headers), pending, False, bare)

    def _response_head(
        self,
        side: HttpSide,
        version: str,
        status: int,
        reason: str,
        headers: Headers,
        start: int,
        end: int,
        issues: list[Issue],
        bare: bool,
    ) -> None:
        queue = self._pending
        entry: Pending | None = None
        final = False
        if queue:
            # RFC 9110 §15.2: interim (1xx) responses precede the final one, except 101.
            final = not (100 <= status < 200) or status == 101
            if final and self._responses_lost:
                self._skip_lost_responses(side, start)
            entry = queue.popleft() if final else queue[0]
        if final or not queue:
            self._responses_lost = False
        index = entry.index if entry is not None else None
        self.events.append(HttpResponseHead(version, status, reason, headers, start, end, index))
        for code, message, offset in issues:
            side.anomaly(code, message, offset)
        if entry is None:
            side.anomaly(HTTP_RESPONSE_WITHOUT_REQUEST, f"{status} response with no request pending", start)
        framing = response_framing(status, entry.method if entry is not None else None, headers)
        switch = framing.kind is BodyKind.SWITCH
        if status == 101 and (entry is None or not entry.wants_switch):
            side.anomaly(HTTP_UNREQUESTED_UPGRADE, "101 answers a request without Upgrade", start)
        if entry is not None and final and entry.wants_switch:
            entry.outcome = switch
        side._begin(index, start, end, framing, entry, switch, bare)
        if entry is not None and final and entry.wants_switch and not switch:
            self._refuse(entry, status)

    def _skip_lost_responses(self, side: HttpSide, start: int) -> None:
        """The first final response after a gap on the response side. It answers a request sent
        before it (`at`); a client that does not pipeline sends its next request only once the
        previous response is in (RFC 9112 §9.3.2 allows pipelining; browsers and Engine.IO
        clients do not use it), so it answers the newest such request and the responses to the
        older ones were in the gap. Pairing in order would give every later response on the
        connection to the wrong request. Without order keys (`at` 0) responses pair in order."""
        queue, now = self._pending, self._at
        if not now:
            return
        sent_before = 0
        for entry in queue:
            if not 0 < entry.at < now:
                break
            sent_before += 1
        while sent_before > 1 and not queue[0].wants_switch:
            lost = queue.popleft()
            sent_before -= 1
            side.anomaly(
                HTTP_RESPONSE_LOST,
                f"the response to request #{lost.index} ({lost.method}) was in a capture gap",
                start,
            )
            self.events.append(ResponseLost(lost.index))

    def _refuse(self, entry: Pending, status: int) -> None:
        """The upgrade was refused: what the client held is HTTP after all."""
        c = self.c2s
        if c.state is not State.HOLD or c.hold is not entry:
            return  # still sending the request; it will not hold
        if entry.method != "CONNECT" and _masked_frame_header(c.buf):
            # RFC 6455 §4.1: without a 101 the connection is not a WebSocket (H4)
            c.anomaly(
                HANDSHAKE_NOT_101,
                f"the client sent WebSocket frames although its upgrade was answered {status}",
                c.offset,
            )
        c.hold = None
        c.state = State.HEAD
        dropped = c.hold_dropped
        c.hold_dropped = 0
        if c.hold_gap:
            c.hold_gap = False
            c._resync(0, c.offset)
        c._resume()
        if dropped:
            c.gap(dropped)
        if c.ended and c.state is not State.HOLD:
            c.finish_stream()

    def _switch_client(self) -> None:
        """The server switched protocols: so does the client, at its next message boundary."""
        c = self.c2s
        if c.state in (State.HOLD, State.HEAD, State.RESYNC):
            c.switch_now()
        elif c.state not in (State.UPGRADED, State.DEAD):
            c.switch_pending = True  # mid-message: switch when it ends

    def _server_ended(self) -> None:
        for p in self._pending:
            self.c2s.anomaly(
                HTTP_UNANSWERED_REQUEST, f"request #{p.index} ({p.method}) got no response", p.start
            )
        self._pending.clear()
        c = self.c2s
        if c.state is State.HOLD:
            held = len(c.buf) + c.hold_dropped
            if held:
                c.anomaly(HTTP_UNDECODED_BYTES, f"{held} bytes held after an unanswered upgrade", c.offset)
            c.state = State.DEAD
            c.buf = bytearray()
            c.hold = None


def _masked_frame_header(buf: bytes | bytearray) -> bool:
    """Do the bytes start like a client's WebSocket frame (RFC 6455 §5.2: a defined opcode and
    the MASK bit)? A line of text never does: its second byte is ASCII, below 0x80."""
    return len(buf) >= 2 and buf[1] & 0x80 != 0 and buf[0] & 0x0F in (0, 1, 2, 8, 9, 10)
