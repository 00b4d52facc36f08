"""Tests of the passive HTTP/1.x parser (analyzer/protocols/http1.py).

Every scenario is a script of feed / gap / eof operations on both directions.
Each is run whole, one byte at a time, and with random splits; the events must
be the same every time. Expected values come from RFC 9110 / RFC 9112 (or the
Engine.IO protocol for the polling exchange), with offsets computed from the
byte literals, never copied from the parser's output.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import analyzer.model.codes.http as http_codes
from analyzer.model.common import Direction, Layer, ParserAnomaly
from analyzer.model.registry import REGISTRY
from analyzer.protocols.http1 import (
    Http1Connection,
    HttpAnomaly,
    HttpEvent,
    HttpMessageDone,
    HttpRequestHead,
    HttpResponseHead,
    Upgraded,
)
from analyzer.protocols.http1_body import parse_chunk_size
from analyzer.protocols.http1_reader import parse_fields

C2S = Direction.C2S
S2C = Direction.S2C

Op = tuple[str, Direction, bytes | int | None]
Splitter = Callable[[bytes], list[bytes]]


def feed(d: Direction, data: bytes) -> Op:
    return ("feed", d, data)


def gap(d: Direction, n: int) -> Op:
    return ("gap", d, n)


def eof(d: Direction) -> Op:
    return ("eof", d, None)


def whole(data: bytes) -> list[bytes]:
    return [data]


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def run(ops: Sequence[Op], split: Splitter = whole, **bounds: int) -> list[HttpEvent]:
    """Play a script; bytes fed after a direction's `Upgraded` are appended to its data.

    That is what the pipeline does (it hands later bytes to the next protocol), and it
    makes the events comparable however the input was split.
    """
    conn = Http1Connection(**bounds)
    out: list[HttpEvent] = []
    after = {C2S: b"", S2C: b""}
    for kind, d, arg in ops:
        if kind == "feed":
            assert isinstance(arg, bytes)
            for piece in split(arg):
                if conn.is_upgraded(d):
                    after[d] += piece
                out += conn.feed(d, piece)
        elif kind == "gap":
            assert isinstance(arg, int)
            out += conn.gap(d, arg)
        else:
            out += conn.eof(d)
    return [
        Upgraded(e.direction, e.offset, e.data + after[e.direction]) if isinstance(e, Upgraded) else e
        for e in out
    ]


MODES = {"whole": whole, "bytewise": bytewise}


@pytest.fixture(params=sorted(MODES))
def split(request: pytest.FixtureRequest) -> Splitter:
    return MODES[request.param]


def codes(events: list[HttpEvent]) -> list[str]:
    return [e.code for e in events if isinstance(e, HttpAnomaly)]


def of(events: list[HttpEvent], cls: type) -> list:  # type: ignore[type-arg]
    return [e for e in events if isinstance(e, cls)]


def done(events: list[HttpEvent], d: Direction) -> list[HttpMessageDone]:
    return [e for e in events if isinstance(e, HttpMessageDone) and e.direction is d]


# --- simple exchange, trailing data ---------------------------------------------------------------

REQ_GET = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nX-Mixed-Case: a  b \r\n\r\n"
RESP_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"


def test_simple_exchange(split: Splitter) -> None:
    ev = run([feed(C2S, REQ_GET), feed(S2C, RESP_OK), eof(C2S), eof(S2C)], split)
    head_len = RESP_OK.index(b"\r\n\r\n") + 4
    assert ev == [
        # RFC 9112 §5: OWS around the value is not part of it; names keep their case.
        HttpRequestHead(
            "GET",
            "/index.html",
            "HTTP/1.1",
            (("Host", "example.com"), ("X-Mixed-Case", "a  b")),
            0,
            len(REQ_GET),
            0,
        ),
        HttpMessageDone(C2S, 0, b"", 0, False, 0, len(REQ_GET)),
        HttpResponseHead(
            "HTTP/1.1", 200, "OK", (("Content-Length", "5"), ("Content-Type", "text/plain")), 0, head_len, 0
        ),
        HttpMessageDone(S2C, 0, b"hello", 5, False, 0, len(RESP_OK)),
    ]


def test_trailing_data_is_not_swallowed(split: Splitter) -> None:
    post = b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
    tail = b"GET /next HTTP/1.1\r\nHo"
    ev = run([feed(C2S, post + tail)], split)
    assert [type(e) for e in ev] == [HttpRequestHead, HttpMessageDone]
    assert ev[1] == HttpMessageDone(C2S, 0, b"abc", 3, False, 0, len(post))
    # The rest completes later and starts exactly after the body.
    ev = run([feed(C2S, post + tail), feed(C2S, b"st: x\r\n\r\n")], split)
    heads = of(ev, HttpRequestHead)
    assert [(h.target, h.start, h.index) for h in heads] == [("/a", 0, 0), ("/next", len(post), 1)]
    # An unfinished head at the end of the stream is reported where it starts.
    ev = run([feed(C2S, post + tail), eof(C2S)], split)
    assert ev[-1] == HttpAnomaly(C2S, http_codes.HTTP_TRUNCATED_MESSAGE, ev[-1].message, len(post))  # type: ignore[union-attr]


def test_response_head_has_trailing_frames_kept_separate(split: Splitter) -> None:
    resp = b"HTTP/1.1 204 No Content\r\n\r\n"
    ev = run([feed(C2S, REQ_GET), feed(S2C, resp + b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nZ")], split)
    d = done(ev, S2C)
    assert [(m.start, m.end, m.body) for m in d] == [(0, len(resp), b""), (len(resp), len(resp) + 39, b"Z")]


# --- pipelining, HEAD / 1xx / 204 / 304 --------------------------------------------------------------


def test_pipelining_pairs_in_order_and_head_has_no_body(split: Splitter) -> None:
    reqs = (
        b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
        b"HEAD /2 HTTP/1.1\r\nHost: h\r\n\r\n"
        b"POST /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcd"
        b"GET /4 HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    resps = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
        # RFC 9112 §6.3 item 1: a response to HEAD ends with its header section.
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nthree"
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"
    )
    ev = run([feed(C2S, reqs), feed(S2C, resps), eof(C2S), eof(S2C)], split)
    assert codes(ev) == []
    assert [h.index for h in of(ev, HttpRequestHead)] == [0, 1, 2, 3]
    assert [(r.status, r.request_index) for r in of(ev, HttpResponseHead)] == [
        (200, 0),
        (200, 1),
        (201, 2),
        (304, 3),
    ]
    assert [(m.index, m.body) for m in done(ev, C2S)] == [(0, b""), (1, b""), (2, b"abcd"), (3, b"")]
    assert [(m.index, m.body) for m in done(ev, S2C)] == [(0, b"one"), (1, b""), (2, b"three"), (3, b"")]
    assert done(ev, S2C)[-1].end == len(resps)


def test_interim_responses_do_not_consume_the_request(split: Splitter) -> None:
    req = b"PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"
    resp = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
        b"HTTP/1.1 204 No Content\r\n\r\n"
    )
    ev = run([feed(C2S, req), feed(S2C, resp), eof(S2C)], split)
    assert [(r.status, r.request_index) for r in of(ev, HttpResponseHead)] == [(100, 0), (103, 0), (204, 0)]
    assert [m.body for m in done(ev, S2C)] == [b"", b"", b""]
    assert codes(ev) == []  # the request was answered by the 204


def test_read_until_close(split: Splitter) -> None:
    # RFC 9112 §6.3 item 8: no Content-Length, no chunked: the body ends with the connection.
    head = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n"
    ev = run([feed(C2S, REQ_GET), feed(S2C, head + b"<html>"), feed(S2C, b"</html>")], split)
    assert done(ev, S2C) == []
    ev = run([feed(C2S, REQ_GET), feed(S2C, head + b"<html>"), feed(S2C, b"</html>"), eof(S2C)], split)
    n = len(head) + 13
    assert done(ev, S2C) == [HttpMessageDone(S2C, 0, b"<html></html>", 13, False, 0, n)]
    assert codes(ev) == []


def test_request_without_length_has_no_body(split: Splitter) -> None:
    # RFC 9112 §6.3 item 6: bytes after a GET head are the next request.
    ev = run([feed(C2S, b"GET / HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n")], split)
    assert [h.target for h in of(ev, HttpRequestHead)] == ["/", "/b"]


# --- chunked ------------------------------------------------------------------------------------------

CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
    b"4;name=value\r\nWiki\r\n"
    b'5 ; q="quoted \\" str" ; flag\r\npedia\r\n'
    b"E\r\n in\r\n\r\nchunks.\r\n"
    b"000;last\r\n"
    b"X-Sum: 42\r\nX-Other:  z \r\n\r\n"
)


def test_chunked_with_extensions_and_trailers(split: Splitter) -> None:
    ev = run(
        [feed(C2S, REQ_GET * 2), feed(S2C, CHUNKED + b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")], split
    )
    assert codes(ev) == []
    d = done(ev, S2C)
    # RFC 9112 §7.1.3 decoding example; chunk-ext ignored, trailer fields kept.
    assert d[0] == HttpMessageDone(
        S2C,
        0,
        b"Wikipedia in\r\n\r\nchunks.",
        23,
        False,
        0,
        len(CHUNKED),
        (("X-Sum", "42"), ("X-Other", "z")),
    )
    assert d[1].start == len(CHUNKED) and d[1].index == 1
    assert codes(run([feed(S2C, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")])) == [
        http_codes.HTTP_RESPONSE_WITHOUT_REQUEST
    ]


def test_chunked_request_and_bare_lf(split: Splitter) -> None:
    req = b"POST /c HTTP/1.1\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n"
    ev = run([feed(C2S, req)], split)
    d = done(ev, C2S)
    assert d == [HttpMessageDone(C2S, 0, b"abc", 3, False, 0, len(req))]
    # RFC 9112 §2.2: bare LF tolerated, noted once per message.
    assert codes(ev) == [http_codes.HTTP_BARE_LF]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"zz\r\nabc\r\n0\r\n\r\n", "malformed"),
        (b"3\r\nabcX\r\n0\r\n\r\n", "CRLF"),
        (b"1" * 17 + b"\r\n", "too large"),
        (b"3;=bad\r\nabc\r\n0\r\n\r\n", "malformed"),
    ],
)
def test_bad_chunk(split: Splitter, body: bytes, why: str) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    nxt = b"HTTP/1.1 204 No Content\r\n\r\n"
    ev = run([feed(C2S, REQ_GET + REQ_GET), feed(S2C, head + body + b"\r\n" + nxt)], split)
    bad = [e for e in ev if isinstance(e, HttpAnomaly) and e.code == http_codes.HTTP_BAD_CHUNK]
    assert len(bad) == 1 and why in bad[0].message
    first = done(ev, S2C)[0]
    assert first.body_truncated
    # The parser resynchronises on the next status line.
    assert [r.status for r in of(ev, HttpResponseHead)] == [200, 204]


def test_missing_last_chunk_resyncs_on_the_status_line(split: Splitter) -> None:
    resp1 = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n"
    resp2 = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    ev = run([feed(C2S, REQ_GET + REQ_GET), feed(S2C, resp1 + resp2)], split)
    assert codes(ev) == [http_codes.HTTP_BAD_CHUNK]
    d = done(ev, S2C)
    assert (d[0].body, d[0].body_truncated, d[0].end) == (b"ab", True, len(resp1))
    assert (d[1].body, d[1].start, d[1].index) == (b"ok", len(resp1), 1)


def test_parse_chunk_size() -> None:
    assert parse_chunk_size(b"1a") == 26
    assert parse_chunk_size(b"0") == 0
    assert parse_chunk_size(b"00000000000000000000001") == 1  # leading zeros do not count
    assert parse_chunk_size(b'A;a=b;c="d;e"') == 10
    assert isinstance(parse_chunk_size(b""), str)
    assert isinstance(parse_chunk_size(b"-1"), str)
    assert isinstance(parse_chunk_size(b"1 2"), str)


# --- content codings ------------------------------------------------------------------------------------

TEXT = b'0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"]}' * 20


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize(
    ("coding", "encoded"),
    [
        ("gzip", gzip.compress(TEXT)),
        ("x-gzip", gzip.compress(TEXT)),
        ("deflate", zlib.compress(TEXT)),  # RFC 9110 §8.4.1.2: zlib format
        ("deflate", _raw_deflate(TEXT)),  # raw deflate, as some servers send it
        ("gzip", gzip.compress(TEXT[:500]) + gzip.compress(TEXT[500:])),  # RFC 1952 §2.2: members
        ("identity", TEXT),
    ],
)
def test_content_encoding_decoded(split: Splitter, coding: str, encoded: bytes) -> None:
    resp = b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n" % (
        coding.encode(),
        len(encoded),
    )
    ev = run([feed(C2S, REQ_GET), feed(S2C, resp + encoded)], split)
    assert codes(ev) == []
    assert done(ev, S2C) == [HttpMessageDone(S2C, 0, TEXT, len(encoded), False, 0, len(resp) + len(encoded))]


def test_gzip_inside_chunked(split: Splitter) -> None:
    enc = gzip.compress(TEXT)
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(enc[i : i + 100]), enc[i : i + 100]) for i in range(0, len(enc), 100)
    )
    resp = (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunks
        + b"0\r\n\r\n"
    )
    ev = run([feed(C2S, REQ_GET), feed(S2C, resp)], split)
    assert codes(ev) == []
    assert done(ev, S2C)[0].body == TEXT
    assert done(ev, S2C)[0].raw_body_length == len(enc)


def test_zip_bomb_is_bounded() -> None:
    bomb = gzip.compress(b"\0" * (4 << 20))  # ~4 KiB expanding to 4 MiB
    resp = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb) + bomb
    ev = run([feed(C2S, REQ_GET), feed(S2C, resp), eof(S2C)], max_decoded_bytes=1000)
    (d,) = done(ev, S2C)
    assert d.body == b"\0" * 1000 and d.body_truncated and d.raw_body_length == len(bomb)
    assert codes(ev) == [http_codes.HTTP_DECODED_TOO_LONG]


def test_decoded_bodies_past_the_inflate_budget_are_dropped() -> None:
    """docs/bounds.md: a connection's decoded bodies share its inflate budget (issue #16)."""
    from analyzer.protocols.deflate import InflateBudget

    bomb = gzip.compress(b"\0" * (1 << 20))  # about 1 KiB expanding to 1 MiB
    resp = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb) + bomb
    budget = InflateBudget(1 << 30).child(1 << 20)  # one body fits
    ops = [feed(C2S, REQ_GET * 3), feed(S2C, resp * 3), eof(S2C)]
    ev = run(ops, inflate_budget=budget)  # type: ignore[arg-type]  # (**bounds: int)
    first, second, third = done(ev, S2C)
    assert first.body == b"\0" * (1 << 20) and not first.body_truncated
    for d in (second, third):
        assert (d.body, d.body_truncated, d.raw_body_length) == (b"", True, len(bomb))
    assert codes(ev) == [http_codes.HTTP_INFLATE_BUDGET_EXCEEDED]


