"""One direction of an HTTP/1.x connection: the readers of start lines, heads, bodies and chunks,
resynchronisation, gaps and the end of the stream (sans-IO; see analyzer/protocols/http1.py).

`HttpSide` runs the reader its state names (`_READERS`) over the bytes it is fed; what needs
both directions (pairing responses with requests, upgrades) is its connection's business.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from analyzer.model.codes.http import (
    HTTP_BAD_REQUEST_LINE,
    HTTP_BAD_STATUS_LINE,
    HTTP_BARE_LF,
    HTTP_HEAD_TOO_LONG,
    HTTP_LEADING_EMPTY_LINE,
    HTTP_REQUEST_LINE_WHITESPACE,
    HTTP_RESYNC,
    HTTP_STREAM_GAP,
    HTTP_TRUNCATED_MESSAGE,
    HTTP_UPGRADE_HOLD_OVERFLOW,
)
from analyzer.model.common import Direction
from analyzer.protocols.http1_body import (
    BodyCollector,
    BodyKind,
    Framing,
)
from analyzer.protocols.http1_chunked import (
    read_body,
    read_chunk_data,
    read_chunk_end,
    read_chunk_size,
    read_trailer,
    read_until_close,
)
from analyzer.protocols.http1_events import HttpAnomaly, HttpMessageDone, Upgraded
from analyzer.protocols.http1_reader import (
    LEADING_EMPTY,
    REQUEST_START,
    RESPONSE_START,
    Issue,
    find_blank_line,
    line_end,
    parse_fields,
    parse_plain_fields,
    parse_request_line,
    parse_request_line_lenient,
    parse_status_line,
    split_lines,
)
from analyzer.protocols.http1_state import Message, Pending, State

if TYPE_CHECKING:
    from analyzer.protocols.http1 import Http1Connection

__all__ = ["HttpSide"]

_CR = 0x0D
_LF = 0x0A
_STATUS_PREFIX = len(b"HTTP/1.1 200 ")  # enough bytes to tell a status line (RESPONSE_START)


def _preview(line: bytes) -> str:
    return repr(line[:60])[1:] + ("..." if len(line) > 60 else "")


class HttpSide:
    """The parser state of one direction. Runs readers chosen by state from `_READERS`."""

    __deletable__ = ("conn",)  # Http1Connection.release breaks the cycle (compiled: mypyc wants this)

    def __init__(self, conn: Http1Connection, direction: Direction) -> None:
        self.conn = conn
        self.direction = direction
        self.is_client = direction is Direction.C2S
        self.state = State.HEAD
        self.buf = bytearray()  # bytes not consumed yet; buf[0] is at stream offset `offset`
        self.offset = 0
        self.work: bytes | bytearray = b""  # while running: buf (+ new data) or the new data itself
        self.i = 0  # read position in `work`
        self.scan = 0  # stream offset where the search for a line end resumes
        self.head_start = -1  # stream offset of the start line being read, -1 before one starts
        self.lead_start = -1  # stream offset of empty lines skipped before a start line
        self.start_line: tuple[str, str, str] | tuple[str, int, str] | None = None
        self.msg: Message | None = None
        self.left = 0  # body or chunk bytes still expected
        self.resync_from = 0
        self.ended = False  # eof() was called
        self.switch_pending = False  # client: switch once the current message ends
        self.hold: Pending | None = None
        self.hold_dropped = 0
        self.hold_gap = False

    # -- plumbing -------------------------------------------------------------

    def anomaly(self, code: str, message: str, offset: int) -> None:
        self.conn.events.append(HttpAnomaly(self.direction, code, message, offset))

    def feed(self, data: bytes | bytearray) -> None:
        if self.ended or self.state in (State.UPGRADED, State.DEAD) or not data:
            return
        if self.state is State.HOLD:
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
        if self.state in (State.UPGRADED, State.DEAD):
            self.buf = bytearray()
            return
        if self.state is State.HOLD:
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
            if not self._check_start_line(line):
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

    def _check_start_line(self, line: bytes) -> bool:
        """Parse the start line as soon as it is complete, so garbage is caught early."""
        why: str | None = None
        if self.is_client:
            req = parse_request_line(line)
            if req is None:
                req = parse_request_line_lenient(line)
                if req is not None:
                    # RFC 9112 §3: read on whitespace as tshark does, never dropped; flagged
                    self.anomaly(
                        HTTP_REQUEST_LINE_WHITESPACE,
                        f"request line parts not separated by single SPs: {_preview(line)}",
                        self.head_start,
                    )
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
        self._resync(self.head_start - self.offset + 1, self.head_start)
        return False

    def _head_too_long(self, start: int) -> bool:
        limit = self.conn.max_head_bytes
        self.anomaly(HTTP_HEAD_TOO_LONG, f"message head longer than {limit} bytes", self.offset + start)
        self._resync(start + limit, self.offset + start)
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
        pending: Pending | None,
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
            collector = BodyCollector(
                framing.codings, conn.max_body_bytes, conn.max_decoded_bytes, conn.inflate_budget
            )
        self.msg = Message(index, start, end, collector, pending, switch, bare)
        end_rel = end - self.offset
        if kind is BodyKind.INVALID:
            # The end of this message cannot be known: look for the next one.
            self._done(end, truncated=True)
            self._resync(end_rel, end)
        elif collector is None:
            self._finish(end_rel)
        elif kind is BodyKind.LENGTH:
            self.left = framing.length
            self.state = State.BODY
        elif kind is BodyKind.CHUNKED:
            self.state = State.CHUNK_SIZE
        else:
            self.state = State.UNTIL_CLOSE

    # -- message ends -----------------------------------------------------------

    def _done(self, end: int, truncated: bool = False) -> Message:
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
        self.state = State.HEAD
        if self.is_client:
            if self.switch_pending:
                self._switch(end_rel)
            elif msg.pending is not None and msg.pending.wants_switch and msg.pending.outcome is None:
                # RFC 6455 §4.1: the client waits for the response before sending more.
                self.state = State.HOLD
                self.hold = msg.pending
        elif msg.switch:
            self.conn._switch_client()
            self._switch(end_rel)

    def _switch(self, at_rel: int) -> None:
        work = self.work
        self.conn.events.append(Upgraded(self.direction, self.offset + at_rel, bytes(work[at_rel:])))
        self.state = State.UPGRADED
        self.switch_pending = False
        self.i = len(work)

    def switch_now(self) -> None:
        """Switch while not running (client side, on the server's 101): buffered bytes go along."""
        self.conn.events.append(Upgraded(self.direction, self.offset, bytes(self.buf)))
        self.state = State.UPGRADED
        self.buf = bytearray()
        self.hold = None

    def _note_bare_lf(self, at_rel: int) -> None:
        msg = self.msg
        if msg is not None and not msg.bare_lf_noted:
            msg.bare_lf_noted = True
            self.anomaly(HTTP_BARE_LF, "line ending is LF without CR", self.offset + at_rel)

    # -- resynchronisation ----------------------------------------------------

    def _resync(self, at_rel: int, skipped_from: int) -> None:
        self.state = State.RESYNC
        self.i = at_rel
        self.scan = self.offset + at_rel
        self.resync_from = skipped_from
        self.head_start = -1
        self.start_line = None

    def _read_resync(self) -> bool:
        """Skip to the next plausible start line (RFC 9112 §2.2: a recipient that lost the
        framing looks for one): a whole request line with a well-known method, or a status line
        prefix, wherever it begins. Not only after a LF: a body that ran past its framing (or
        whose start was not captured) often ends without one, right before the next message.
        Searched incrementally, so a long stream of garbage is read once."""
        work, i, n = self.work, self.i, len(self.work)
        if self.is_client:
            # a request line ends with its LF: search the complete lines not searched yet
            lf = work.rfind(b"\n", max(i, self.scan - self.offset), n)
            m = None
            while lf >= 0:
                m = REQUEST_START.search(work, i, lf + 1)
                if m is None or m.end() - m.start() <= self.conn.max_head_bytes:
                    break
                i = m.start() + 1  # a start line longer than a head may be is not one
            if m is None:
                # keep the incomplete last line (bounded: a longer one cannot start a head)
                keep = lf + 1 if lf >= 0 else i
                self.i = max(keep, n - self.conn.max_head_bytes)
                self.scan = self.offset + n
                return False
        else:
            m = RESPONSE_START.search(work, i)
            if m is None:
                self.i = max(i, n - _STATUS_PREFIX + 1)  # the longest partial match is kept
                return False
        found = m.start()
        skipped = self.offset + found - self.resync_from
        if skipped > 0:
            message = f"next message found after {skipped} skipped bytes"
            self.anomaly(HTTP_RESYNC, message, self.offset + found)
        self.i = found
        self.state = State.HEAD
        return True

    def start_midstream(self) -> None:
        """The stream was captured from its middle: its first bytes may be the rest of a
        message. Look for the first start line as after a gap; what comes before it is
        skipped (`http.resync`), not a malformed start line."""
        self._resync(0, 0)

    # -- gaps and the end of the stream ------------------------------------------

    def gap(self, n: int) -> None:
        if n <= 0 or self.ended or self.state in (State.UPGRADED, State.DEAD):
            return
        at = self.offset + len(self.buf) + self.hold_dropped
        state = self.state
        if state is not State.RESYNC:
            self.anomaly(HTTP_STREAM_GAP, f"{n} bytes missing from the capture", at)
        msg = self.msg
        known_extent = state is State.UNTIL_CLOSE or (
            state in (State.BODY, State.CHUNK_DATA) and n <= self.left
        )
        if msg is not None and msg.collector is not None and known_extent:
            # Inside a body of known extent: skip the bytes, the framing holds.
            msg.collector.skip(n)
            self.offset = at + n  # the buffer is empty inside a body
            if state is not State.UNTIL_CLOSE:
                self.left -= n
                self._resume()
            return
        if state is State.HOLD:
            self.hold_gap = True  # the held bytes before the gap are useless now
        elif msg is not None:
            self._done(at, truncated=True)
        if not self.is_client:
            self.conn._responses_lost = True  # whole responses may be in the gap: see _response_head
        if state is not State.HOLD:
            self.state = State.RESYNC  # the next message may start right where the bytes resume
            self.scan = at + n
            self.resync_from = at + n
            self.head_start = self.lead_start = -1
            self.start_line = None
        self.buf = bytearray()
        self.hold_dropped = 0
        self.offset = at + n

    def end(self) -> None:
        if self.ended or self.state is State.UPGRADED:
            return
        self.ended = True
        if self.state is State.HOLD:
            return  # settled when the response arrives or the server side ends
        self.finish_stream()
        if not self.is_client:
            self.conn._server_ended()

    def finish_stream(self) -> None:
        state = self.state
        end = self.offset + len(self.buf)
        if state is State.HEAD and self.head_start >= 0:
            self.anomaly(HTTP_TRUNCATED_MESSAGE, "stream ended inside a message head", self.head_start)
        elif self.msg is not None and state is State.UNTIL_CLOSE:
            self._done(end)  # RFC 9112 §6.3 item 8: the close ends the body
        elif self.msg is not None:
            self.anomaly(HTTP_TRUNCATED_MESSAGE, "stream ended inside a message body", end)
            self._done(end, truncated=True)
        self.state = State.DEAD
        self.buf = bytearray()


_READERS: dict[str, Callable[[HttpSide], bool]] = {
    State.HEAD: HttpSide._read_head,
    State.BODY: read_body,
    State.UNTIL_CLOSE: read_until_close,
    State.CHUNK_SIZE: read_chunk_size,
    State.CHUNK_DATA: read_chunk_data,
    State.CHUNK_END: read_chunk_end,
    State.TRAILER: read_trailer,
    State.RESYNC: HttpSide._read_resync,
}
