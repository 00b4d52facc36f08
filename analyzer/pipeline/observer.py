"""The live observer (`Options.observer`): told what is decoded as the capture is read.

The connection layer (pipeline/connection.py) tells it each connection's first payload byte,
HTTP exchange, WebSocket upgrade, WebSocket message and anomaly; the session layer
(session/observer.py: SessionObserver) each Engine.IO packet with its session and each
Socket.IO packet with the acknowledgement it completes; the pipeline each connection's end
with the anomalies raised then. `export/text/live.py: LivePrinter` formats them (`socketscope
live`, the web UI's live page). None costs nothing. The sinks get the finished records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from analyzer.model.analysis import ConnectionRecord
from analyzer.model.common import Anomaly
from analyzer.model.records import HttpExchange, HttpRequest, HttpResponse, WsMessageRecord
from analyzer.session.observer import SessionObserver

if TYPE_CHECKING:
    from analyzer.tcp.tracker import TcpConnection

__all__ = ["LiveObserver", "SessionObserver"]


class LiveObserver(SessionObserver, Protocol):
    def on_connection_open(self, conn: TcpConnection) -> None:
        """The connection's first payload byte (its handshake, if captured, is over)."""

    def on_http_exchange(self, exchange: HttpExchange) -> None:
        """An HTTP exchange, once its response is complete (not the WebSocket upgrade)."""

    def on_websocket_open(self, connection: int, request: HttpRequest, response: HttpResponse | None) -> None:
        """The WebSocket upgrade of `connection`."""

    def on_ws_message(self, message: WsMessageRecord) -> None:
        """A complete text or binary WebSocket message."""

    def on_connection_close(self, record: ConnectionRecord, anomalies: Sequence[Anomaly]) -> None:
        """The connection's record, before the sinks get it, and the anomalies raised at its end
        (its TCP streams', then the ones its application layer raised, already told one by one)."""
