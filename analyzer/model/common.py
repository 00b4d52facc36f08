"""Shared vocabulary of every layer: directions, layers, severities and the anomaly record."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Anomaly", "Direction", "Layer", "ParserAnomaly", "Severity"]


class Direction(enum.Enum):
    """Which way bytes flow. The client is the side that sent the SYN (ANALYSIS_JSON.md)."""

    C2S = "c2s"
    S2C = "s2c"

    # members are singletons compared by identity: hash them by identity too, in C, instead of
    # Enum.__hash__ (a Python call that hashes the name); Direction keys dicts on the hot path
    __hash__ = object.__hash__

    @property
    def other(self) -> Direction:
        return Direction.S2C if self is Direction.C2S else Direction.C2S


class Layer(enum.Enum):
    """OSI-style layers, bottom to top, as named in the analysis document."""

    LINK = "link"
    NETWORK = "network"
    TRANSPORT = "transport"
    TLS = "tls"  # the presentation layer: records, handshake, decryption (RFC 8446, RFC 5246)
    HTTP = "http"
    WEBSOCKET = "websocket"
    ENGINEIO = "engineio"
    SOCKETIO = "socketio"


class Severity(enum.Enum):
    """Wireshark's expert-info severities."""

    CHAT = "chat"
    NOTE = "note"
    WARN = "warn"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ParserAnomaly:
    """What a sans-IO parser reports: a registered code at a stream offset.

    `offset` is relative to the first byte the parser was fed; the pipeline adds
    the stream position it started the parser at and maps it to packet numbers.
    """

    code: str
    message: str
    offset: int


@dataclass(frozen=True, slots=True)
class Anomaly:
    """An expert-info record in the model (ANALYSIS_JSON.md "Anomaly")."""

    code: str
    severity: Severity
    layer: Layer
    message: str
    connection: int | None = None
    direction: Direction | None = None
    frames: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "layer": self.layer.value,
            "message": self.message,
            "connection": self.connection,
            "direction": self.direction.value if self.direction else None,
            "frames": list(self.frames),
        }
