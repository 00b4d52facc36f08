"""The state of an HTTP/1.x direction's parser (analyzer/protocols/http1_side.py): the reader
states, a request waiting for its response, and the message being read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from analyzer.model.records import Headers
from analyzer.protocols.http1_body import BodyCollector

__all__ = ["Message", "Pending", "State"]


class State:
    """Parser states. Plain string constants, not an Enum: the state is tested and looked up in
    _READERS several times per feed, and Enum attribute lookups and hashing cost more than that."""

    HEAD: Final = "head"  # waiting for a start line (empty lines before it are skipped)
    BODY: Final = "body"  # Content-Length body
    UNTIL_CLOSE: Final = "until-close"  # response body delimited by the end of the stream
    CHUNK_SIZE: Final = "chunk-size"  # RFC 9112 §7.1
    CHUNK_DATA: Final = "chunk-data"
    CHUNK_END: Final = "chunk-end"  # the CRLF after chunk data
    TRAILER: Final = "trailer"  # RFC 9112 §7.1.2
    HOLD: Final = "hold"  # client: after an upgrade/CONNECT request, until its response
    RESYNC: Final = "resync"  # skipping to the next line that starts a message
    UPGRADED: Final = "upgraded"  # no longer HTTP
    DEAD: Final = "dead"  # stream ended, or not HTTP/1 at all


@dataclass(slots=True, eq=False)
class Pending:
    """A request waiting for its response (RFC 9112 §9.3)."""

    index: int
    method: str
    start: int
    wants_switch: bool  # Upgrade request or CONNECT
    outcome: bool | None = None  # True: switched, False: refused, None: no final response yet
    at: int = 0  # the caller's order key (packet number) of the feed that completed the head


@dataclass(slots=True, eq=False)
class Message:
    index: int | None
    start: int
    body_start: int
    collector: BodyCollector | None
    pending: Pending | None  # request: its queue entry; response: the entry it answers
    switch: bool  # response: the connection leaves HTTP after it
    bare_lf_noted: bool
    trailers: Headers = ()
