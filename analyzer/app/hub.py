"""Hands HTTP exchanges and WebSocket messages to the Engine.IO / Socket.IO session builder."""

from __future__ import annotations

from typing import Any

from analyzer.model.common import Anomaly
from analyzer.model.records import HttpExchange, HttpRequest, HttpResponse, WsMessageRecord

__all__ = ["SessionHub"]


class SessionHub:
    def __init__(self) -> None:
        self._builder: Any = None
        try:
            from analyzer.session.builder import SessionBuilder
        except ImportError:  # pragma: no cover - the session layer is optional while it is being built
            return
        self._builder = SessionBuilder()

    def on_http_exchange(self, ex: HttpExchange) -> None:
        if self._builder is not None:
            self._builder.on_http_exchange(ex)

    def on_websocket_open(self, connection: int, request: HttpRequest, response: HttpResponse | None) -> None:
        if self._builder is not None:
            self._builder.on_websocket_open(connection, request, response)

    def on_ws_message(self, msg: WsMessageRecord) -> None:
        if self._builder is not None:
            self._builder.on_ws_message(msg)

    def finish(self) -> tuple[list[Any], list[Anomaly]]:
        if self._builder is None:
            return [], []
        sessions, anomalies = self._builder.finish()
        return list(sessions), list(anomalies)
