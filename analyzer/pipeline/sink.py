"""The sink contract: what a run of the pipeline hands its finished records to.

`run(reader, options, *sinks)` (pipeline/run.py) gives every sink

- `connection(record)`: each TCP connection's record, as soon as the connection is over;
- `session(record)`: each Engine.IO session's record, as soon as the session is over;
- `finish(summary)`: once, when the capture has been read: the Analysis with the capture
  summary, the anomalies and the layer statistics, without records (the sink has had them one
  by one; `CollectingSink` keeps them, for an Analysis with everything).

Records come in the order they are complete, which is neither id nor capture order: a sink
that writes in order puts them back (connections by id, sessions by `session_order`).

A record is the sinks' to read, not to change: with several sinks each is handed the same
record, and its spill files (`Options.spill_records`: WebSocket frames and messages, session
packets, in unnamed temporary files) are closed by the pipeline once every sink has had it.
So a sink reads what it needs in `connection`/`session`, not later, and closes nothing of it.

A sink that never reads WebSocket frames and messages says so with `reads_ws_records = False`
(the text summary without `--messages`): when no sink of a run reads them, their records are
counted, not serialized (`Options.spill_ws_records`). A sink without the attribute reads them.
Likewise `reads_ws_frames = False` for the frames alone (the exports: they read messages), which
a sink reads by default when it reads the records (`Options.spill_ws_frames`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from analyzer.model.analysis import Analysis, ConnectionRecord
from analyzer.model.session import EngineIOSession
from analyzer.model.spill import RecordList

__all__ = [
    "CollectingSink",
    "Sink",
    "close_connection_spills",
    "close_session_spills",
    "reads_ws_frames",
    "reads_ws_records",
    "session_order",
]


class Sink(Protocol):
    def connection(self, record: ConnectionRecord) -> None: ...

    def session(self, record: EngineIOSession) -> None: ...

    def finish(self, summary: Analysis) -> None: ...


def reads_ws_records(sink: Sink) -> bool:
    """Whether `sink` reads the WebSocket frames and messages of the records it is handed."""
    return bool(getattr(sink, "reads_ws_records", True))


def reads_ws_frames(sink: Sink) -> bool:
    """Whether `sink` reads the WebSocket frames (not only the messages) of the records."""
    return reads_ws_records(sink) and bool(getattr(sink, "reads_ws_frames", True))


def session_order(sessions: Iterable[EngineIOSession]) -> list[EngineIOSession]:
    """Sessions in the order the analysis lists them: by first frame, ties in the order given."""
    return sorted(sessions, key=lambda s: f if (f := s.first_frame) is not None else 1 << 62)


class CollectingSink:
    """Keeps every record in memory. After `finish`, `analysis` is the whole Analysis (what
    `analyze_file` returns): connections in id order, sessions in the analysis' order. The
    records are whole only when their lists hold the records: `Options(spill_records=False)`
    (the default; with lists written to disk it raises ValueError, as the pipeline closes them)."""

    def __init__(self) -> None:
        self.connections: list[ConnectionRecord] = []
        self.sessions: list[EngineIOSession] = []
        self.analysis: Analysis | None = None

    def connection(self, record: ConnectionRecord) -> None:
        _in_memory(_connection_lists(record))
        self.connections.append(record)

    def session(self, record: EngineIOSession) -> None:
        _in_memory(_session_lists(record))
        self.sessions.append(record)

    def finish(self, summary: Analysis) -> None:
        self.analysis = Analysis(
            capture=summary.capture,
            connections=sorted(self.connections, key=lambda r: r.id),
            engineio_sessions=session_order(self.sessions),
            anomalies=summary.anomalies,
            layer_stats=summary.layer_stats,
        )


def _connection_lists(record: ConnectionRecord) -> tuple[RecordList[Any], ...]:
    ws = record.websocket
    return () if ws is None else (ws.frames, ws.messages)


def _session_lists(record: EngineIOSession) -> tuple[RecordList[Any], ...]:
    sio = record.socketio
    return (record.packets,) if sio is None else (record.packets, sio.packets)


def _in_memory(lists: Iterable[RecordList[Any]]) -> None:
    if not all(x.in_memory for x in lists):
        raise ValueError("CollectingSink keeps records in memory: run it without Options.spill_records")


def close_connection_spills(record: ConnectionRecord) -> None:
    """A connection's spill files (its WebSocket frames and messages); closing twice is harmless."""
    for x in _connection_lists(record):
        x.close()


def close_session_spills(record: EngineIOSession) -> None:
    """A session's spill files (its Engine.IO and Socket.IO packets)."""
    for x in _session_lists(record):
        x.close()
