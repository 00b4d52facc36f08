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
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from analyzer.model.codes.http import (
    HTTP_BAD_CHUNK,
    HTTP_BAD_REQUEST_LINE,
    HTTP_BAD_STATUS_LINE,
    HTTP_BARE_LF,
    HTTP_H2_PREFACE,
    HTTP_HEAD_TOO_LONG,
    HTTP_LEADING_EMPTY_LINE,
    HTTP_RESPONSE_LOST,
    HTTP_RESPONSE_WITHOUT_REQUEST,
    HTTP_RESYNC,
    HTTP_STREAM_GAP,
    HTTP_TOO_MANY_PENDING,
    HTTP_TRUNCATED_MESSAGE,
    HTTP_UNANSWERED_REQUEST,
    HTTP_UNDECODED_BYTES,
    HTTP_UNREQUESTED_UPGRADE,
    HTTP_UPGRADE_HOLD_OVERFLOW,
)
from analyzer.model.codes.websocket import HANDSHAKE_NOT_101
from analyzer.model.common import Direction, ParserAnomaly
from analyzer.model.records import Headers, header_value
from analyzer.protocols.http1_body import (
    MAX_CHUNK_LINE,
    BodyCollector,
    BodyKind,
    Framing,
    parse_chunk_size,
    request_framing,
    response_framing,
)
from analyzer.protocols.http1_reader import (
    LEADING_EMPTY,
    REQUEST_START,
    REQUEST_START_AFTER_LF,
    RESPONSE_START,
    RESPONSE_START_AFTER_LF,
    Issue,
    find_blank_line,
    line_end,
    parse_fields,
    parse_plain_fields,
    parse_request_line,
    parse_status_line,
    split_lines,
)

__all__ = [
    "Http1Connection",
    "HttpAnomaly",
    "HttpEvent",
    "HttpMessageDone",
    "HttpRequestHead",
    "HttpResponseHead",
    "Upgraded",
]

_C2S = Direction.C2S  # a module constant: Enum attribute lookups are slow
_CR = 0x0D
_LF = 0x0A
_STATUS_PREFIX = len(b"HTTP/1.1 200 ")  # enough bytes to tell a status line (RESPONSE_START)


@dataclass(slots=True)  # not frozen: one per message, and a frozen __init__ costs several times more
class HttpRequestHead:
    """A request line and header section; `index` counts requests on the connection from 0."""

    method: str
    target: str
    version: str  # e.g. "HTTP/1.1"
    headers: Headers  # names as on the wire, in order
    start: int  # offset of the request line's first byte
    end: int  # offset after the blank line
    index: int


@dataclass(slots=True)  # not frozen: one per message, and a frozen __init__ costs several times more
class HttpResponseHead:
    """A status line and header section; `request_index` is the request it answers."""

    version: str
    status: int
    reason: str
    headers: Headers
    start: int
    end: int
    request_index: int | None  # None: no request was pending


@dataclass(slots=True)  # not frozen: one per message, and a frozen __init__ costs several times more
class HttpMessageDone:
    """The end of a message whose head was emitted before in the same direction.

    `body` has the transfer coding removed and gzip/deflate content codings undone,
    bounded; `raw_body_length` counts the body bytes after chunked framing is
    removed and before content decoding (gap bytes included); `body_truncated` is
    set when the body is incomplete (gap, bound, decode failure, end of stream).
    """

    direction: Direction
    index: int | None  # the request index (for a response: of the request it answers)
    body: bytes
    raw_body_length: int
    body_truncated: bool
    start: int  # offset of the message's first byte
    end: int  # offset after its last body byte
    trailers: Headers = ()


@dataclass(slots=True)  # not frozen: one per message, and a frozen __init__ costs several times more
class Upgraded:
    """From `offset` on, this direction is no longer HTTP; `data` was already received."""

    direction: Direction
    offset: int
    data: bytes


@dataclass(slots=True)  # not frozen: one per message, and a frozen __init__ costs several times more
class HttpAnomaly:
    """A ParserAnomaly with the direction whose stream `offset` refers to."""

    direction: Direction
    code: str
    message: str
    offset: int

    @property
    def parser_anomaly(self) -> ParserAnomaly:
        return ParserAnomaly(self.code, self.message, self.offset)


@dataclass(slots=True)
class ResponseLost:
    """The response to request `request_index` was in a capture gap: no response head will
    name it (an `http.response-lost` anomaly says so too)."""

    request_index: int


