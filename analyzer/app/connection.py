"""Per-connection application layer (placeholder until HTTP/WebSocket are wired)."""

from __future__ import annotations

from typing import Any

from analyzer.model.analysis import ConnectionRecord
from analyzer.model.common import Anomaly
from analyzer.tcp.reassembly import DirectionStream

__all__ = ["ConnectionApp", "SessionHub"]


class SessionHub:
    def finish(self) -> tuple[list[Any], list[Anomaly]]:
        return [], []


class ConnectionApp:
    def __init__(self, conn: Any, options: Any, sessions: SessionHub) -> None:
        self.conn = conn
        self.anomalies: list[Anomaly] = []

    def on_data(self, stream: DirectionStream, offset: int, data: bytes, frame: int, ts: float) -> None:
        pass

    def on_gap(self, stream: DirectionStream, offset: int, length: int, frame: int, ts: float) -> None:
        pass

    def on_end(self, stream: DirectionStream, offset: int, frame: int, ts: float) -> None:
        pass

    def finish(self, record: ConnectionRecord) -> None:
        pass
