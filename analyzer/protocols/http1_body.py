"""HTTP/1.x message bodies: how long they are, and how to undo their codings.

`request_framing` / `response_framing` apply RFC 9112 §6.3 to a parsed head;
`parse_chunk_size` reads a chunk-size line (RFC 9112 §7.1); `BodyCollector`
gathers body bytes, undoes gzip/deflate codings with bounded output (zip bomb
safe) and reports its problems as (code, message) issues when finished.
Nothing here raises on captured bytes.
"""

from __future__ import annotations

import enum
import re
import zlib
from dataclasses import dataclass

from analyzer.model.codes.http import (
    HTTP_BAD_CONTENT_LENGTH,
    HTTP_BAD_TRANSFER_ENCODING,
    HTTP_BODY_TOO_LONG,
    HTTP_DECODE_FAILED,
    HTTP_DECODED_TOO_LONG,
    HTTP_INFLATE_BUDGET_EXCEEDED,
    HTTP_TE_AND_CL,
    HTTP_UNSUPPORTED_CODING,
)
from analyzer.model.records import Headers
from analyzer.protocols.deflate import InflateBudget

__all__ = [
    "MAX_CHUNK_LINE",
    "BodyCollector",
    "BodyKind",
    "Framing",
    "parse_chunk_size",
    "request_framing",
    "response_framing",
]

CodedIssue = tuple[str, str]  # (anomaly code, message)

# Longest chunk-size line (size + extensions) we wait for before calling it malformed.
MAX_CHUNK_LINE = 4096
# 15 hex digits = 2**60 bytes: more than any real chunk, small enough for int().
_MAX_HEX_DIGITS = 15
# 18 decimal digits stays clear of int() digit limits and of any real length.
_MAX_DEC_DIGITS = 18

_DIGITS = re.compile(r"[0-9]+")
_TOKEN = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = rb'"(?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[\t\x20-\x7e\x80-\xff])*"'
# RFC 9112 §7.1 / §7.1.1: chunk-size [ chunk-ext ], with
# chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ).
# Matched one extension at a time so that no pattern can backtrack badly.
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]+")
_CHUNK_EXT = re.compile(
    rb"[ \t]*;[ \t]*" + _TOKEN + rb"(?:[ \t]*=[ \t]*(?:" + _TOKEN + rb"|" + _QUOTED + rb"))?"
)
_BWS = re.compile(rb"[ \t]*")

# RFC 9110 §8.4.1: gzip (x-gzip is its alias, §8.4.1.3) and deflate (zlib format,
# §8.4.1.2; raw deflate is common in the wild and accepted).
_DECODABLE = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}


class BodyKind(enum.Enum):
    """How the end of a body is found (RFC 9112 §6.3)."""

    NONE = "none"  # no body at all (HEAD, 1xx, 204, 304; request without length)
    LENGTH = "length"  # Content-Length
    CHUNKED = "chunked"  # Transfer-Encoding ending in chunked
    UNTIL_CLOSE = "until-close"  # response delimited by the end of the connection
    SWITCH = "switch"  # 101, or 2xx to CONNECT: the connection leaves HTTP after the head
    INVALID = "invalid"  # framing cannot be determined: the stream must resynchronise


@dataclass(slots=True)  # not frozen: one per message, and a frozen __init__ costs several times more
class Framing:
    kind: BodyKind
    length: int = 0
    codings: tuple[str, ...] = ()  # content codings then transfer codings, in the order applied
    issues: tuple[CodedIssue, ...] = ()


def _tokens(value: str, into: list[str]) -> None:
    """Elements of a comma-separated list (RFC 9110 §5.6.1), parameters dropped, lowercased."""
    for item in value.split(","):
        token = item.split(";", 1)[0].strip(" \t").lower()
        if token:
            into.append(token)


def _content_length(values: list[str]) -> tuple[int | None, CodedIssue | None]:
    """Content-Length value (RFC 9110 §8.6): None when absent, or an issue when invalid."""
    if not values:
        return None, None
    for v in values:
        if not _DIGITS.fullmatch(v) or len(v.lstrip("0")) > _MAX_DEC_DIGITS:
            return None, (HTTP_BAD_CONTENT_LENGTH, f"Content-Length {v[:40]!r} is not a usable number")
    lengths = {int(v) for v in values}
    if len(lengths) > 1:
        # RFC 9112 §6.3 item 5: differing values make the framing unrecoverable.
        return None, (
            HTTP_BAD_CONTENT_LENGTH,
            f"differing Content-Length values {', '.join(map(str, sorted(lengths)[:4]))}",
        )
    return lengths.pop(), None