HttpEvent: TypeAlias = (
    HttpRequestHead | HttpResponseHead | HttpMessageDone | Upgraded | HttpAnomaly | ResponseLost
)


class _State:
    """Parser states. Plain string constants, not an Enum: the state is tested and looked up in
    _READERS several times per feed, and Enum attribute lookups and hashing cost more than that."""

    HEAD = "head"  # waiting for a start line (empty lines before it are skipped)
    BODY = "body"  # Content-Length body
    UNTIL_CLOSE = "until-close"  # response body delimited by the end of the stream
    CHUNK_SIZE = "chunk-size"  # RFC 9112 §7.1
    CHUNK_DATA = "chunk-data"
    CHUNK_END = "chunk-end"  # the CRLF after chunk data
    TRAILER = "trailer"  # RFC 9112 §7.1.2
    HOLD = "hold"  # client: after an upgrade/CONNECT request, until its response
    RESYNC = "resync"  # skipping to the next line that starts a message
    UPGRADED = "upgraded"  # no longer HTTP
    DEAD = "dead"  # stream ended, or not HTTP/1 at all


@dataclass(slots=True, eq=False)
class _Pending:
    """A request waiting for its response (RFC 9112 §9.3)."""

    index: int
    method: str
    start: int
    wants_switch: bool  # Upgrade request or CONNECT
    outcome: bool | None = None  # True: switched, False: refused, None: no final response yet
    at: int = 0  # the caller's order key (packet number) of the feed that completed the head


@dataclass(slots=True, eq=False)
class _Message:
    index: int | None
    start: int
    body_start: int
    collector: BodyCollector | None
    pending: _Pending | None  # request: its queue entry; response: the entry it answers
    switch: bool  # response: the connection leaves HTTP after it
    bare_lf_noted: bool
    trailers: Headers = ()


def _connection_has_token(headers: Headers, token: str) -> bool:
    """RFC 9110 §7.6.1: Connection is a comma list of case-insensitive tokens."""
    for name, value in headers:
        if name.lower() == "connection" and any(t.strip(" \t").lower() == token for t in value.split(",")):
            return True
    return False


def _preview(line: bytes) -> str:
    return repr(line[:60])[1:] + ("..." if len(line) > 60 else "")


