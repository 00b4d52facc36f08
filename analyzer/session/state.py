"""What the session builder holds of an Engine.IO session while the capture is read.

`SessionState` collects a session's packets, polling requests and WebSocket legs (`LegState`)
until the session is analysed (session/ending.py) and forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.model.common import Anomaly, Direction
from analyzer.model.session import EioPacketRecord, PollingRequest, WebSocketLeg
from analyzer.session.live import LiveSocketIO

__all__ = ["MAX_SESSION_ANOMALIES", "LegState", "SessionState", "forget", "keep_anomaly"]

# anomaly records listed per session, as ConnectionApp lists per connection: one malformed
# packet costs the peer two bytes (an empty WebSocket message) and its record a few hundred,
# and the records of a session stay in memory until the session is analysed (then, in the
# analysis document, until the end of the capture); beyond it they are counted, not listed
MAX_SESSION_ANOMALIES = 10_000


@dataclass(slots=True, eq=False)
class SessionState:
    key: str
    sid: str
    version: int
    path: str
    handshake: bool = False  # the session's start is in the capture
    known: bool = False  # something of it succeeded (200, open packet, WebSocket traffic)
    ws_only_connection: int | None = None
    raws: list[tuple[int, int, EioPacketRecord]] = field(default_factory=list)
    requests: list[PollingRequest] = field(default_factory=list)
    legs: list[LegState] = field(default_factory=list)
    conns: dict[int, tuple[int, int]] = field(default_factory=dict)  # connection -> (first frame, seq)
    anomalies: list[Anomaly] = field(default_factory=list)
    anomalies_unlisted: int = 0  # past MAX_SESSION_ANOMALIES while reading
    first_unlisted: Anomaly | None = None
    dropped: int = 0
    version_warned: bool = False
    last_ts: float = 0.0  # capture time of the newest packet or request (for flush())
    last_conn: int = -1  # the connection that carried it
    closed: bool = False  # an Engine.IO close packet was seen (EIO v4 'Protocol': packet type 1)
    live: LiveSocketIO | None = None  # with a live observer: its Socket.IO decoded as it arrives


@dataclass(slots=True, eq=False)
class LegState:
    connection: int
    version: int
    session: SessionState | None
    request_frame: int
    request_ts: float
    status: int | None
    open_frame: int | None
    open_ts: float | None
    s2c_seen: bool = False
    close_direction: Direction | None = None
    close_code: int | None = None
    close_ts: float | None = None
    close_frame: int | None = None
    tcp_end: str | None = None
    tcp_end_ts: float | None = None
    tcp_end_frame: int | None = None

    def freeze(self) -> WebSocketLeg:
        return WebSocketLeg(
            self.connection,
            self.request_frame,
            self.request_ts,
            self.status,
            self.open_frame,
            self.open_ts,
            self.close_direction,
            self.close_code,
            self.close_ts,
            self.close_frame,
            self.tcp_end,
            self.tcp_end_ts,
            self.tcp_end_frame,
        )


def keep_anomaly(session: SessionState, anomaly: Anomaly) -> None:
    """A session's anomaly found while reading: listed up to MAX_SESSION_ANOMALIES, then counted."""
    if len(session.anomalies) < MAX_SESSION_ANOMALIES:
        session.anomalies.append(anomaly)
    else:
        session.anomalies_unlisted += 1
        if session.first_unlisted is None:
            session.first_unlisted = anomaly


def forget(s: SessionState) -> None:
    """Drop what an analysed session still holds. A session and its legs refer to each other: only
    the cyclic collector would free them, and it runs seldom during an analysis (api.py)."""
    s.raws = []
    s.live = None
    for leg in s.legs:
        leg.session = None
    s.legs = []