def _framing(headers: Headers, *, is_request: bool) -> Framing:
    content: list[str] = []
    transfer: list[str] = []
    has_te = False
    cl_values: list[str] = []
    for name, value in headers:  # one pass; field names are case-insensitive (RFC 9110 §5.1)
        lname = name.lower()
        if lname == "content-length":
            cl_values.extend(v.strip(" \t") for v in value.split(","))
        elif lname == "transfer-encoding":
            has_te = True
            _tokens(value, transfer)
        elif lname == "content-encoding":
            _tokens(value, content)
    length, cl_issue = _content_length(cl_values)
    issues: list[CodedIssue] = []
    if has_te:
        if cl_values:
            # RFC 9112 §6.3 item 3: Transfer-Encoding overrides Content-Length.
            issues.append((HTTP_TE_AND_CL, "both Transfer-Encoding and Content-Length are present"))
        if transfer.count("chunked") > 1:
            # RFC 9112 §6.1: a sender MUST NOT apply chunked more than once.
            issues.append((HTTP_BAD_TRANSFER_ENCODING, f"Transfer-Encoding {', '.join(transfer)!r}"))
        if transfer and transfer[-1] == "chunked":
            codings = (*content, *transfer[:-1])
            return Framing(BodyKind.CHUNKED, codings=codings, issues=tuple(issues))
        if is_request:
            # RFC 9112 §6.3 item 4: a request whose final coding is not chunked has no
            # determinable length; the server answers 400 and closes.
            issues.append((HTTP_BAD_TRANSFER_ENCODING, f"request Transfer-Encoding {', '.join(transfer)!r}"))
            return Framing(BodyKind.INVALID, issues=tuple(issues))
        # RFC 9112 §6.3 item 4: otherwise a response is read until the connection closes.
        return Framing(BodyKind.UNTIL_CLOSE, codings=(*content, *transfer), issues=tuple(issues))
    if cl_issue is not None:
        return Framing(BodyKind.INVALID, issues=(cl_issue,))
    if length is not None:
        return Framing(BodyKind.LENGTH, length, tuple(content))
    # RFC 9112 §6.3 items 6-7: no length means no body for a request and
    # "until the connection closes" for a response.
    return Framing(BodyKind.NONE if is_request else BodyKind.UNTIL_CLOSE, codings=tuple(content))


def request_framing(headers: Headers) -> Framing:
    """Body framing of a request (RFC 9112 §6.3 items 3-6)."""
    return _framing(headers, is_request=True)


def response_framing(status: int, method: str | None, headers: Headers) -> Framing:
    """Body framing of a response to a request made with `method` (RFC 9112 §6.3)."""
    if status == 101 or (method == "CONNECT" and 200 <= status < 300):
        # RFC 9110 §15.2.2, §9.3.6: the connection switches right after the head.
        return Framing(BodyKind.SWITCH)
    if method == "HEAD" or status < 200 or status in (204, 304):
        # RFC 9112 §6.3 item 1: these responses end with the header section.
        return Framing(BodyKind.NONE)
    return _framing(headers, is_request=False)


def parse_chunk_size(line: bytes | bytearray) -> int | str:
    """Size from a chunk-size line without its CRLF (RFC 9112 §7.1), or why it is malformed."""
    m = _CHUNK_SIZE.match(line)
    if m is None:
        return f"malformed chunk-size line {bytes(line[:40])!r}"
    pos = m.end()
    while (ext := _CHUNK_EXT.match(line, pos)) is not None:
        pos = ext.end()
    tail = _BWS.match(line, pos)
    if tail is None or tail.end() != len(line):
        return f"malformed chunk-size line {bytes(line[:40])!r}"
    digits = m[0].lstrip(b"0")
    if len(digits) > _MAX_HEX_DIGITS:
        return f"chunk size {bytes(m[0][:24])!r} is too large"
    return int(digits, 16) if digits else 0


class _Inflater:
    """One gzip or deflate decoding stage with a bound on its output."""

    __slots__ = ("_gzip", "_obj", "_pending", "produced", "trailing")

    def __init__(self, kind: str) -> None:
        self._gzip = kind == "gzip"
        # wbits 31: gzip header and trailer (RFC 1952). Deflate picks its format on
        # the first two bytes, so its object is made later.
        self._obj = zlib.decompressobj(31) if self._gzip else None
        self._pending = b""
        self.produced = 0
        self.trailing = 0

    @property
    def complete(self) -> bool:
        return self._obj is not None and self._obj.eof

    def feed(self, data: bytes, limit: int) -> tuple[bytes, bool]:
        """Decode more input; returns (output, True if the output passed `limit`).

        Raises zlib.error on corrupt input (the collector turns it into an issue).
        """
        out: list[bytes] = []
        while data:
            if self._obj is None:
                data = self._pending + data
                if len(data) < 2:
                    self._pending = data
                    break
                self._pending = b""
                # RFC 1950 §2.2: CM = 8 in the low nibble and CMF*256+FLG a multiple of 31.
                wrapped = (data[0] & 0x0F) == 8 and ((data[0] << 8) | data[1]) % 31 == 0
                self._obj = zlib.decompressobj(15 if wrapped else -15)
            if self._obj.eof:
                if self._gzip and data[0] == 0x1F:
                    # RFC 1952 §2.2: a gzip file is a series of members.
                    self._obj = zlib.decompressobj(31)
                else:
                    self.trailing += len(data)
                    break
            room = limit - self.produced
            chunk = self._obj.decompress(data, room + 1)
            self.produced += len(chunk)
            if self.produced > limit:
                out.append(chunk[:room])
                return b"".join(out), True
            out.append(chunk)
            data = self._obj.unused_data if self._obj.eof else b""
        return b"".join(out), False