class _Side:
    """The parser state of one direction. Runs readers chosen by state from `_READERS`."""

    def __init__(self, conn: Http1Connection, direction: Direction) -> None:
        self.conn = conn
        self.direction = direction
        self.is_client = direction is Direction.C2S
        self.state = _State.HEAD
        self.buf = bytearray()  # bytes not consumed yet; buf[0] is at stream offset `offset`
        self.offset = 0
        self.work: bytes | bytearray = b""  # while running: buf (+ new data) or the new data itself
        self.i = 0  # read position in `work`
        self.scan = 0  # stream offset where the search for a line end resumes
        self.head_start = -1  # stream offset of the start line being read, -1 before one starts
        self.lead_start = -1  # stream offset of empty lines skipped before a start line
        self.start_line: tuple[str, str, str] | tuple[str, int, str] | None = None
        self.msg: _Message | None = None
        self.left = 0  # body or chunk bytes still expected
        self.resync_from = 0
        self.resync_at_line = False
        self.ended = False  # eof() was called
        self.switch_pending = False  # client: switch once the current message ends
        self.hold: _Pending | None = None
        self.hold_dropped = 0
        self.hold_gap = False

    # -- plumbing -------------------------------------------------------------

    def anomaly(self, code: str, message: str, offset: int) -> None:
        self.conn.events.append(HttpAnomaly(self.direction, code, message, offset))

    def feed(self, data: bytes | bytearray) -> None:
        if self.ended or self.state in (_State.UPGRADED, _State.DEAD) or not data:
            return
        if self.state is _State.HOLD:
            self._hold_more(data)
            return
        if self.buf:
            self.buf += data
            self.work = self.buf
        else:
            self.work = data
        self.i = 0
        self._run()

    def _resume(self) -> None:
        """Run the readers over what is buffered (after a gap or a refused upgrade)."""
        self.work = self.buf
        self.i = 0
        self._run()

    def _run(self) -> None:
        while True:
            reader = _READERS.get(self.state)
            if reader is None or not reader(self):
                break
        self._commit()

    def _commit(self) -> None:
        """Keep the unread bytes for the next call; nothing before them is ever copied again."""
        work, i = self.work, self.i
        self.work = b""
        self.i = 0
        if self.state in (_State.UPGRADED, _State.DEAD):
            self.buf = bytearray()
            return
        if self.state is _State.HOLD:
            rest = work[i:]
            self.buf = bytearray()
            self.offset += i
            self._hold_more(rest)
            return
        if work is self.buf:
            del self.buf[:i]
        else:
            self.buf = bytearray(work[i:])
        self.offset += i

    def _hold_more(self, data: bytes | bytearray) -> None:
        """Client bytes after an upgrade request, kept (bounded) until the response decides."""
        limit = self.conn.max_head_bytes
        room = limit - len(self.buf)
        if len(data) > room:
            if not self.hold_dropped:
                self.anomaly(
                    HTTP_UPGRADE_HOLD_OVERFLOW,
                    f"more than {limit} bytes sent before the upgrade response; the rest is dropped",
                    self.offset + limit,
                )
            self.hold_dropped += len(data) - max(room, 0)
            data = data[: max(room, 0)]
        self.buf += data

    # -- heads ----------------------------------------------------------------

    def _read_head(self) -> bool:
        work, i, n = self.work, self.i, len(self.work)
        if self.head_start < 0:
            # RFC 9112 §2.2: empty lines before a request line are ignored.
            m = LEADING_EMPTY.match(work, i)
            if m is not None and m.end() > i:
                if self.lead_start < 0:
                    self.lead_start = self.offset + i
                self.i = i = m.end()
            if i >= n:
                return False
            if self.lead_start >= 0 and not self.is_client:
                skipped = self.offset + i - self.lead_start
                self.anomaly(HTTP_LEADING_EMPTY_LINE, f"{skipped} bytes of empty lines", self.lead_start)
            self.lead_start = -1
            self.head_start = self.scan = self.offset + i
            self.start_line = None
        start = self.head_start - self.offset
        stop = start + self.conn.max_head_bytes  # the head must end by here (bound)
        if self.start_line is None:
            nl = work.find(b"\n", self.scan - self.offset, stop)
            if nl < 0:
                if n >= stop:
                    return self._head_too_long(start)
                self.scan = self.offset + n
                return False
            line = bytes(work[start : line_end(work, nl)])
            if not self._check_start_line(line, nl):
                return True
            self.scan = self.offset + nl  # this LF may begin the blank-line terminator
        lf, end = find_blank_line(work, self.scan - self.offset, stop)
        if lf < 0:
            if n >= stop:
                return self._head_too_long(start)
            self.scan = self.offset + max(self.scan - self.offset, n - 2)
            return False
        block = bytes(work[start : lf + 1])
        head_start = self.head_start
        self.head_start = -1
        self.i = end
        self._on_head(block, head_start, self.offset + end)
        return True

    def _check_start_line(self, line: bytes, nl_rel: int) -> bool:
        """Parse the start line as soon as it is complete, so garbage is caught early."""
        why: str | None = None
        if self.is_client:
            req = parse_request_line(line)
            if req is None:
                why = "malformed request line"  # RFC 9112 §3
            elif req[2][5] != "1" and (req[0], req[2]) != ("PRI", "HTTP/2.0"):
                why = f"unsupported version {req[2]}"  # RFC 9112 §2.3
            self.start_line = req
        else:
            st = parse_status_line(line)
            if st is None:
                why = "malformed status line"  # RFC 9112 §4
            elif st[0][5] != "1":
                why = f"unsupported version {st[0]}"  # RFC 9112 §2.3
            elif not 100 <= st[1] <= 599:
                why = f"status code {st[1]} outside 100-599"  # RFC 9110 §15
            self.start_line = st
        if why is None:
            return True
        code = HTTP_BAD_REQUEST_LINE if self.is_client else HTTP_BAD_STATUS_LINE
        self.anomaly(code, f"{why}: {_preview(line)}", self.head_start)
        self._resync(nl_rel + 1, True, self.head_start)
        return False

    def _head_too_long(self, start: int) -> bool:
        limit = self.conn.max_head_bytes
        self.anomaly(HTTP_HEAD_TOO_LONG, f"message head longer than {limit} bytes", self.offset + start)
        self._resync(start + limit, False, self.offset + start)
        return True

    def _on_head(self, block: bytes, start: int, end: int) -> None:
        issues: list[Issue] = []
        plain = parse_plain_fields(block)
        if plain is not None:
            headers, bare = plain, False
        else:
            lines, offsets, bare = split_lines(block, start)
            headers, field_issues = parse_fields(lines[1:], offsets[1:])
            if bare:
                issues.append((HTTP_BARE_LF, "line ending is LF without CR", start))
            issues.extend(field_issues)
        sl = self.start_line
        self.start_line = None
        if self.is_client:
            assert sl is not None and isinstance(sl[1], str)
            method, target, version = sl[0], sl[1], sl[2]
            self.conn._request_head(self, method, target, version, headers, start, end, issues, bare)
        else:
            assert sl is not None and isinstance(sl[1], int)
            self.conn._response_head(self, sl[0], sl[1], sl[2], headers, start, end, issues, bare)

    def _begin(
        self,
        index: int | None,
        start: int,
        end: int,
        framing: Framing,
        pending: _Pending | None,
        switch: bool,
        bare: bool,
    ) -> None:
        """Start reading the body that `framing` describes (RFC 9112 §6.3)."""
        for code, message in framing.issues:
            self.anomaly(code, message, start)
        kind = framing.kind
        collector = None
        if kind in (BodyKind.LENGTH, BodyKind.CHUNKED, BodyKind.UNTIL_CLOSE) and not (
            kind is BodyKind.LENGTH and framing.length == 0
        ):
            conn = self.conn
            collector = BodyCollector(framing.codings, conn.max_body_bytes, conn.max_decoded_bytes)
        self.msg = _Message(index, start, end, collector, pending, switch, bare)
        end_rel = end - self.offset
        if kind is BodyKind.INVALID:
            # The end of this message cannot be known: look for the next one.
            self._done(end, truncated=True)
            self._resync(end_rel, True, end)
        elif collector is None:
            self._finish(end_rel)
        elif kind is BodyKind.LENGTH:
            self.left = framing.length
            self.state = _State.BODY
        elif kind is BodyKind.CHUNKED:
            self.state = _State.CHUNK_SIZE
        else:
            self.state = _State.UNTIL_CLOSE

    # -- message ends -----------------------------------------------------------

    def _done(self, end: int, truncated: bool = False) -> _Message:
        msg = self.msg
        assert msg is not None
        self.msg = None
        body = b""
        raw = 0
        if msg.collector is not None:
            body, cut, issues = msg.collector.finish()
            for code, message in issues:
                self.anomaly(code, message, msg.body_start)
            truncated = truncated or cut
            raw = msg.collector.raw_length
        self.conn.events.append(
            HttpMessageDone(self.direction, msg.index, body, raw, truncated, msg.start, end, msg.trailers)
        )
        return msg

    def _finish(self, end_rel: int) -> None:
        """A message ended normally at work[end_rel]: emit it, then hold or switch if due."""
        msg = self._done(self.offset + end_rel)
        self.i = end_rel
        self.state = _State.HEAD
        if self.is_client:
            if self.switch_pending:
                self._switch(end_rel)
            elif msg.pending is not None and msg.pending.wants_switch and msg.pending.outcome is None:
                # RFC 6455 §4.1: the client waits for the response before sending more.
                self.state = _State.HOLD
                self.hold = msg.pending
        elif msg.switch:
            self.conn._switch_client()
            self._switch(end_rel)

    def _switch(self, at_rel: int) -> None:
        work = self.work
        self.conn.events.append(Upgraded(self.direction, self.offset + at_rel, bytes(work[at_rel:])))
        self.state = _State.UPGRADED
        self.switch_pending = False
        self.i = len(work)

    def switch_now(self) -> None:
        """Switch while not running (client side, on the server's 101): buffered bytes go along."""
        self.conn.events.append(Upgraded(self.direction, self.offset, bytes(self.buf)))
        self.state = _State.UPGRADED
        self.buf = bytearray()
        self.hold = None

    def _note_bare_lf(self, at_rel: int) -> None:
        msg = self.msg
        if msg is not None and not msg.bare_lf_noted:
            msg.bare_lf_noted = True
            self.anomaly(HTTP_BARE_LF, "line ending is LF without CR", self.offset + at_rel)

    # -- bodies -------------------------------------------------------------------

    def _read_body(self) -> bool:
        work, i = self.work, self.i
        take = min(len(work) - i, self.left)
        if take:
            assert self.msg is not None and self.msg.collector is not None
            self.msg.collector.add(work, i, i + take)
            self.i = i = i + take
            self.left -= take
        if self.left:
            return False
        self._finish(i)
        return True

    def _read_until_close(self) -> bool:
        work, i = self.work, self.i
        assert self.msg is not None and self.msg.collector is not None
        self.msg.collector.add(work, i, len(work))
        self.i = len(work)
        return False

    def _read_chunk_size(self) -> bool:
        work, i, n = self.work, self.i, len(self.work)
        nl = work.find(b"\n", i, i + MAX_CHUNK_LINE)
        if nl < 0:
            if n - i >= MAX_CHUNK_LINE:
                return self._bad_chunk(i, f"chunk-size line longer than {MAX_CHUNK_LINE} bytes", i, True)
            return False
        end = line_end(work, nl)
        if end == nl:
            self._note_bare_lf(i)
        size = parse_chunk_size(work[i:end])
        if isinstance(size, str):
            # The line may be the next message's start line (a missing last-chunk).
            return self._bad_chunk(i, size, i, True)
        self.i = nl + 1
        if size:
            self.left = size
            self.state = _State.CHUNK_DATA
        else:
            self.state = _State.TRAILER  # RFC 9112 §7.1: last-chunk, then trailer-section
            self.scan = self.offset + nl + 1
        return True

    def _read_chunk_data(self) -> bool:
        work, i = self.work, self.i
        take = min(len(work) - i, self.left)
        if take:
            assert self.msg is not None and self.msg.collector is not None
            self.msg.collector.add(work, i, i + take)
            self.i = i + take
            self.left -= take
        if self.left:
            return False
        self.state = _State.CHUNK_END
        return True

    def _read_chunk_end(self) -> bool:
        work, i, n = self.work, self.i, len(self.work)
        if i >= n:
            return False
        if work[i] == _LF:
            self._note_bare_lf(i)
            self.i = i + 1
        elif work[i] == _CR:
            if i + 1 >= n:
                return False
            if work[i + 1] != _LF:
                return self._bad_chunk(i, "chunk data not followed by CRLF", i, False)
            self.i = i + 2
        else:
            # RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
            return self._bad_chunk(i, "chunk data not followed by CRLF", i, False)
        self.state = _State.CHUNK_SIZE
        return True

    def _read_trailer(self) -> bool:
        work, i, n = self.work, self.i, len(self.work)
        if i >= n:
            return False
        if work[i] == _LF:
            self._note_bare_lf(i)
            self._finish(i + 1)
            return True
        if work[i] == _CR:
            if i + 1 >= n:
                return False
            if work[i + 1] == _LF:
                self._finish(i + 2)
                return True
            return self._bad_chunk(i, "bare CR in the trailer section", i, True)
        stop = i + self.conn.max_head_bytes
        lf, end = find_blank_line(work, self.scan - self.offset, stop)
        if lf < 0:
            if n >= stop:
                return self._bad_chunk(i, "trailer section too long", stop, False)
            self.scan = self.offset + max(self.scan - self.offset, n - 2)
            return False
        lines, offsets, bare = split_lines(bytes(work[i : lf + 1]), self.offset + i)
        if bare:
            self._note_bare_lf(i)
        trailers, issues = parse_fields(lines, offsets)
        for code, message, offset in issues:
            self.anomaly(code, message, offset)
        assert self.msg is not None
        self.msg.trailers = trailers
        self._finish(end)
        return True

    def _bad_chunk(self, at_rel: int, why: str, resume_rel: int, at_line: bool) -> bool:
        at = self.offset + at_rel
        self.anomaly(HTTP_BAD_CHUNK, why, at)
        self._done(at, truncated=True)
        self._resync(resume_rel, at_line, at)
        return True

    # -- resynchronisation ----------------------------------------------------

    def _resync(self, at_rel: int, at_line: bool, skipped_from: int) -> None:
        self.state = _State.RESYNC
        self.i = at_rel
        self.scan = self.offset + at_rel
        self.resync_at_line = at_line
        self.resync_from = skipped_from
        self.head_start = -1
        self.start_line = None

    def _read_resync(self) -> bool:
        work, i, n = self.work, self.i, len(self.work)
        if self.is_client:
            here, after_lf = REQUEST_START, REQUEST_START_AFTER_LF
        else:
            here, after_lf = RESPONSE_START, RESPONSE_START_AFTER_LF
        found = -1
        if self.resync_at_line:
            # Judge the line at i once it can be judged: a long partial line is
            # searched for its LF incrementally, never re-matched on every feed.
            nl = work.find(b"\n", max(i, self.scan - self.offset))
            if nl < 0 and (self.is_client or n - i < _STATUS_PREFIX):
                if n - i > self.conn.max_head_bytes:
                    self.i = n
                    self.resync_at_line = False
                else:
                    self.scan = self.offset + n
                return False
            if here.match(work, i):
                found = i
        if found < 0:
            m = after_lf.search(work, i)
            if m is not None:
                found = m.start() + 1
        if found >= 0:
            skipped = self.offset + found - self.resync_from
            if skipped > 0:
                message = f"next message found after {skipped} skipped bytes"
                self.anomaly(HTTP_RESYNC, message, self.offset + found)
            self.i = found
            self.state = _State.HEAD
            return True
        # Keep only the last, incomplete line: it may still become a start line.
        last = work.rfind(b"\n", i)
        if last >= 0:
            self.i = last + 1
            self.resync_at_line = True
            self.scan = self.offset + last + 1
        else:
            self.i = n
            self.resync_at_line = False
        return False

    # -- gaps and the end of the stream ------------------------------------------

    def gap(self, n: int) -> None:
        if n <= 0 or self.ended or self.state in (_State.UPGRADED, _State.DEAD):
            return
        at = self.offset + len(self.buf) + self.hold_dropped
        state = self.state
        if state is not _State.RESYNC:
            self.anomaly(HTTP_STREAM_GAP, f"{n} bytes missing from the capture", at)
        msg = self.msg
        known_extent = state is _State.UNTIL_CLOSE or (
            state in (_State.BODY, _State.CHUNK_DATA) and n <= self.left
        )
        if msg is not None and msg.collector is not None and known_extent:
            # Inside a body of known extent: skip the bytes, the framing holds.
            msg.collector.skip(n)
            self.offset = at + n  # the buffer is empty inside a body
            if state is not _State.UNTIL_CLOSE:
                self.left -= n
                self._resume()
            return
        if state is _State.HOLD:
            self.hold_gap = True  # the held bytes before the gap are useless now
        elif msg is not None:
            self._done(at, truncated=True)
        if not self.is_client:
            self.conn._responses_lost = True  # whole responses may be in the gap: see _response_head
        if state is not _State.HOLD:
            self.state = _State.RESYNC
            # a message often starts right where the missing bytes end (whole segments are lost,
            # and messages start segments): the line there is judged like one after a LF
            self.resync_at_line = True
            self.resync_from = at + n
            self.head_start = self.lead_start = -1
            self.start_line = None
        self.buf = bytearray()
        self.hold_dropped = 0
        self.offset = at + n

    def end(self) -> None:
        if self.ended or self.state is _State.UPGRADED:
            return
        self.ended = True
        if self.state is _State.HOLD:
            return  # settled when the response arrives or the server side ends
        self.finish_stream()
        if not self.is_client:
            self.conn._server_ended()

    def finish_stream(self) -> None:
        state = self.state
        end = self.offset + len(self.buf)
        if state is _State.HEAD and self.head_start >= 0:
            self.anomaly(HTTP_TRUNCATED_MESSAGE, "stream ended inside a message head", self.head_start)
        elif self.msg is not None and state is _State.UNTIL_CLOSE:
            self._done(end)  # RFC 9112 §6.3 item 8: the close ends the body
        elif self.msg is not None:
            self.anomaly(HTTP_TRUNCATED_MESSAGE, "stream ended inside a message body", end)
            self._done(end, truncated=True)
        self.state = _State.DEAD
        self.buf = bytearray()


