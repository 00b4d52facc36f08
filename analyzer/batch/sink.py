"""The dataset sink: the pipeline's records as Parquet files, one per table, in a directory.

`DatasetSink(directory, capture_id)` is one more sink on the record stream
(analyzer/pipeline/sink.py): each connection and session becomes rows (batch/rows.py) as the
pipeline hands it over; rows wait in memory by the thousand (`FLUSH_ROWS`) and then go to the
table's Parquet file as one row group, so memory follows open connections, not the capture.
The batch task's WebSocket frames and messages and its sessions' packets come as rows before
the records reach this sink (batch/tap.py, Options.record_tap: their lists are tapped); lists
written as JSON (the sessions of a split capture, merged by task.merge_sessions) are read back one
record at a time, the Socket.IO packets' JSON through rawjson.ObjectFeed, which keeps
`args`/`data` as text.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from operator import itemgetter
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from analyzer.batch import rows
from analyzer.batch.rawjson import ObjectFeed
from analyzer.batch.schema import TABLES
from analyzer.model.analysis import Analysis, ConnectionRecord
from analyzer.model.session import EngineIOSession

__all__ = ["CONNECTION_TABLES", "SESSION_TABLES", "DatasetSink", "TableFiles", "table_path"]

FLUSH_ROWS = 4096
# a table's rows also go out once their payloads (the size the caller gives) pass this: 4096 rows
# of 1 MiB WebSocket messages would otherwise be held at once (the worker's 300 MB bound)
FLUSH_BYTES = 8 << 20
CONNECTION_TABLES = ("connections", "http", "ws_frames", "ws_messages", "tls", "http2")
SESSION_TABLES = ("sessions", "eio_packets", "sio_packets", "acks")


def table_path(directory: str, table: str, part: int) -> str:
    return os.path.join(directory, table, f"part-{part}.parquet")


class TableFiles:
    """One Parquet file per table under `directory/<table>/part-<part>.parquet`; rows are dicts
    without `capture_id` (added here). `close()` writes the file of every table in `tables`, empty
    ones too (so a partition always has all of them)."""

    def __init__(self, directory: str, capture_id: str, part: int, tables: Iterable[str]) -> None:
        self.directory = directory
        self.capture_id = capture_id
        self.part = part
        self.tables = tuple(tables)
        self.counts = dict.fromkeys(self.tables, 0)
        self._rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in self.tables}
        self._held = dict.fromkeys(self.tables, 0)  # payload bytes in _rows, as add_values was told
        self._writers: dict[str, pq.ParquetWriter] = {}
        # each row dict -> its values in schema order (capture_id, the first column, is added per group)
        self._getters = {t: itemgetter(*TABLES[t].names[1:]) for t in self.tables}

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.add_values(table, self._getters[table](row))

    def add_values(self, table: str, values: tuple[Any, ...], size: int = 0) -> None:
        """A row as its values in the table's column order, without `capture_id`; `size`: the
        bytes of its payloads (rows are written once FLUSH_ROWS or FLUSH_BYTES are held)."""
        buf = self._rows[table]
        buf.append(values)
        if size:
            self._held[table] += size
        if len(buf) >= FLUSH_ROWS or self._held[table] >= FLUSH_BYTES:
            self._flush(table)

    def _flush(self, table: str) -> None:
        buf = self._rows[table]
        schema = TABLES[table]
        # a row group: the rows' values as one Python list per column (zip, in C), then one
        # pa.array per column; several times faster than Table.from_pylist on dicts
        columns = list(zip(*buf, strict=True)) if buf else [()] * (len(schema) - 1)
        arrays = [pa.array([self.capture_id] * len(buf), type=pa.string())]
        arrays += [pa.array(col, type=f.type) for col, f in zip(columns, list(schema)[1:], strict=True)]
        batch = pa.Table.from_arrays(arrays, schema=schema)
        writer = self._writers.get(table)
        if writer is None:
            path = table_path(self.directory, table, self.part)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            writer = self._writers[table] = pq.ParquetWriter(path, schema, compression="zstd")
        writer.write_table(batch)
        self.counts[table] += len(buf)
        buf.clear()
        self._held[table] = 0

    def close(self) -> None:
        for table in self.tables:
            if self._rows[table] or table not in self._writers:
                self._flush(table)
            self._writers.pop(table).close()

    def abort(self) -> None:
        for writer in self._writers.values():
            with contextlib.suppress(Exception):  # the directory is thrown away anyway
                writer.close()
        self._writers.clear()


def eio_dicts(s: EngineIOSession) -> Iterator[dict[str, Any]]:
    return s.packets.values()


_JSON_KEYS = frozenset(("args", "data"))


class DatasetSink:
    """Rows of every record into TableFiles. `connections=False` leaves the connection tables
    out, `sessions=False` the session tables; `global_anomalies=False` keeps only the anomalies of
    a connection (a share of a split capture: the others are the first share's)."""

    def __init__(
        self,
        files: TableFiles,
        *,
        sessions: bool = True,
        global_anomalies: bool = True,
    ) -> None:
        self.files = files
        self.sessions = sessions
        self.global_anomalies = global_anomalies
        self.n_connections = 0
        self.n_sessions = 0
        self.n_anomalies = 0
        self.pending: list[Any] = []  # anomalies until write_anomalies

    def connection(self, record: ConnectionRecord) -> None:
        add = self.files.add
        ws = record.websocket
        frames: Iterable[dict[str, Any]] = ()
        messages: Iterable[dict[str, Any]] = ()
        n_frames = n_messages = None
        if ws is not None:
            n_frames = len(ws.frames) + ws.frames_dropped
            n_messages = len(ws.messages)
            # tapped lists: their rows were made as the records came (batch/tap.py)
            frames = () if ws.frames.tapped_list else ws.frames.values()
            messages = () if ws.messages.tapped_list else ws.messages.values()
        doc = record.to_dict(lists=False)
        self.n_connections += 1
        add("connections", rows.connection_row(doc, n_frames, n_messages))
        for row in rows.http_rows(doc):
            add("http", row)
        tls = rows.tls_row(doc)
        if tls is not None:
            add("tls", tls)
        h2 = rows.http2_row(doc)
        if h2 is not None:
            add("http2", h2)
        for f in frames:
            add("ws_frames", rows.ws_frame_row(record.id, f))
        for m in messages:
            add("ws_messages", rows.ws_message_row(record.id, m))

    def session(self, record: EngineIOSession) -> None:
        if not self.sessions:
            return
        add = self.files.add
        self.n_sessions += 1
        sid = record.sid
        info = {**record.head_dict(), **record.tail_dict()}
        sio = record.socketio
        sio_info = {**sio.head_dict(), **sio.tail_dict()} if sio is not None else None
        add("sessions", rows.session_row(info, sio_info, record.first_frame))
        if not record.packets.tapped_list:  # else their rows were made as they came (batch/tap.py)
            for p in eio_dicts(record):
                add("eio_packets", rows.eio_row(sid, p))
        if sio is not None and not sio.packets.tapped_list:
            # the packets' JSON read once, args and data kept as the JSON text the column wants
            # (not decoded into values and encoded again)
            feed = ObjectFeed(_JSON_KEYS, lambda q: add("sio_packets", rows.sio_row(sid, q)))
            sio.packets.write_to(feed)
            feed.close()
        if sio is not None:
            for a in sio.acks:
                add("acks", rows.ack_row(sid, a.to_dict()))

    def anomalies(self, anomalies: Iterable[Any]) -> None:
        """Kept until `write_anomalies`: their rows need the time of their first packet, which the
        task looks up once the capture has been read (anomalies carry a packet number, no time)."""
        for a in anomalies:
            if a.connection is None and not self.global_anomalies:
                continue
            self.n_anomalies += 1
            self.pending.append(a)

    def anomaly_frames(self) -> set[int]:
        return {a.frames[0] for a in self.pending if a.frames}

    def write_anomalies(self, times: Mapping[int, float]) -> None:
        """The kept anomalies' rows, `ts` from `times` (packet number -> time; null if absent)."""
        for a in self.pending:
            ts = times.get(a.frames[0]) if a.frames else None
            self.files.add("anomalies", rows.anomaly_row(a.to_dict(), ts))
        self.pending.clear()

    def finish(self, summary: Analysis) -> None:
        self.anomalies(summary.anomalies)