@pytest.mark.parametrize(
    ("encoded", "expect"),
    [
        (b"not gzip at all", http_codes.HTTP_DECODE_FAILED),
        (gzip.compress(TEXT)[:-12], http_codes.HTTP_DECODE_FAILED),  # ends early
        (gzip.compress(TEXT) + b"junk", http_codes.HTTP_DECODE_FAILED),  # bytes after the stream
    ],
)
def test_decode_failures(split: Splitter, encoded: bytes, expect: str) -> None:
    resp = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(encoded)
    ev = run([feed(C2S, REQ_GET * 2), feed(S2C, resp + encoded + RESP_OK), eof(S2C)], split)
    assert codes(ev) == [expect]
    assert [m.body for m in done(ev, S2C)][1] == b"hello"  # framing is unaffected


def test_unsupported_coding_is_kept(split: Splitter) -> None:
    resp = b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 3\r\n\r\n\x8b\x01\x80"
    ev = run([feed(C2S, REQ_GET), feed(S2C, resp)], split)
    assert codes(ev) == [http_codes.HTTP_UNSUPPORTED_CODING]
    assert done(ev, S2C)[0].body == b"\x8b\x01\x80"


def test_body_bound() -> None:
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100 + RESP_OK
    ev = run([feed(C2S, REQ_GET + REQ_GET), feed(S2C, resp)], max_body_bytes=10)
    d = done(ev, S2C)
    assert (d[0].body, d[0].raw_body_length, d[0].body_truncated) == (b"x" * 10, 100, True)
    assert d[1].body == b"hello"
    assert codes(ev) == [http_codes.HTTP_BODY_TOO_LONG]


