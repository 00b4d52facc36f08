"""`export --format csv`: the CSV sink. Memory follows open connections.

Each connection's and session's rows are made when the pipeline hands it over (from the
messages and packets as the analysis document has them) and wait, as finished CSV lines, in
an unnamed temporary file; a connection's table row stays in memory. At the end the
selection is known (analyzer/export/select.py) and each table is written: connections and
their messages and exchanges in id order, sessions' packets and acks in the analysis' order
of sessions, anomalies in the analysis' order. The cell that names a session is put into its
line then (the line waits without it; where it goes is kept beside the line's place).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from analyzer.export.csvout import (
    TABLES,
    ack_row,
    anomaly_row,
    cell_field,
    connection_row,
    csv_fields,
    csv_line,
    eio_row,
    http_row,
    row_cells,
    sio_row,
    write_lines,
    write_table,
    ws_row,
)
from analyzer.export.keep import Keep
from analyzer.export.select import Selection, SessionSeen, StreamedSelection
from analyzer.export.streamsel import LineSpill, Spots
from analyzer.model.analysis import Analysis, ConnectionRecord
from analyzer.model.session import EngineIOSession
from analyzer.protocols.engineio import parse_engineio_query
from analyzer.query import Filter, connection_context, session_context

__all__ = ["CsvSink"]

Spot = tuple[int, int]  # where a line waits in the file
_WS_SID = 1  # the column of websocket_messages and http that names the session, filled in at the end
_HTTP_SID = 2


class CsvSink(StreamedSelection):
    """`<table>.csv` for every table into `directory` (created if needed); `counts` is the rows
    per table, once finished. Free-text cells are defused for spreadsheets unless `raw`."""

    reads_ws_frames = False  # WebSocket messages only: the frames are counted (pipeline/sink.py)

    def __init__(
        self, directory: str, selection: Selection | None = None, raw: bool = False, flt: Filter | None = None
    ) -> None:
        """`flt` (`export --filter`, docs/filters.md) keeps the rows of the records it matches
        (analyzer/export/keep.py); the acks table keeps the pairs whose request it keeps."""
        self.keep = Keep(flt) if flt is not None else None
        self._conn_kept: set[int] = set()
        super().__init__(selection or Selection())
        self.directory = directory
        self.raw = raw
        self.counts: dict[str, int] = {}
        self._rows = LineSpill()
        self._conn_rows: dict[int, list[Any]] = {}  # the connections table: cid -> its row
        self._ws: dict[int, Spots] = {}  # cid -> its messages' lines (sid left out: where it goes, spot)
        # cid -> its exchanges: where the sid goes, spot, request frame, sid of the target
        self._http: dict[int, list[tuple[int, Spot, int | None, str | None]]] = {}
        self._requests: list[list[tuple[int, int]]] = []  # per session (arrival): (connection, request frame)

    def _put(self, table: str, row: list[Any]) -> Spot:
        """The row's finished CSV line goes to the file."""
        return self._rows.add(csv_line(row_cells(table, row, self.raw)))

    def _put_open(self, table: str, row: list[Any], column: int) -> tuple[int, Spot]:
        """The row's line without the cell of `column` (put in by `_line`): where it goes, spot."""
        cells = row_cells(table, row, self.raw)
        head = csv_fields(cells[:column]) + "," if column else ""
        tail = ("," + csv_fields(cells[column + 1 :]) if column + 1 < len(cells) else "") + "\r\n"
        return len(head), self._rows.add(head + tail)

    def _line(self, table: str, column: int, at: int, spot: Spot, value: Any) -> str:
        text = self._rows.read(*spot)
        return text[:at] + cell_field(table, column, value, self.raw) + text[at:]

    def connection(self, record: ConnectionRecord) -> None:
        self.see_connection(record.id)
        if not self.wants_connection(record.id):
            return
        ws = record.websocket
        n_frames = n_messages = None
        if ws is not None:
            n_frames = len(ws.frames) + ws.frames_dropped
            n_messages = len(ws.messages)
            spots = self._ws[record.id] = Spots()
            keep, ctx = self.keep, connection_context(record)
            for m in ws.messages.values():
                if keep is not None and not keep.ws_msg(m, ctx):
                    continue
                at, spot = self._put_open("websocket_messages", ws_row(record.id, None, m), _WS_SID)
                spots.append(at, spot)
        self._conn_rows[record.id] = connection_row(record, [], n_frames, n_messages)
        if self.keep is None or self.keep.tcp(record):
            self._conn_kept.add(record.id)
        http = self._http.setdefault(record.id, [])
        for x in record.http:
            if self.keep is not None and not self.keep.http(x, connection_context(record)):
                continue
            q = x.request
            fallback = None
            if q is not None:
                query = parse_engineio_query(q.target)
                fallback = query.sid if query is not None else None
            at, spot = self._put_open("http", http_row(None, x), _HTTP_SID)
            http.append((at, spot, q.frame if q is not None else None, fallback))

    def session(self, record: EngineIOSession) -> None:
        # which session an HTTP request belongs to, settled at the end
        self._requests.append(_requests(record))
        seen = self.see_session(record)
        eio_spots, sio_spots, ack_spots = Spots(), Spots(), Spots()
        seen.kept = [eio_spots, sio_spots, ack_spots]
        if not seen.selected:
            return
        sid = record.sid
        keep, ctx = self.keep, session_context(record)
        for d in self.eio_packets(record):
            if keep is None or keep.eio(d, ctx):
                eio_spots.append(0, self._put("engineio_packets", eio_row(sid, d)))
        frames: set[int] = set()
        kept: set[int] = set()
        # a filter may read the arguments: decoded then; else their JSON text as it is
        for d, args, data in self.sio_entries(record, frames, decoded=keep is not None):
            if keep is None or keep.sio(d, ctx):
                kept.add(d["frame"])
                sio_spots.append(0, self._put("socketio_packets", sio_row(sid, d, args, data)))
        for a in self.acks(record, frames if keep is None else frames & kept):
            ack_spots.append(0, self._put("acks", ack_row(sid, a)))

    def finish(self, summary: Analysis) -> None:
        sessions, chosen = self.resolve()
        cids = sorted(c for c in self._conn_rows if c in self.selected_connections)
        lines = {
            "websocket_messages": self._ws_lines(cids, sessions),
            "engineio_packets": self._session_lines(chosen, 0),
            "socketio_packets": self._session_lines(chosen, 1),
            "acks": self._session_lines(chosen, 2),
            "http": self._http_lines(cids, sessions),
        }
        rows = {
            "connections": self._connection_rows(cids, sessions),
            "anomalies": (
                anomaly_row(a)
                for a in self.anomalies(summary.anomalies)
                if self.keep is None or self.keep.anomaly(a)
            ),
        }
        os.makedirs(self.directory, exist_ok=True)
        self.counts = {
            table: write_lines(self.directory, table, lines[table])
            if table in lines
            else write_table(self.directory, table, rows[table], self.raw)
            for table in TABLES
        }
        self._rows.close()

    def _connection_rows(self, cids: list[int], sessions: list[SessionSeen]) -> Iterator[list[Any]]:
        sids_of = _sids_of(sessions)
        for c in cids:
            if c not in self._conn_kept:
                continue
            row = self._conn_rows[c]
            row[7] = sids_of.get(c, [])
            yield row

    def _ws_lines(self, cids: list[int], sessions: list[SessionSeen]) -> Iterator[str]:
        sids_of = _sids_of(sessions)  # a connection's session: the first that used it
        for c in cids:
            sid = sids_of[c][0] if c in sids_of else None
            for at, offset, length in self._ws.get(c, ()):
                yield self._line("websocket_messages", _WS_SID, at, (offset, length), sid)

    def _http_lines(self, cids: list[int], sessions: list[SessionSeen]) -> Iterator[str]:
        request_sid: dict[tuple[int, int], str] = {}
        for t in sessions:  # in the analysis' order: a later session's claim on a request wins
            for key in self._requests[t.arrival]:
                request_sid[key] = t.sid
        for c in cids:
            for at, spot, frame, fallback in self._http.get(c, ()):
                sid = request_sid.get((c, frame)) if frame is not None else None
                yield self._line("http", _HTTP_SID, at, spot, sid if sid is not None else fallback)

    def _session_lines(self, chosen: list[SessionSeen], k: int) -> Iterator[str]:
        for t in chosen:
            for _, at, length in t.kept[k]:
                yield self._rows.read(at, length)


def _sids_of(sessions: list[SessionSeen]) -> dict[int, list[str]]:
    """Connection -> the sessions that used it, in the analysis' order."""
    out: dict[int, list[str]] = {}
    for t in sessions:
        for c in dict.fromkeys(t.connections):
            out.setdefault(c, []).append(t.sid)
    return out


def _requests(s: EngineIOSession) -> list[tuple[int, int]]:
    """(connection, request frame) of a session's HTTP requests: polling, then WebSocket upgrades."""
    return [(r.connection, r.request_frame) for r in s.requests] + [
        (w.connection, w.request_frame) for w in s.websockets
    ]
