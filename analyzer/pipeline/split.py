"""Splitting one capture across several runs of the pipeline (`socketscope batch`).

`Options.flow_share = (k, n)`: every run reads the whole file and tracks every TCP connection (so
connection ids, ends and the capture's counts are those of one run), but only the connections
whose `flow_hash` is k modulo n get their application layer (TLS, HTTP, WebSocket) and a record;
the others' bytes are dropped unread (`SkippedApp`). The n runs together make each connection's
record exactly once.

Engine.IO sessions span connections (polling and WebSocket legs), so no share sees a whole one.
`Options.session_tap` replaces the session layer by `TapSessions`: each call the connection
layer makes into it (its input, in order) is handed to the tap with the packet number and time
it concerns; the caller replays the calls of all shares, merged by packet number, into one
SessionBuilder (analyzer/batch/task.py).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from analyzer.model.common import Anomaly, Direction
from analyzer.model.records import HttpExchange, HttpRequest, HttpResponse, WsMessageRecord
from analyzer.model.session import EngineIOSession
from analyzer.session.builder import SessionBuilder
from analyzer.tcp.tracker import TcpConnection

__all__ = ["SessionCall", "SkippedApp", "TapSessions", "client_hash", "flow_hash", "in_share"]

# (method of SessionBuilder, its arguments, packet number, time): what TapSessions hands the tap
SessionCall = tuple[str, tuple[Any, ...], int, float]


def flow_hash(conn: TcpConnection) -> int:
    """A hash of the connection's two endpoints that does not depend on which one is the client
    (roles may be swapped after the first packet, tcp/tracker.py)."""
    a, b = sorted((conn.client, conn.server))
    return zlib.crc32(a[0] + a[1].to_bytes(2, "big") + b[0] + b[1].to_bytes(2, "big"))


def client_hash(conn: TcpConnection) -> int:
    """A hash of the client's IP address (`--jobs`: all the connections of one client, so the
    polling and WebSocket legs of its Engine.IO sessions and its TLS resumptions, land in one
    share). When the roles are not known yet (no SYN, no HTTP line: tcp/tracker.py) the client is
    a guess that may be swapped later: then the hash of both endpoints (`flow_hash`)."""
    if not conn.roles_known:
        return flow_hash(conn)
    return zlib.crc32(conn.client[0])


def in_share(
    conn: TcpConnection,
    share: tuple[int, int],
    by_client: bool = False,
    groups: dict[tuple[tuple[bytes, int], tuple[bytes, int]], int] | None = None,
) -> bool:
    k, n = share
    if groups is not None:
        a, b = conn.client, conn.server
        found = groups.get((a, b) if a <= b else (b, a))
        if found is not None:
            return found == k
    return (client_hash(conn) if by_client else flow_hash(conn)) % n == k


class SkippedApp:
    """The application layer of a connection another share decodes: its bytes are dropped."""

    __slots__ = ("anomalies",)

    def __init__(self) -> None:
        self.anomalies: list[Anomaly] = []

    def on_data(self, stream: Any, offset: int, data: bytes, frame: int, ts: float) -> None:
        return None

    def on_gap(self, stream: Any, offset: int, length: int, frame: int, ts: float) -> None:
        return None

    def on_end(self, stream: Any, offset: int, frame: int, ts: float) -> None:
        return None


class TapSessions(SessionBuilder):
    """The session layer's input, handed to `tap` as SessionCalls instead of being stitched here."""

    def __init__(self, tap: Callable[[SessionCall], None]) -> None:
        super().__init__()
        self.tap = tap

    def on_http_exchange(self, ex: HttpExchange) -> None:
        last = ex.response if ex.response is not None else ex.request
        frame, ts = (last.frame, last.ts) if last is not None else (0, 0.0)
        self.tap(("on_http_exchange", (ex,), frame, ts))

    def on_websocket_open(self, connection: int, request: HttpRequest, response: HttpResponse | None) -> None:
        last = response if response is not None else request
        self.tap(("on_websocket_open", (connection, request, response), last.frame, last.ts))

    def on_ws_message(self, msg: WsMessageRecord) -> None:
        self.tap(("on_ws_message", (msg,), msg.frame, msg.ts))

    def on_websocket_close(
        self, connection: int, direction: Direction, code: int | None, ts: float, frame: int
    ) -> None:
        self.tap(("on_websocket_close", (connection, direction, code, ts, frame), frame, ts))

    def on_connection_end(self, connection: int, kind: str, ts: float, frame: int) -> None:
        self.tap(("on_connection_end", (connection, kind, ts, frame), frame, ts))

    def flush(
        self, now_ts: float, quiet_seconds: float = 120.0, settle_seconds: float = 10.0
    ) -> tuple[list[EngineIOSession], list[Anomaly]]:
        return [], []

    def finish(
        self, emit: Callable[[EngineIOSession], None] | None = None
    ) -> tuple[list[EngineIOSession], list[Anomaly]]:
        return [], []