# --- framing errors --------------------------------------------------------------------------------------


def test_te_and_cl_uses_chunked(split: Splitter) -> None:
    # RFC 9112 §6.3 item 3: Transfer-Encoding overrides Content-Length.
    req = b"POST / HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"
    ev = run([feed(C2S, req + REQ_GET)], split)
    assert codes(ev) == [http_codes.HTTP_TE_AND_CL]
    assert [m.body for m in done(ev, C2S)] == [b"x", b""]


@pytest.mark.parametrize(
    "header",
    [
        b"Content-Length: 12a",
        b"Content-Length: 5\r\nContent-Length: 6",
        b"Content-Length: \xb2",
        b"Content-Length: 9" * 30,
    ],
)
def test_bad_content_length_resyncs(split: Splitter, header: bytes) -> None:
    req = b"POST /x HTTP/1.1\r\n" + header + b"\r\n\r\nbody bytes\r\n"
    ev = run([feed(C2S, req + REQ_GET)], split)
    assert codes(ev)[0] == http_codes.HTTP_BAD_CONTENT_LENGTH
    assert done(ev, C2S)[0].body_truncated
    assert [h.target for h in of(ev, HttpRequestHead)] == ["/x", "/index.html"]


def test_request_te_without_chunked(split: Splitter) -> None:
    # RFC 9112 §6.3 item 4: the length of such a request cannot be determined.
    ev = run([feed(C2S, b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n")], split)
    assert codes(ev) == [http_codes.HTTP_BAD_TRANSFER_ENCODING]


# --- heads: tolerance and garbage --------------------------------------------------------------------------


def test_obs_fold_leading_crlf_and_bad_headers(split: Splitter) -> None:
    req = (
        b"\r\n\r\nGET / HTTP/1.1\r\nX-Long: one\r\n  two\r\n\tthree\r\n"
        b"Bad Name: x\r\nHost : y\r\nnocolon\r\nOk: 1\r\n\r\n"
    )
    ev = run([feed(C2S, req)], split)
    (h,) = of(ev, HttpRequestHead)
    assert h.start == 4 and h.end == len(req)
    assert h.headers == (("X-Long", "one two three"), ("Ok", "1"))
    # RFC 9112 §2.2: empty lines before a request line are ignored without a note.
    assert codes(ev) == [http_codes.HTTP_OBS_FOLD] + [http_codes.HTTP_BAD_HEADER] * 3


def test_empty_line_before_status_line_is_noted(split: Splitter) -> None:
    ev = run([feed(C2S, REQ_GET), feed(S2C, b"\r\n" + RESP_OK)], split)
    assert codes(ev) == [http_codes.HTTP_LEADING_EMPTY_LINE]
    assert of(ev, HttpResponseHead)[0].start == 2


def test_garbage_gives_one_anomaly_then_resyncs(split: Splitter) -> None:
    garbage = bytes(range(256)) * 8 + b"\r\n"  # contains LFs and "\n\n"; ends a line
    ev = run([feed(C2S, garbage), feed(C2S, garbage), feed(C2S, REQ_GET)], split)
    assert codes(ev) == [http_codes.HTTP_BAD_REQUEST_LINE, http_codes.HTTP_RESYNC]
    (h,) = of(ev, HttpRequestHead)
    assert h.start == 2 * len(garbage)
    resync = [e for e in ev if isinstance(e, HttpAnomaly) and e.code == http_codes.HTTP_RESYNC]
    assert resync[0].offset == 2 * len(garbage)
    ev = run([feed(C2S, garbage), eof(C2S)], split)
    assert codes(ev) == [http_codes.HTTP_BAD_REQUEST_LINE]


def test_bad_status_line_and_unsupported_versions(split: Splitter) -> None:
    ev = run([feed(C2S, REQ_GET), feed(S2C, b"HTTP/1.1 2000 OK\r\n\r\n" + RESP_OK)], split)
    assert codes(ev) == [http_codes.HTTP_BAD_STATUS_LINE, http_codes.HTTP_RESYNC]
    assert done(ev, S2C)[0].body == b"hello"
    for line in (b"GET / HTTP/2.0\r\n\r\n", b"GET /\r\n\r\n", b"GET  /a b HTTP/1.1\r\n\r\n"):
        assert codes(run([feed(C2S, line)], split)) == [http_codes.HTTP_BAD_REQUEST_LINE]
    assert codes(run([feed(S2C, b"HTTP/1.1 600 X\r\n\r\n")], split)) == [http_codes.HTTP_BAD_STATUS_LINE]


def test_status_line_without_reason(split: Splitter) -> None:
    ev = run([feed(C2S, REQ_GET), feed(S2C, b"HTTP/1.1 204\r\n\r\n")], split)
    assert [(r.status, r.reason) for r in of(ev, HttpResponseHead)] == [(204, "")]


def test_head_too_long(split: Splitter) -> None:
    big = b"GET / HTTP/1.1\r\nX: " + b"a" * 300 + b"\r\n\r\n"
    ev = run([feed(C2S, big + REQ_GET)], split, max_head_bytes=100)
    assert codes(ev) == [http_codes.HTTP_HEAD_TOO_LONG, http_codes.HTTP_RESYNC]
    assert [h.start for h in of(ev, HttpRequestHead)] == [len(big)]


def test_h2_preface(split: Splitter) -> None:
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00"
    ev = run([feed(C2S, preface), feed(C2S, b"more h2 frames\n\n"), eof(C2S)], split)
    assert codes(ev) == [http_codes.HTTP_H2_PREFACE]


# --- Engine.IO long polling --------------------------------------------------------------------------------

OPEN = (  # PROTOCOLS.md vector 19
    b'0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],'
    b'"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'
)


def test_engineio_long_polling(split: Splitter) -> None:
    c1 = (
        b"GET /socket.io/?EIO=4&transport=polling&t=N8hyd6w HTTP/1.1\r\n"
        b"Host: localhost:3000\r\nAccept: */*\r\n\r\n"
    )
    s1 = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: %d\r\n\r\n"
        % len(OPEN)
        + OPEN
    )
    c2 = (
        b"POST /socket.io/?EIO=4&transport=polling&t=N8hyd7H&sid=lv_VI97HAXpY6yYWAAAC HTTP/1.1\r\n"
        b"Host: localhost:3000\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: 2\r\n\r\n40"
    )
    s2 = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok"
    c3 = (
        b"GET /socket.io/?EIO=4&transport=polling&t=N8hyd7I&sid=lv_VI97HAXpY6yYWAAAC HTTP/1.1\r\n"
        b"Host: x\r\n\r\n"
    )
    s3_body = b'40{"sid":"wZX3oN0bSVIhsaknAAAI"}\x1e42["hello","world"]'
    s3 = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n" % len(s3_body)
        + s3_body
        + b"\r\n0\r\n\r\n"
    )
    ops = [feed(C2S, c1), feed(S2C, s1), feed(C2S, c2), feed(S2C, s2), feed(C2S, c3), feed(S2C, s3)]
    ev = run([*ops, eof(C2S), eof(S2C)], split)
    assert codes(ev) == []
    assert [(h.method, h.index) for h in of(ev, HttpRequestHead)] == [("GET", 0), ("POST", 1), ("GET", 2)]
    assert [m.body for m in done(ev, C2S)] == [b"", b"40", b""]
    assert [(m.index, m.body) for m in done(ev, S2C)] == [(0, OPEN), (1, b"ok"), (2, s3_body)]
    assert [m.end for m in done(ev, S2C)] == [len(s1), len(s1 + s2), len(s1 + s2 + s3)]


# --- upgrade ---------------------------------------------------------------------------------------------

UPGRADE_REQ = (
    b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: server.example.com\r\n"
    b"Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
RESP_101 = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)
SERVER_FRAME = b"\x81\x05" + b"0{..}"  # an unmasked text frame right after the 101
CLIENT_FRAME = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"  # PROTOCOLS.md vector 2


def test_upgrade_with_frames_in_the_same_segment(split: Splitter) -> None:
    ops = [feed(C2S, UPGRADE_REQ), feed(S2C, RESP_101 + SERVER_FRAME), feed(C2S, CLIENT_FRAME)]
    conn = Http1Connection()
    ev: list[HttpEvent] = []
    for _kind, d, arg in ops:
        assert isinstance(arg, bytes)
        for p in split(arg):
            ev += conn.feed(d, p)
    assert codes(ev) == []
    ups = of(ev, Upgraded)
    # The held client bytes are empty when the 101 arrives; the server's rest rides along
    # (byte by byte, the frame arrives after the switch and is not HTTP's business).
    expect_s2c = SERVER_FRAME if split is whole else b""
    assert ups == [Upgraded(C2S, len(UPGRADE_REQ), b""), Upgraded(S2C, len(RESP_101), expect_s2c)]
    assert conn.is_upgraded(C2S) and conn.is_upgraded(S2C)
    assert conn.feed(C2S, b"GET / HTTP/1.1\r\n\r\n") == [] and conn.eof(S2C) == []


def test_client_bytes_before_101_are_held(split: Splitter) -> None:
    ev = run([feed(C2S, UPGRADE_REQ + CLIENT_FRAME), feed(S2C, RESP_101 + SERVER_FRAME)], split)
    assert codes(ev) == []
    assert of(ev, Upgraded) == [
        Upgraded(C2S, len(UPGRADE_REQ), CLIENT_FRAME),
        Upgraded(S2C, len(RESP_101), SERVER_FRAME),
    ]
    # The client side ended before the 101: the held bytes still go to the new protocol.
    ev = run([feed(C2S, UPGRADE_REQ + CLIENT_FRAME), eof(C2S), feed(S2C, RESP_101)], split)
    assert of(ev, Upgraded)[0] == Upgraded(C2S, len(UPGRADE_REQ), CLIENT_FRAME)


def test_upgrade_refused_held_bytes_are_http(split: Splitter) -> None:
    resp400 = b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 44\r\n\r\n"
    body400 = b'{"code":3,"message":"Bad request"}' + b" " * 10
    ops = [
        feed(C2S, UPGRADE_REQ + REQ_GET[:10]),
        feed(C2S, REQ_GET[10:]),
        feed(S2C, resp400 + body400 + RESP_OK),
        eof(C2S),
        eof(S2C),
    ]
    ev = run(ops, split)
    assert codes(ev) == []
    assert of(ev, Upgraded) == []
    heads = of(ev, HttpRequestHead)
    assert [(h.target, h.start) for h in heads] == [
        ("/socket.io/?EIO=4&transport=websocket", 0),
        ("/index.html", len(UPGRADE_REQ)),
    ]
    assert [(r.status, r.request_index) for r in of(ev, HttpResponseHead)] == [(400, 0), (200, 1)]
    assert not (Http1Connection().is_upgraded(C2S))


def test_upgrade_refused_after_client_eof(split: Splitter) -> None:
    ev = run(
        [
            feed(C2S, UPGRADE_REQ + b"GET /partial HT"),
            eof(C2S),
            feed(S2C, b"HTTP/1.1 426 Upgrade Required\r\n\r\n"),
        ],
        split,
    )
    assert codes(ev) == [http_codes.HTTP_TRUNCATED_MESSAGE]
    assert [e.offset for e in ev if isinstance(e, HttpAnomaly)] == [len(UPGRADE_REQ)]


def test_interim_response_keeps_holding(split: Splitter) -> None:
    ev = run(
        [feed(C2S, UPGRADE_REQ + CLIENT_FRAME), feed(S2C, b"HTTP/1.1 100 Continue\r\n\r\n" + RESP_101)], split
    )
    assert of(ev, Upgraded)[0] == Upgraded(C2S, len(UPGRADE_REQ), CLIENT_FRAME)


def test_upgrade_needs_connection_token(split: Splitter) -> None:
    req = b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"  # RFC 9110 §7.8: Connection: upgrade missing
    ev = run([feed(C2S, req + REQ_GET), feed(S2C, RESP_101)], split)
    assert len(of(ev, HttpRequestHead)) == 2  # nothing was held
    assert codes(ev) == [http_codes.HTTP_UNREQUESTED_UPGRADE]
    assert [u.direction for u in of(ev, Upgraded)] == [C2S, S2C]


def test_connect_tunnel(split: Splitter) -> None:
    req = b"CONNECT server.example.com:443 HTTP/1.1\r\nHost: server.example.com:443\r\n\r\n"
    hello = b"\x16\x03\x01\x00\x05hello"
    ok = b"HTTP/1.1 200 Connection Established\r\n\r\n"
    ev = run([feed(C2S, req + hello), feed(S2C, ok + b"\x16\x03\x03")], split)
    assert of(ev, Upgraded) == [Upgraded(C2S, len(req), hello), Upgraded(S2C, len(ok), b"\x16\x03\x03")]
    ev = run(
        [feed(C2S, req + REQ_GET), feed(S2C, b"HTTP/1.1 407 Proxy Auth\r\nContent-Length: 0\r\n\r\n")], split
    )
    assert of(ev, Upgraded) == [] and len(of(ev, HttpRequestHead)) == 2


def test_upgrade_unanswered(split: Splitter) -> None:
    ev = run([feed(C2S, UPGRADE_REQ + CLIENT_FRAME), eof(S2C), eof(C2S)], split)
    assert codes(ev) == [http_codes.HTTP_UNANSWERED_REQUEST, http_codes.HTTP_UNDECODED_BYTES]


def test_hold_is_bounded() -> None:
    ev = run([feed(C2S, UPGRADE_REQ + b"x" * 500), feed(S2C, RESP_101)], max_head_bytes=300)
    assert codes(ev) == [http_codes.HTTP_UPGRADE_HOLD_OVERFLOW]
    assert of(ev, Upgraded)[0] == Upgraded(C2S, len(UPGRADE_REQ), b"x" * 300)


# --- pairing problems -----------------------------------------------------------------------------------


def test_unanswered_and_unpaired(split: Splitter) -> None:
    ev = run([feed(C2S, REQ_GET + REQ_GET), feed(S2C, RESP_OK), eof(S2C)], split)
    un = [e for e in ev if isinstance(e, HttpAnomaly)]
    assert [(e.code, e.direction, e.offset) for e in un] == [
        (http_codes.HTTP_UNANSWERED_REQUEST, C2S, len(REQ_GET))
    ]
    ev = run([feed(S2C, RESP_OK)], split)
    assert of(ev, HttpResponseHead)[0].request_index is None
    assert done(ev, S2C)[0].index is None


def test_max_pending() -> None:
    ev = run([feed(C2S, REQ_GET * 5), feed(S2C, RESP_OK * 5)], max_pending=3)
    assert codes(ev) == [http_codes.HTTP_TOO_MANY_PENDING] + [http_codes.HTTP_RESPONSE_WITHOUT_REQUEST] * 2
    assert [r.request_index for r in of(ev, HttpResponseHead)] == [0, 1, 2, None, None]


# --- gaps ------------------------------------------------------------------------------------------------


def test_gap_inside_body_keeps_framing(split: Splitter) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
    ops = [feed(C2S, REQ_GET * 2), feed(S2C, head + b"abc"), gap(S2C, 4), feed(S2C, b"hij" + RESP_OK)]
    ev = run(ops, split)
    assert codes(ev) == [http_codes.HTTP_STREAM_GAP]
    d = done(ev, S2C)
    assert (d[0].body, d[0].raw_body_length, d[0].body_truncated, d[0].end) == (
        b"abchij",
        10,
        True,
        len(head) + 10,
    )
    assert (d[1].body, d[1].start, d[1].body_truncated) == (b"hello", len(head) + 10, False)


def test_gap_ending_a_body_exactly(split: Splitter) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
    ev = run([feed(C2S, REQ_GET * 2), feed(S2C, head + b"abc"), gap(S2C, 7), feed(S2C, RESP_OK)], split)
    assert codes(ev) == [http_codes.HTTP_STREAM_GAP]
    assert [m.body for m in done(ev, S2C)] == [b"abc", b"hello"]


def test_gap_in_chunked_data_and_past_it(split: Splitter) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    ops = [
        feed(C2S, REQ_GET * 2),
        feed(S2C, head + b"a\r\n01"),
        gap(S2C, 3),
        feed(S2C, b"56789\r\n0\r\n\r\n"),
    ]
    ev = run(ops, split)
    assert codes(ev) == [http_codes.HTTP_STREAM_GAP]
    assert done(ev, S2C)[0].body == b"0156789" and done(ev, S2C)[0].body_truncated
    # A gap past the chunk loses the framing: message cut, then resynchronise.
    ops = [
        feed(C2S, REQ_GET * 2),
        feed(S2C, head + b"a\r\n01"),
        gap(S2C, 20),
        feed(S2C, b"9\r\n0\r\n\r\n" + RESP_OK),
    ]
    ev = run(ops, split)
    assert codes(ev) == [http_codes.HTTP_STREAM_GAP, http_codes.HTTP_RESYNC]
    d = done(ev, S2C)
    assert (d[0].body_truncated, d[0].end) == (True, len(head) + 5)
    assert d[1].body == b"hello"


def test_gap_between_messages_resyncs(split: Splitter) -> None:
    ops = [feed(C2S, REQ_GET), gap(C2S, 50), feed(C2S, b"tail of a lost request\r\n\r\n" + REQ_GET)]
    ev = run(ops, split)
    assert codes(ev) == [http_codes.HTTP_STREAM_GAP, http_codes.HTTP_RESYNC]
    heads = of(ev, HttpRequestHead)
    assert [h.start for h in heads] == [0, len(REQ_GET) + 50 + 26]


def test_gap_during_hold(split: Splitter) -> None:
    ops = [feed(C2S, UPGRADE_REQ + b"abc"), gap(C2S, 10), feed(C2S, b"def"), feed(S2C, RESP_101)]
    ev = run(ops, split)
    assert codes(ev) == [http_codes.HTTP_STREAM_GAP]
    assert of(ev, Upgraded)[0] == Upgraded(C2S, len(UPGRADE_REQ) + 13, b"def")


def test_gap_in_until_close_body(split: Splitter) -> None:
    head = b"HTTP/1.1 200 OK\r\n\r\n"
    ev = run([feed(C2S, REQ_GET), feed(S2C, head + b"ab"), gap(S2C, 5), feed(S2C, b"cd"), eof(S2C)], split)
    assert done(ev, S2C) == [HttpMessageDone(S2C, 0, b"abcd", 9, True, 0, len(head) + 9)]


# --- lenient request lines (#22) ----------------------------------------------------------------------------
LENIENT = [
    b"GET    /many HTTP/1.1",  # a run of SPs
    b"GET\t/tab\tHTTP/1.1",  # HTAB
    b"GET \x0b/vt\x0c HTTP/1.1",  # VT, FF
    b"GET /cr\rHTTP/1.1",  # a bare CR
    b"  GET /lead HTTP/1.1 \t",  # whitespace before and after
]


@pytest.mark.parametrize("line", LENIENT)
def test_request_line_parsed_on_whitespace(line: bytes, split: Splitter) -> None:
    """RFC 9112 §3: a recipient may parse the request line on whitespace-delimited words;
    the request is kept and the deviation flagged at its first byte."""
    ev = run([feed(C2S, line + b"\r\nHost: a\r\n\r\n" + REQ_GET), feed(S2C, RESP_OK * 2)], split)
    assert codes(ev) == [http_codes.HTTP_REQUEST_LINE_WHITESPACE]
    (a,) = of(ev, HttpAnomaly)
    first, second = of(ev, HttpRequestHead)
    assert (a.offset, first.start, first.method, first.version) == (0, 0, "GET", "HTTP/1.1")
    assert first.target == "/" + line.split(b"/")[1].split()[0].decode()
    assert second.target == "/index.html" and len(of(ev, HttpResponseHead)) == 2


def test_lenient_request_line_with_bare_lf(split: Splitter) -> None:
    ev = run([feed(C2S, b"GET  /x HTTP/1.1\nHost: a\n\n"), feed(S2C, RESP_OK)], split)
    assert codes(ev) == [http_codes.HTTP_REQUEST_LINE_WHITESPACE, http_codes.HTTP_BARE_LF]
    assert [h.target for h in of(ev, HttpRequestHead)] == ["/x"]


def test_lenient_request_line_found_by_resync(split: Splitter) -> None:
    ev = run([feed(C2S, b"\x00garbage\r\nPOST\t/p  HTTP/1.1\r\nContent-Length: 0\r\n\r\n")], split)
    assert codes(ev) == [
        http_codes.HTTP_BAD_REQUEST_LINE,
        http_codes.HTTP_RESYNC,
        http_codes.HTTP_REQUEST_LINE_WHITESPACE,
    ]
    assert [h.target for h in of(ev, HttpRequestHead)] == ["/p"]


# --- streams that start inside a message, bodies past their framing (#16 item 8) --------------------------
TAIL = b'2\x1e42["chat","' + b"x" * 40 + b'"]'  # the rest of an Engine.IO polling body: no LF


def test_capture_starting_inside_a_response_body(split: Splitter) -> None:
    ev = run([feed(S2C, TAIL), feed(C2S, REQ_GET), feed(S2C, RESP_OK)], split, midstream=True)
    assert codes(ev) == [http_codes.HTTP_RESYNC]
    (h,) = of(ev, HttpResponseHead)
    assert (h.start, h.status, h.request_index) == (len(TAIL), 200, 0)
    assert done(ev, S2C)[0].body == b"hello"
    # the next response right after the tail in one segment, and a second exchange after it
    ops = [feed(C2S, REQ_GET * 2), feed(S2C, TAIL + RESP_OK + RESP_OK)]
    ev = run(ops, split, midstream=True)
    assert codes(ev) == [http_codes.HTTP_RESYNC]
    assert [h.start for h in of(ev, HttpResponseHead)] == [len(TAIL), len(TAIL) + len(RESP_OK)]


def test_capture_starting_inside_a_request_body(split: Splitter) -> None:
    body_tail = b"&platform=10901&vid=" + b"y" * 30
    ev = run([feed(C2S, body_tail + REQ_GET), feed(S2C, RESP_OK)], split, midstream=True)
    assert codes(ev) == [http_codes.HTTP_RESYNC]
    assert [h.start for h in of(ev, HttpRequestHead)] == [len(body_tail)]
    assert of(ev, HttpResponseHead)[0].request_index == 0


def test_midstream_stream_that_starts_on_a_message_is_silent(split: Splitter) -> None:
    ops = [feed(C2S, REQ_GET), feed(S2C, RESP_OK), eof(C2S), eof(S2C)]
    assert run(ops, split, midstream=True) == run(ops, split)


def test_body_past_its_framing_then_the_next_response(split: Splitter) -> None:
    """More body bytes than Content-Length says, without a LF: the next response starts inside
    the line they open. Once that line is found malformed, the search resumes inside it."""
    extra = b"hello, and more of the body"
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + extra
    ev = run([feed(C2S, REQ_GET * 2), feed(S2C, resp + RESP_OK), eof(S2C)], split)
    assert codes(ev) == [http_codes.HTTP_BAD_STATUS_LINE, http_codes.HTTP_RESYNC]
    heads = of(ev, HttpResponseHead)
    assert [(h.start, h.request_index) for h in heads] == [(0, 0), (len(resp), 1)]
    assert [d.body for d in done(ev, S2C)] == [b"hello", b"hello"]


# --- hostile shapes (each of these once took super-linear time) --------------------------------------


def test_parse_fields_edge_cases() -> None:
    lines = [b"A:\t x  y \t", b"B:", b"a: " + b" " * 5000 + b"\x00", b"C: 1\r2", b":v", b"D\x7f: v"]
    headers, issues = parse_fields(lines, [0, 10, 20, 30, 40, 50])
    assert headers == (("A", "x  y"), ("B", ""))
    assert [(code, offset) for code, _, offset in issues] == [
        (http_codes.HTTP_BAD_HEADER, o) for o in (20, 30, 40, 50)
    ]


def test_fold_bomb_is_joined_once() -> None:
    head = b"GET / HTTP/1.1\r\nX: a\r\n" + b" b\r\n" * 10000 + b"\r\n"
    ev = run([feed(C2S, head)])
    (h,) = of(ev, HttpRequestHead)
    assert h.headers == (("X", "a" + " b" * 10000),)
    assert codes(ev) == [http_codes.HTTP_OBS_FOLD]


def test_long_partial_line_while_resyncing() -> None:
    # A long line that could still become a request line is kept (bounded) and judged once.
    junk = b"junk\nGET /" + b"a" * 3000
    ev = run([feed(C2S, junk), feed(C2S, b" HTTP/1.1\r\n\r\n")], bytewise)
    assert codes(ev) == [http_codes.HTTP_BAD_REQUEST_LINE, http_codes.HTTP_RESYNC]
    assert of(ev, HttpRequestHead)[0].start == 5
    # Past the head bound it is dropped.
    ev = run([feed(C2S, junk), feed(C2S, b" HTTP/1.1\r\n\r\n")], bytewise, max_head_bytes=1000)
    assert codes(ev) == [http_codes.HTTP_BAD_REQUEST_LINE] and of(ev, HttpRequestHead) == []


def test_parser_anomaly_view() -> None:
    a = HttpAnomaly(S2C, http_codes.HTTP_BAD_CHUNK, "m", 7)
    assert a.parser_anomaly == ParserAnomaly(http_codes.HTTP_BAD_CHUNK, "m", 7)


# --- registry ----------------------------------------------------------------------------------------------


def test_codes_are_registered_for_the_http_layer() -> None:
    names = [n for n in http_codes.__all__]
    assert names and len(set(names)) == len(names)
    for name in names:
        code = getattr(http_codes, name)
        assert REGISTRY[code].layer is Layer.HTTP
        assert code.startswith("http.")


# --- properties ------------------------------------------------------------------------------------------

SCENARIOS: list[list[Op]] = [
    [feed(C2S, REQ_GET), feed(S2C, RESP_OK), eof(C2S), eof(S2C)],
    [feed(C2S, REQ_GET * 2), feed(S2C, CHUNKED + RESP_OK), eof(S2C)],
    [feed(C2S, UPGRADE_REQ + CLIENT_FRAME), feed(S2C, RESP_101 + SERVER_FRAME)],
    [feed(C2S, UPGRADE_REQ + REQ_GET), feed(S2C, b"HTTP/1.1 400 No\r\nContent-Length: 0\r\n\r\n" + RESP_OK)],
    [feed(C2S, bytes(range(256)) * 3 + REQ_GET), eof(C2S)],
    [
        feed(C2S, REQ_GET),
        feed(S2C, b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + gzip.compress(TEXT)),
        eof(S2C),
    ],
    [
        feed(
            C2S,
            b"POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n5\r\nabcde\n0\nT: 1\n\n"
            b"\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        )
    ],
    [
        feed(C2S, REQ_GET * 2),
        feed(S2C, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n" + RESP_OK),
    ],
]


def _split_at(cuts: list[int]) -> Splitter:
    def split(data: bytes) -> list[bytes]:
        points = sorted({c % (len(data) + 1) for c in cuts})
        return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]

    return split


@settings(max_examples=300, deadline=None)
@given(idx=st.integers(0, len(SCENARIOS) - 1), cuts=st.lists(st.integers(0, 10_000), max_size=12))
def test_any_split_gives_the_same_events(idx: int, cuts: list[int]) -> None:
    ops = SCENARIOS[idx]
    assert run(ops, _split_at(cuts)) == run(ops)


FRAGMENTS = [
    b"GET / HTTP/1.1\r\n",
    b"HEAD /h HTTP/1.1\r\n",
    b"CONNECT a:1 HTTP/1.1\r\n",
    b"POST /p HTTP/1.0\r\n",
    b"HTTP/1.1 200 OK\r\n",
    b"HTTP/1.1 101 Switching\r\n",
    b"HTTP/1.1 100 Continue\r\n",
    b"HTTP/1.1 204 No\r\n",
    b"Content-Length: 3\r\n",
    b"Content-Length: x\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Encoding: gzip\r\n",
    b"Content-Encoding: deflate\r\n",
    b"Upgrade: websocket\r\nConnection: upgrade\r\n",
    b" folded\r\n",
    b"\r\n",
    b"\n",
    b"\r",
    b"3\r\nabc\r\n",
    b'5;e="q"\r\n',
    b"0\r\n",
    b"abc",
    b"\x1f\x8b\x08\x00",
    b"\x81\x05hello",
    gzip.compress(b"zz")[:12],
]

_chunk = st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=24))
_op = st.one_of(
    st.tuples(st.just("feed"), st.sampled_from([C2S, S2C]), st.lists(_chunk, max_size=6).map(b"".join)),
    st.tuples(st.just("gap"), st.sampled_from([C2S, S2C]), st.integers(-2, 40)),
    st.tuples(st.just("eof"), st.sampled_from([C2S, S2C]), st.none()),
)


