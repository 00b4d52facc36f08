"""Application-layer records of the model, as the pipeline hands them upward.

These are the inputs of the Engine.IO session builder and the rows the UI and
exports read. Every record carries `frame` (the 1-based packet that carried its
last byte) and `frames` (every packet that carried a byte of it) so that any
record can be followed down to its TCP segments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.model.common import Direction

__all__ = ["Headers", "HttpExchange", "HttpRequest", "HttpResponse", "WsMessageRecord", "header_value"]

Headers = tuple[tuple[str, str], ...]


def header_value(headers: Headers, name: str) -> str | None:
    """First value of a header, matched case-insensitively (RFC 9110 §5.1); None if absent."""
    lname = name.lower()
    for k, v in headers:
        if k.lower() == lname:
            return v
    return None


@dataclass(slots=True)  # not frozen: built per frame/message, where frozen __init__ is 5x slower
class HttpRequest:
    frame: int
    ts: float
    method: str
    target: str
    version: str
    headers: Headers
    body: bytes = b""  # after transfer-coding and content-coding are undone, bounded
    body_truncated: bool = False
    frames: tuple[int, ...] = ()


@dataclass(slots=True)  # not frozen: built per frame/message, where frozen __init__ is 5x slower
class HttpResponse:
    frame: int
    ts: float
    version: str
    status: int
    reason: str
    headers: Headers
    body: bytes = b""
    body_truncated: bool = False
    frames: tuple[int, ...] = ()


@dataclass(slots=True)  # not frozen: built per frame/message, where frozen __init__ is 5x slower
class HttpExchange:
    connection: int
    index: int  # position of the exchange on its connection, from 0
    request: HttpRequest | None
    response: HttpResponse | None


@dataclass(slots=True)  # not frozen: built per frame/message, where frozen __init__ is 5x slower
class WsMessageRecord:
    """A complete WebSocket text or binary message (control frames are not messages)."""

    connection: int
    direction: Direction
    ts: float
    frame: int
    opcode: str  # "text" | "binary"
    compressed: bool
    nframes: int
    data: bytes  # unmasked and inflated
    length: int  # inflated length (data may be cut at the display bound)
    truncated: bool = False
    frames: tuple[int, ...] = field(default=())
