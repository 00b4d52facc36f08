"""Hands HTTP exchanges and WebSocket messages to the Engine.IO / Socket.IO session builder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from analyzer.model.common import Anomaly, Direction
from analyzer.model.records import HttpExchange, HttpRequest, HttpResponse, WsMessageRecord

__all__ = ["SessionHub"]


class SessionHub:
    def __init__(self, observer: Any = None, *, spill_payloads: bool = False) -> None:
        self._builder: Any = None
        self.observer = observer  # Options.observer: sees each exchange, upgrade and message as decoded
        try:
            from analyzer.session.builder import SessionBuilder
            from analyzer.session.payloads import PayloadStore
        except ImportError:  # pragma: no cover - the session layer is optional while it is being built
            return
        self._builder = SessionBuilder(payloads=PayloadStore() if spill_payloads else None)

    def on_http_exchange(self, ex: HttpExchange) -> None:
        if self.observer is not None:
            self.observer.on_http_exchange(ex)
        if self._builder is not None:
            self._builder.on_http_exchange(ex)

    def on_websocket_open(self, connection: int, request: HttpRequest, response: HttpResponse | None) -> None:
        if self.observer is not None:
            self.observer.on_websocket_open(connection, request, response)
        if self._builder is not None:
            self._builder.on_websocket_open(connection, request, response)

    def on_ws_message(self, msg: WsMessageRecord) -> None:
        if self.observer is not None:
            self.observer.on_ws_message(msg)
        if self._builder is not None:
            self._builder.on_ws_message(msg)

    def on_websocket_close(
        self, connection: int, direction: Direction, code: int | None, ts: float, frame: int
    ) -> None:
        if self._builder is not None:
            self._builder.on_websocket_close(connection, direction, code, ts, frame)

    def on_connection_end(self, connection: int, kind: str, ts: float, frame: int) -> None:
        if self._builder is not None:
            self._builder.on_connection_end(connection, kind, ts, frame)

    def flush(self, now_ts: float) -> tuple[list[Any], list[Anomaly]]:
        """Sessions that are over, finalized early (streaming); see SessionBuilder.flush."""
        if self._builder is None:
            return [], []
        sessions, anomalies = self._builder.flush(now_ts)
        return list(sessions), list(anomalies)

    def finish(self, emit: Callable[[Any], None] | None = None) -> tuple[list[Any], list[Anomaly]]:
        """Sessions still open at the end; with `emit`, handed there one at a time instead."""
        if self._builder is None:
            return [], []
        sessions, anomalies = self._builder.finish(emit)
        return list(sessions), list(anomalies)
