"""The body readers of an HTTP/1.x direction (analyzer/protocols/http1_side.py): Content-Length,
until the end of the stream, and chunked with its trailer section (RFC 9112 §6.3, §7.1), sans-IO.

Each reader works on the side's buffer (`work` from `i`) and returns whether it made progress
and another reader should run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analyzer.model.codes.http import HTTP_BAD_CHUNK
from analyzer.protocols.http1_body import MAX_CHUNK_LINE, parse_chunk_size
from analyzer.protocols.http1_reader import find_blank_line, line_end, parse_fields, split_lines
from analyzer.protocols.http1_state import State

if TYPE_CHECKING:
    from analyzer.protocols.http1_side import HttpSide

__all__ = [
    "read_body",
    "read_chunk_data",
    "read_chunk_end",
    "read_chunk_size",
    "read_trailer",
    "read_until_close",
]

_CR = 0x0D
_LF = 0x0A


def read_body(side: HttpSide) -> bool:
    work, i = side.work, side.i
    take = min(len(work) - i, side.left)
    if take:
        assert side.msg is not None and side.msg.collector is not None
        side.msg.collector.add(work, i, i + take)
        side.i = i = i + take
        side.left -= take
    if side.left:
        return False
    side._finish(i)
    return True


def read_until_close(side: HttpSide) -> bool:
    work, i = side.work, side.i
    assert side.msg is not None and side.msg.collector is not None
    side.msg.collector.add(work, i, len(work))
    side.i = len(work)
    return False


def read_chunk_size(side: HttpSide) -> bool:
    work, i, n = side.work, side.i, len(side.work)
    nl = work.find(b"\n", i, i + MAX_CHUNK_LINE)
    if nl < 0:
        if n - i >= MAX_CHUNK_LINE:
            return bad_chunk(side, i, f"chunk-size line longer than {MAX_CHUNK_LINE} bytes", i)
        return False
    end = line_end(work, nl)
    if end == nl:
        side._note_bare_lf(i)
    size = parse_chunk_size(work[i:end])
    if isinstance(size, str):
        # The line may be the next message's start line (a missing last-chunk).
        return bad_chunk(side, i, size, i)
    side.i = nl + 1
    if size:
        side.left = size
        side.state = State.CHUNK_DATA
    else:
        side.state = State.TRAILER  # RFC 9112 §7.1: last-chunk, then trailer-section
        side.scan = side.offset + nl + 1
    return True


def read_chunk_data(side: HttpSide) -> bool:
    work, i = side.work, side.i
    take = min(len(work) - i, side.left)
    if take:
        assert side.msg is not None and side.msg.collector is not None
        side.msg.collector.add(work, i, i + take)
        side.i = i + take
        side.left -= take
    if side.left:
        return False
    side.state = State.CHUNK_END
    return True


_NEED_MORE, _BARE_CR, _NOT_EOL = 0, -1, -2


def _line_end(side: HttpSide, i: int) -> int:
    """At work[i] (which exists): the index after a CRLF or a bare LF (noted, RFC 9112 §2.2),
    _NEED_MORE when a CR is the last byte, _BARE_CR for a CR without LF, else _NOT_EOL."""
    work = side.work
    if work[i] == _LF:
        side._note_bare_lf(i)
        return i + 1
    if work[i] != _CR:
        return _NOT_EOL
    if i + 1 >= len(work):
        return _NEED_MORE
    return i + 2 if work[i + 1] == _LF else _BARE_CR


def read_chunk_end(side: HttpSide) -> bool:
    i = side.i
    if i >= len(side.work):
        return False
    end = _line_end(side, i)
    if end == _NEED_MORE:
        return False
    if end < 0:  # RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
        return bad_chunk(side, i, "chunk data not followed by CRLF", i)
    side.i = end
    side.state = State.CHUNK_SIZE
    return True


def read_trailer(side: HttpSide) -> bool:
    work, i, n = side.work, side.i, len(side.work)
    if i >= n:
        return False
    end = _line_end(side, i)
    if end == _NEED_MORE:
        return False
    if end > 0:  # no trailer fields: the empty line ends the message
        side._finish(end)
        return True
    if end == _BARE_CR:
        return bad_chunk(side, i, "bare CR in the trailer section", i)
    stop = i + side.conn.max_head_bytes
    lf, end = find_blank_line(work, side.scan - side.offset, stop)
    if lf < 0:
        if n >= stop:
            return bad_chunk(side, i, "trailer section too long", stop)
        side.scan = side.offset + max(side.scan - side.offset, n - 2)
        return False
    lines, offsets, bare = split_lines(bytes(work[i : lf + 1]), side.offset + i)
    if bare:
        side._note_bare_lf(i)
    trailers, issues = parse_fields(lines, offsets)
    for code, message, offset in issues:
        side.anomaly(code, message, offset)
    assert side.msg is not None
    side.msg.trailers = trailers
    side._finish(end)
    return True


def bad_chunk(side: HttpSide, at_rel: int, why: str, resume_rel: int) -> bool:
    at = side.offset + at_rel
    side.anomaly(HTTP_BAD_CHUNK, why, at)
    side._done(at, truncated=True)
    side._resync(resume_rel, at)
    return True