def _check_invariants(events: list[HttpEvent]) -> None:
    for d in (C2S, S2C):
        open_head = False
        last_end = 0
        for e in events:
            if isinstance(e, (HttpRequestHead, HttpResponseHead)):
                if (d is C2S) != isinstance(e, HttpRequestHead):
                    continue
                assert not open_head, "head before the previous message was done"
                assert last_end <= e.start < e.end
                open_head = True
            elif isinstance(e, HttpMessageDone) and e.direction is d:
                assert open_head, "done without a head"
                assert e.end >= e.start >= last_end
                open_head = False
                last_end = e.end
            elif isinstance(e, Upgraded) and e.direction is d:
                assert not open_head and e.offset >= last_end
            elif isinstance(e, HttpAnomaly):
                assert e.offset >= 0 and e.code in REGISTRY


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_op, max_size=14), cuts=st.lists(st.integers(0, 200), max_size=6))
def test_never_raises_and_split_invariant(ops: list[Op], cuts: list[int]) -> None:
    events = run(ops, max_head_bytes=64, max_body_bytes=32, max_decoded_bytes=32, max_pending=4)
    _check_invariants(events)
    again = run(
        ops, _split_at(cuts), max_head_bytes=64, max_body_bytes=32, max_decoded_bytes=32, max_pending=4
    )
    assert again == events
    assert (
        run(ops, bytewise, max_head_bytes=64, max_body_bytes=32, max_decoded_bytes=32, max_pending=4)
        == events
    )


