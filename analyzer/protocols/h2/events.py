"""Events of the HTTP/2 connection parser (analyzer/protocols/h2/connection.py).

Offsets count from the first byte fed in the event's direction (gaps included): `start` is
the first byte of the first frame of the event, `end` one past the last byte of its last frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.model.common import Direction

__all__ = ["H2Anomaly", "H2Data", "H2Event", "H2GoAway", "H2Head", "H2Reset", "H2Settings"]

Fields = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class H2Head:
    """A complete field block (HEADERS or PUSH_PROMISE plus CONTINUATIONs, RFC 9113 §4.3).
    `fields` is None when it could not be decoded (h2.hpack-error, or an earlier one in that
    direction). For PUSH_PROMISE, `stream_id` is the promised stream and `promise` is True."""

    direction: Direction
    stream_id: int
    fields: Fields | None
    end_stream: bool
    start: int
    end: int
    promise: bool = False


@dataclass(frozen=True, slots=True)
class H2Data:
    """The data of one DATA frame, padding removed (RFC 9113 §6.1)."""

    direction: Direction
    stream_id: int
    data: bytes
    end_stream: bool
    start: int
    end: int
    data_start: int  # offset of the first data byte (after the Pad Length field)


@dataclass(frozen=True, slots=True)
class H2Reset:
    """RST_STREAM (RFC 9113 §6.4)."""

    direction: Direction
    stream_id: int
    error_code: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class H2GoAway:
    """GOAWAY (RFC 9113 §6.8)."""

    direction: Direction
    last_stream_id: int
    error_code: int
    debug: bytes
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class H2Settings:
    """A SETTINGS frame (RFC 9113 §6.5): the values in order, or an ACK."""

    direction: Direction
    ack: bool
    values: tuple[tuple[int, int], ...]
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class H2Anomaly:
    """A registered code (analyzer/model/codes/h2.py) at an offset of a direction."""

    direction: Direction
    code: str
    message: str
    offset: int


H2Event = H2Head | H2Data | H2Reset | H2GoAway | H2Settings | H2Anomaly
