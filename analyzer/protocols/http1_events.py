"""The events of the HTTP/1.x parser (analyzer/protocols/http1.py), one dataclass per kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from analyzer.model.common import Direction, ParserAnomaly
from analyzer.model.records import Headers

__all__ = [
    "HttpAnomaly",
    "HttpEvent",
    "HttpMessageDone",
    "HttpRequestHead",
    "HttpResponseHead",
    "ResponseLost",
    "Upgraded",
]


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