@st.composite
def _message(draw: st.DrawFn, request: bool) -> bytes:
    """A mostly well-formed message, sometimes with one byte changed, inserted or removed."""
    if request:
        method = draw(st.sampled_from(["GET", "HEAD", "POST", "CONNECT", "PUT"]))
        start = f"{method} /p?EIO=4 HTTP/1.{draw(st.sampled_from('01'))}".encode()
    else:
        start = b"HTTP/1.1 %d X" % draw(st.sampled_from([100, 101, 200, 200, 204, 304, 400, 500]))
    body = draw(st.binary(max_size=40))
    coding = draw(st.sampled_from(["none", "gzip", "deflate"]))
    if coding == "gzip":
        body = gzip.compress(body)
    elif coding == "deflate":
        body = zlib.compress(body)
    headers = [b"Host: h"]
    if coding != "none":
        headers.append(b"Content-Encoding: " + coding.encode())
    if draw(st.booleans()):
        headers.append(b"Upgrade: websocket\r\nConnection: Upgrade")
    framing = draw(st.sampled_from(["length", "chunked", "none"]))
    if framing == "length":
        headers.append(b"Content-Length: %d" % len(body))
        payload = body
    elif framing == "chunked":
        headers.append(b"Transfer-Encoding: chunked")
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=3)))
        parts = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
        payload = b"".join(b"%x;e=1\r\n%s\r\n" % (len(x), x) for x in parts if x) + b"0\r\nT: 1\r\n\r\n"
    else:
        payload = body if not request else b""
    raw = start + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + payload
    mutation = draw(st.sampled_from(["none", "none", "none", "flip", "insert", "delete"]))
    if mutation != "none" and raw:
        at = draw(st.integers(0, len(raw) - 1))
        byte = bytes([draw(st.integers(0, 255))])
        raw = {"flip": raw[:at] + byte + raw[at + 1 :], "insert": raw[:at] + byte + raw[at:]}.get(
            mutation, raw[:at] + raw[at + 1 :]
        )
    return raw


