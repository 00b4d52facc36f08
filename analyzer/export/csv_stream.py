"""`export --format csv` while the capture is read: memory follows open connections.

Each connection's and session's rows are made when the pipeline hands it over (from the
messages and packets as the analysis document has them) and wait, as finished CSV lines, in
an unnamed temporary file; a connection's table row stays in memory. At the end the
selection is known (analyzer/export/streamsel.py) and each table is written in the order
`write_csv` gives, with the cell that names a session put into its line then (the line waits
without it; where it goes is kept beside the line's place): the same files (a test compares
them on every capture and kind of selection).
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
from analyzer.export.select import Selection
from analyzer.export.streamsel import (
    LineSpill,
    Spots,
    StreamedSelection,
    close_connection_spills,
    close_spills,
    eio_dicts,
    sio_dicts,
    spilled_values,
)
from analyzer.model.analysis import Analysis, ConnectionRecord
from analyzer.model.websocket import message_dict
from analyzer.protocols.engineio import parse_engineio_query

__all__ = ["StreamingCsv"]

Spot = tuple[int, int]  # where a line waits in the file
_WS_SID = 1  # the column of websocket_messages and http that names the session, filled in at the end
_HTTP_SID = 2


class StreamingCsv(StreamedSelection):
    def __init__(self, selection: Selection, raw: bool = False) -> None:
        super().__init__(selection)
        self.raw = raw
        self._rows = LineSpill()
        self._conn_rows: dict[int, list[Any]] = {}  # the connections table: cid -> its row
        self._ws: dict[int, Spots] = {}  # cid -> its messages' lines (sid left out: where it goes, spot)
        self._http: dict[
            int, list[tuple[int, Spot, int | None, str | None]]
        ] = {}  # where the sid goes, spot, request frame, sid of the target
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

    def connection(self, rec: ConnectionRecord) -> None:
        self.see_connection(rec.id)
        ws = rec.websocket
        frames_spill = ws.spilled_frames if ws is not None else None
        messages_spill = ws.spilled_messages if ws is not None else None
        if not self.selection.connections or rec.id in self.selection.connections:
            n_frames = n_messages = None
            if ws is not None:
                n_frames = (
                    frames_spill.count if frames_spill is not None else len(ws.frames)
                ) + ws.frames_dropped
                n_messages = messages_spill.count if messages_spill is not None else len(ws.messages)
                messages = (
                    spilled_values(messages_spill)
                    if messages_spill is not None
                    else map(message_dict, ws.messages)
                )
                spots = self._ws[rec.id] = Spots()
                for m in messages:
                    at, spot = self._put_open("websocket_messages", ws_row(rec.id, None, m), _WS_SID)
                    spots.append(at, spot)
            self._conn_rows[rec.id] = connection_row(rec, [], n_frames, n_messages)
            http = self._http.setdefault(rec.id, [])
            for x in rec.http:
                q = x.request
                fallback = None
                if q is not None:
                    query = parse_engineio_query(q.target)
                    fallback = query.sid if query is not None else None
                at, spot = self._put_open("http", http_row(None, x), _HTTP_SID)
                http.append((at, spot, q.frame if q is not None else None, fallback))
        close_connection_spills(rec)

    def session(self, s: Any) -> None:
        sel = self.selection
        sio = s.socketio
        # which session an HTTP request belongs to (export.select.Selected), settled at the end
        self._requests.append([(r.connection, r.request_frame) for r in (*s.requests, *s.websockets)])

        seen = self.see_session(s)
        eio_spots, sio_spots, ack_spots = Spots(), Spots(), Spots()
        seen.kept = [eio_spots, sio_spots, ack_spots]
        if seen.selected:
            keep = sel.connections  # the session's packets travel on its own connections only
            for d in eio_dicts(s):
                if not keep or d["connection"] in keep:
                    eio_spots.append(0, self._put("engineio_packets", eio_row(s.sid, d)))
            answers = self.answer_keys(s)
            frames: set[int] = set()
            for d in sio_dicts(s):
                if keep and d["connection"] not in keep:
                    continue
                frames.add(d["frame"])
                answer = (
                    d["type"] in ("ACK", "BINARY_ACK") and (d["nsp"], d["ack_id"], d["direction"]) in answers
                )
                if not sel.packet_level or self.matches(d) or answer:
                    sio_spots.append(0, self._put("socketio_packets", sio_row(s.sid, d)))
            for a in sio.acks if sio is not None else ():  # export.select.Selected.acks
                if sel.namespaces and a.nsp not in sel.namespaces:
                    continue
                if sel.events and a.event not in sel.events:
                    continue
                if a.request_frame in frames:
                    ack_spots.append(0, self._put("acks", ack_row(s.sid, a)))
        close_spills(s)

    def finish(self, analysis: Analysis, directory: str) -> dict[str, int]:
        self.take_retained(analysis)
        sessions, chosen = self.resolve()
        ids = self.selected_connections
        cids = sorted(c for c in self._conn_rows if c in ids)
        sids_of: dict[int, list[str]] = {}
        request_sid: dict[tuple[int, int], str] = {}
        for t in sessions:  # in the analysis' order: a later session's claim on a request wins
            for c in dict.fromkeys(t.connections):
                sids_of.setdefault(c, []).append(t.sid)
            for key in self._requests[t.arrival]:
                request_sid[key] = t.sid
        everything = self.selection.everything

        def connections() -> Iterator[list[Any]]:
            for c in cids:
                row = self._conn_rows[c]
                row[7] = sids_of.get(c, [])
                yield row

        def ws_messages() -> Iterator[str]:
            for c in cids:
                sid = sids_of[c][0] if c in sids_of else None
                for at, offset, length in self._ws.get(c, ()):
                    yield self._line("websocket_messages", _WS_SID, at, (offset, length), sid)

        def http() -> Iterator[str]:
            for c in cids:
                for at, spot, frame, fallback in self._http.get(c, ()):
                    sid = request_sid.get((c, frame)) if frame is not None else None
                    yield self._line("http", _HTTP_SID, at, spot, sid if sid is not None else fallback)

        def of_sessions(k: int) -> Iterator[str]:
            for t in chosen:
                for _, at, length in t.kept[k]:
                    yield self._rows.read(at, length)

        def anomalies() -> Iterator[list[Any]]:
            for a in analysis.anomalies:
                if (a.connection is None and everything) or (
                    a.connection is not None and a.connection in ids
                ):
                    yield anomaly_row(a)

        lines = {
            "websocket_messages": ws_messages(),
            "engineio_packets": of_sessions(0),
            "socketio_packets": of_sessions(1),
            "acks": of_sessions(2),
            "http": http(),
        }
        os.makedirs(directory, exist_ok=True)
        counts = {
            table: write_lines(directory, table, lines[table])
            if table in lines
            else write_table(
                directory, table, connections() if table == "connections" else anomalies(), self.raw
            )
            for table in TABLES
        }
        self._rows.close()
        return counts