_READERS: dict[str, Callable[[_Side], bool]] = {
    _State.HEAD: _Side._read_head,
    _State.BODY: _Side._read_body,
    _State.UNTIL_CLOSE: _Side._read_until_close,
    _State.CHUNK_SIZE: _Side._read_chunk_size,
    _State.CHUNK_DATA: _Side._read_chunk_data,
    _State.CHUNK_END: _Side._read_chunk_end,
    _State.TRAILER: _Side._read_trailer,
    _State.RESYNC: _Side._read_resync,
}


class Http1Connection:
    """Both directions of one HTTP/1.x connection, requests paired with responses."""

    def __init__(
        self,
        *,
        max_head_bytes: int = 64 << 10,
        max_body_bytes: int = 8 << 20,
        max_decoded_bytes: int = 8 << 20,
        max_pending: int = 64,
    ) -> None:
        self.max_head_bytes = max(max_head_bytes, 16)
        self.max_body_bytes = max(max_body_bytes, 0)
        self.max_decoded_bytes = max(max_decoded_bytes, 0)
        self.max_pending = max(max_pending, 1)
        self.events: list[HttpEvent] = []
        self.c2s = _Side(self, Direction.C2S)
        self.s2c = _Side(self, Direction.S2C)
        self._pending: deque[_Pending] = deque()
        self._requests = 0
        self._pending_overflow = False
        self._responses_lost = False  # a gap on the response side since the last final response
        self._at = 0  # order key of the bytes being fed (feed's `at`)

    def release(self) -> None:
        """The connection is over: break the sides' references back to it (unusable afterwards)."""
        del self.c2s.conn, self.s2c.conn

    def _side(self, direction: Direction) -> _Side:
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
        return self._side(direction).state is _State.UPGRADED

    # -- pairing (called by the sides) ------------------------------------------

    def _request_head(
        self,
        side: _Side,
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
            side.state = _State.DEAD
            side.i = len(side.work)
            return
        # RFC 9110 §7.8: Upgrade only counts when Connection lists "upgrade".
        wants_switch = method == "CONNECT" or (
            header_value(headers, "upgrade") is not None and _connection_has_token(headers, "upgrade")
        )
        pending = None
        if len(self._pending) < self.max_pending:
            pending = _Pending(index, method, start, wants_switch, at=self._at)
            self._pending.append(pending)
        elif not self._pending_overflow:
            self._pending_overflow = True
            side.anomaly(HTTP_TOO_MANY_PENDING, f"more than {self.max_pending} requests pending", start)
        side._begin(index, start, end, request_framing(headers), pending, False, bare)

    def _response_head(
        self,
        side: _Side,
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
        entry: _Pending | None = None
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

    def _skip_lost_responses(self, side: _Side, start: int) -> None:
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

    def _refuse(self, entry: _Pending, status: int) -> None:
        """The upgrade was refused: what the client held is HTTP after all."""
        c = self.c2s
        if c.state is not _State.HOLD or c.hold is not entry:
            return  # still sending the request; it will not hold
        if entry.method != "CONNECT" and _masked_frame_header(c.buf):
            # RFC 6455 §4.1: without a 101 the connection is not a WebSocket (H4)
            c.anomaly(
                HANDSHAKE_NOT_101,
                f"the client sent WebSocket frames although its upgrade was answered {status}",
                c.offset,
            )
        c.hold = None
        c.state = _State.HEAD
        dropped = c.hold_dropped
        c.hold_dropped = 0
        if c.hold_gap:
            c.hold_gap = False
            c._resync(0, False, c.offset)
        c._resume()
        if dropped:
            c.gap(dropped)
        if c.ended and c.state is not _State.HOLD:
            c.finish_stream()

    def _switch_client(self) -> None:
        """The server switched protocols: so does the client, at its next message boundary."""
        c = self.c2s
        if c.state in (_State.HOLD, _State.HEAD, _State.RESYNC):
            c.switch_now()
        elif c.state not in (_State.UPGRADED, _State.DEAD):
            c.switch_pending = True  # mid-message: switch when it ends

    def _server_ended(self) -> None:
        for p in self._pending:
            self.c2s.anomaly(
                HTTP_UNANSWERED_REQUEST, f"request #{p.index} ({p.method}) got no response", p.start
            )
        self._pending.clear()
        c = self.c2s
        if c.state is _State.HOLD:
            held = len(c.buf) + c.hold_dropped
            if held:
                c.anomaly(HTTP_UNDECODED_BYTES, f"{held} bytes held after an unanswered upgrade", c.offset)
            c.state = _State.DEAD
            c.buf = bytearray()
            c.hold = None


def _masked_frame_header(buf: bytes | bytearray) -> bool:
    """Do the bytes start like a client's WebSocket frame (RFC 6455 §5.2: a defined opcode and
    the MASK bit)? A line of text never does: its second byte is ASCII, below 0x80."""
    return len(buf) >= 2 and buf[1] & 0x80 != 0 and buf[0] & 0x0F in (0, 1, 2, 8, 9, 10)