_structured_op = st.one_of(
    _message(True).map(lambda m: ("feed", C2S, m)),
    _message(False).map(lambda m: ("feed", S2C, m)),
    st.tuples(st.just("gap"), st.sampled_from([C2S, S2C]), st.integers(1, 30)),
    st.tuples(st.just("eof"), st.sampled_from([C2S, S2C]), st.none()),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_structured_op, max_size=10), cuts=st.lists(st.integers(0, 300), max_size=6))
def test_structured_messages_never_raise_and_split_invariant(ops: list[Op], cuts: list[int]) -> None:
    def small(split: Splitter) -> list[HttpEvent]:
        return run(ops, split, max_head_bytes=200, max_body_bytes=48, max_decoded_bytes=30, max_pending=3)

    events = small(whole)
    _check_invariants(events)
    assert small(_split_at(cuts)) == events
    assert small(bytewise) == events


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=2000))
def test_random_bytes_never_raise(data: bytes) -> None:
    for d in (C2S, S2C):
        conn = Http1Connection()
        conn.feed(d, data)
        conn.gap(d, 7)
        conn.feed(d, data)
        conn.eof(d)
        conn.eof(d.other)


def test_message_right_after_a_gap_is_read(split: Splitter) -> None:
    """Whole segments go missing and messages start segments: the line at the end of a gap is
    judged as a start line, so nothing after the gap is skipped."""
    ops = [feed(C2S, REQ_GET * 2), feed(S2C, RESP_OK), gap(S2C, 30), feed(S2C, RESP_OK)]
    ev = run(ops, split)
    assert codes(ev) == [http_codes.HTTP_STREAM_GAP]
    heads = of(ev, HttpResponseHead)
    assert [(h.start, h.request_index) for h in heads] == [(0, 0), (len(RESP_OK) + 30, 1)]