class BodyCollector:
    """Keeps the bytes of one body (after transfer framing), bounded, and decodes them.

    `raw_length` counts every body byte after the chunked framing is removed, bytes
    lost in gaps included (before content decoding). At most `max_body` of them are
    kept, and at most `max_decoded` decoded bytes. If decoding fails, the body is
    the bytes as sent. The outcome does not depend on how the input was split.
    """

    __slots__ = (
        "_budget",
        "_capped",
        "_decoders",
        "_decoding",
        "_failed",
        "_gap",
        "_issues",
        "_kept",
        "_limit_raw",
        "_max_decoded",
        "_out",
        "_over",
        "_raw",
        "raw_length",
    )

    def __init__(
        self, codings: tuple[str, ...], max_body: int, max_decoded: int, budget: InflateBudget | None = None
    ) -> None:
        self.raw_length = 0
        self._budget = budget  # decoded bytes past it are dropped (docs/bounds.md)
        self._issues: list[CodedIssue] = []
        self._decoders: list[_Inflater] = []
        applied = [c for c in codings if c != "identity"]
        unknown = [c for c in applied if c not in _DECODABLE]
        if unknown:
            self._issues.append((HTTP_UNSUPPORTED_CODING, f"coding {', '.join(unknown)!r} kept undecoded"))
        else:
            # Codings are listed in the order they were applied: undo the last first.
            self._decoders = [_Inflater(_DECODABLE[c]) for c in reversed(applied)]
        self._raw = bytearray()  # as sent (kept only when decoding)
        self._out = bytearray()  # decoded (or as sent when there is no coding)
        self._kept = 0
        self._limit_raw = max_body if self._decoders else min(max_body, max_decoded)
        self._max_decoded = max_decoded
        self._decoding = bool(self._decoders)
        self._over = False  # more body than the bound
        self._gap = False  # bytes missing from the capture
        self._failed = False  # the coded data is corrupt
        self._capped = False  # the decoded data passed its bound

    def add(self, buf: bytes | bytearray, start: int, stop: int) -> None:
        """Take buf[start:stop] as the next body bytes (sliced only when kept)."""
        self.raw_length += stop - start
        room = self._limit_raw - self._kept
        if stop - start > room:
            self._over = True
            stop = start + room
        if stop <= start:
            return
        self._kept += stop - start
        with memoryview(buf) as view:
            if not self._decoders:
                self._out += view[start:stop]
                return
            data = bytes(view[start:stop])
        self._raw += data
        if not self._decoding:
            return
        over = False
        try:
            for d in self._decoders:
                data, stage_over = d.feed(data, self._max_decoded)
                over = over or stage_over
        except zlib.error as exc:
            self._decoding = False
            self._failed = True
            self._issues.append((HTTP_DECODE_FAILED, f"coded body does not decode: {exc}"))
            return
        self._out += data
        if over:
            self._decoding = False
            self._capped = True
            message = f"decoded body longer than the {self._max_decoded}-byte bound"
            self._issues.append((HTTP_DECODED_TOO_LONG, message))

    def skip(self, n: int) -> None:
        """Body bytes missing from the capture: the body is incomplete from here."""
        self.raw_length += n
        self._gap = True
        self._decoding = False  # a compressed stream cannot go on after a hole

    def finish(self) -> tuple[bytes, bool, list[CodedIssue]]:
        """(body, truncated, issues): the kept body, whether it is incomplete, what went wrong."""
        issues = list(self._issues)
        truncated = self._over or self._gap or self._failed or self._capped
        if self._decoding and not self._over and self.raw_length:
            for d in self._decoders:
                if not d.complete:
                    issues.append((HTTP_DECODE_FAILED, "coded body ends before its compressed stream"))
                    truncated = True
                    break
                if d.trailing:
                    issues.append((HTTP_DECODE_FAILED, f"{d.trailing} bytes after the compressed stream"))
                    break
        if self._over:
            issues.append((HTTP_BODY_TOO_LONG, f"body longer than the {self._limit_raw}-byte bound"))
        budget = self._budget
        if budget is not None and self._decoders and not self._failed:
            budget.fed(self._kept)
            dropped = budget.take(len(self._out)) if self._out else None
            if dropped is not None:
                if budget.first(HTTP_INFLATE_BUDGET_EXCEEDED):
                    message = (
                        f"decoded body of {len(self._out)} bytes dropped: past the {dropped}'s inflate "
                        f"budget ({budget.describe(dropped)}); later bodies past it are dropped without"
                        " another record"
                    )
                    issues.append((HTTP_INFLATE_BUDGET_EXCEEDED, message))
                return b"", True, issues
        return bytes(self._raw if self._failed else self._out), truncated, issues