REQ_POST = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok"


def _lost_response_script(conn: Http1Connection, late: bool) -> list[HttpEvent]:
    """Request #0 answered, #1's response lost in a gap, #2 and #3 answered. `at` is the packet
    number; with `late`, the responses after the gap are delivered after every request (as when
    a hole is only given up at the end) but keep the packet numbers they were captured in."""
    out = conn.feed(C2S, REQ_GET, at=1) + conn.feed(S2C, RESP_OK, at=2)
    out += conn.feed(C2S, REQ_GET, at=3)  # #1: its response (packet 4) is not in the capture
    out += conn.feed(C2S, REQ_POST, at=5)  # #2
    responses = [(RESP_OK, 6), (RESP_OK, 8)]
    if late:
        out += conn.feed(C2S, REQ_GET, at=7)  # #3
        out += conn.gap(S2C, len(RESP_OK))
        for data, at in responses:
            out += conn.feed(S2C, data, at=at)
    else:
        out += conn.gap(S2C, len(RESP_OK))
        out += conn.feed(S2C, responses[0][0], at=responses[0][1])
        out += conn.feed(C2S, REQ_GET, at=7)
        out += conn.feed(S2C, responses[1][0], at=responses[1][1])
    return out


@pytest.mark.parametrize("late", [False, True], ids=["gap-found-at-once", "gap-found-late"])
def test_a_lost_response_does_not_shift_the_pairing(late: bool) -> None:
    ev = _lost_response_script(Http1Connection(), late)
    assert [h.request_index for h in of(ev, HttpResponseHead)] == [0, 2, 3]
    lost = [e for e in of(ev, HttpAnomaly) if e.code == http_codes.HTTP_RESPONSE_LOST]
    assert [e.message for e in lost] == ["the response to request #1 (GET) was in a capture gap"]


def test_without_packet_order_responses_pair_in_order() -> None:
    conn = Http1Connection()
    ev = conn.feed(C2S, REQ_GET) + conn.feed(C2S, REQ_GET) + conn.gap(S2C, 10) + conn.feed(S2C, RESP_OK)
    assert [h.request_index for h in of(ev, HttpResponseHead)] == [0]
    assert http_codes.HTTP_RESPONSE_LOST not in codes(ev)


def test_pipelined_requests_before_the_gap_are_not_called_lost() -> None:
    """#0 and #1 pipelined, #0 answered, then a gap inside #1's response's head: the next
    response was captured before request #2 was sent (though delivered after it), so it
    cannot answer #2."""
    conn = Http1Connection()
    ev = conn.feed(C2S, REQ_GET * 2, at=1) + conn.feed(S2C, RESP_OK, at=2)
    ev += conn.gap(S2C, 40) + conn.feed(C2S, REQ_GET, at=4)  # #2, delivered before the response
    ev += conn.feed(S2C, b"\r\n" + RESP_OK, at=3)
    assert [h.request_index for h in of(ev, HttpResponseHead)] == [0, 1]
    assert http_codes.HTTP_RESPONSE_LOST not in codes(ev)
