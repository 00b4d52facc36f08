"""`export --format jsonl` while the capture is read: memory follows open connections.

Records are made when the pipeline hands a connection or a session over, from the messages
and packets as the analysis document has them (read back from the files they were spilled
to), and wait as JSON lines in an unnamed temporary file. At the end the selection is known
(which sessions match, which connections they carried, which session each connection
belongs to) and the kept lines are written in the order `write_jsonl` gives: each
connection's or session's records in their own order, merged by packet number, ties by
connection id or session order (analyzer/export/jsonl.py; a test keeps the two equal).

The selection (docs/exports.md, analyzer/export/select.py) decided when it can be: a session
is complete when handed over, so whether it is selected, and which of its packets are, is
known then; a WebSocket message waits for the end, where its connection's session is known.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import IO, Any

from analyzer.export.jsonl import eio_record, json_line, sio_record, ws_record
from analyzer.export.select import Selection
from analyzer.model.analysis import Analysis, ConnectionRecord
from analyzer.model.spill import JsonSpill, iter_elements
from analyzer.model.tempfile_fd import AppendFile
from analyzer.model.websocket import message_dict

__all__ = ["StreamingJsonl"]

_WRITE = 256 << 10
_ACKS = ("ACK", "BINARY_ACK")
_EVENTS = ("EVENT", "BINARY_EVENT")
_WS_HEAD = '{"layer":"websocket",'  # a WebSocket line as stored: the rest after its sid


class _Lines:
    """JSON lines in a temporary file, each kept as (packet number, offset, length)."""

    def __init__(self) -> None:
        self._file = AppendFile()
        self._pending: list[bytes] = []
        self._size = 0  # bytes written or pending

    def add(self, text: str) -> tuple[int, int]:
        data = text.encode("utf-8")  # json_line made it encodable
        at = self._size
        self._pending.append(data)
        self._size += len(data)
        if self._size - self._file.size >= _WRITE:
            self._flush()
        return at, len(data)

    def _flush(self) -> None:
        if self._pending:
            self._file.write(b"".join(self._pending))
            self._pending.clear()

    def read(self, at: int, length: int) -> str:
        self._flush()
        return self._file.pread(length, at).decode("utf-8")

    def close(self) -> None:
        self._pending.clear()
        self._file.close()


def _values(spill: JsonSpill) -> Iterator[Any]:
    return (value for _, value in iter_elements(spill.pieces()))


class StreamingJsonl:
    """Hand it the pipeline's connections and sessions, then `finish` writes the export."""

    def __init__(self, selection: Selection, layer: str | None) -> None:
        self.selection = selection
        self.layer = layer  # None: decided at the end (export.select.default_layer)
        self.connection_ids: set[int] = set()
        self.selected_connections: set[int] = set()  # known at the end
        self.sids: set[str] = set()
        self._lines = _Lines()
        self._ws: dict[int, list[tuple[int, int, int]]] = {}  # connection -> its messages' lines
        # sessions in the order they are handed over: (first frame, sid, connections, selected,
        # has Socket.IO, Engine.IO lines, Socket.IO lines)
        self._sessions: list[tuple[int, str, tuple[int, ...], bool, bool, list[Any], list[Any]]] = []

    def _wants(self, layer: str) -> bool:
        return self.layer is None or self.layer == layer

    def connection(self, rec: ConnectionRecord) -> None:
        self.connection_ids.add(rec.id)
        ws = rec.websocket
        if ws is None:
            return
        spill = ws.spilled_messages
        sel = self.selection.connections
        if self._wants("websocket") and (not sel or rec.id in sel):
            lines = self._ws.setdefault(rec.id, [])
            messages = _values(spill) if spill is not None else map(message_dict, ws.messages)
            for m in messages:
                line = json_line(ws_record(None, rec.id, m))
                assert line.startswith(_WS_HEAD + '"sid":null,')
                lines.append((m["frame"], *self._lines.add(line[len(_WS_HEAD) + len('"sid":null,') :])))
        for s in (ws.spilled_frames, spill):
            if s is not None:
                s.close()

    def session(self, s: Any) -> None:
        sel = self.selection
        self.sids.add(s.sid)
        sio = s.socketio

        def sio_packets() -> Iterator[dict[str, Any]]:
            if sio is None:
                return iter(())
            if sio.spilled_packets is not None:
                return _values(sio.spilled_packets)
            return (q.to_dict() for q in sio.packets)

        def matches(p: dict[str, Any]) -> bool:
            if sel.namespaces and p["nsp"] not in sel.namespaces:
                return False
            return not sel.events or p["event"] in sel.events

        selected = (
            (not sel.sids or s.sid in sel.sids)
            and (not sel.connections or bool(sel.connections.intersection(s.connections)))
            and (not sel.packet_level or any(matches(p) for p in sio_packets()))
        )
        eio_lines: list[tuple[int, int, int]] = []
        sio_lines: list[tuple[int, int, int]] = []
        if selected:
            keep = sel.connections  # the session's packets travel on its own connections only
            if self._wants("engineio"):
                eio = (
                    _values(s.spilled_packets)
                    if s.spilled_packets is not None
                    else (p.to_dict() for p in s.packets)
                )
                for d in eio:
                    if not keep or d["connection"] in keep:
                        eio_lines.append((d["frame"], *self._lines.add(json_line(eio_record(s.sid, d)))))
            if self._wants("socketio") and sio is not None:
                answers = {
                    (a.nsp, a.ack_id, a.request_direction.other.value)
                    for a in sio.acks
                    if sel.events
                    and a.event in sel.events
                    and (not sel.namespaces or a.nsp in sel.namespaces)
                }
                for d in sio_packets():
                    if keep and d["connection"] not in keep:
                        continue
                    answer = d["type"] in _ACKS and (d["nsp"], d["ack_id"], d["direction"]) in answers
                    if not sel.packet_level or matches(d) or answer:
                        sio_lines.append((d["frame"], *self._lines.add(json_line(sio_record(s.sid, d)))))
        first = s.first_frame
        self._sessions.append(
            (
                first if first is not None else 1 << 62,
                s.sid,
                tuple(s.connections),
                selected,
                sio is not None,
                eio_lines,
                sio_lines,
            )
        )
        for spill in (s.spilled_packets, sio.spilled_packets if sio is not None else None):
            if spill is not None:
                spill.close()

    def finish(self, analysis: Analysis, out: IO[str]) -> int:
        """Write the kept lines; how many."""
        for rec in analysis.connections:  # retained ones, if the pipeline kept any
            self.connection(rec)
        for s in analysis.engineio_sessions:
            self.session(s)
        sel = self.selection
        # the analysis lists sessions by their first frame (EngineIOSession.first_frame)
        sessions = [t for _, t in sorted(enumerate(self._sessions), key=lambda e: (e[1][0], e[0]))]
        chosen = [t for t in sessions if t[3]]
        ids = set(self.connection_ids)
        if sel.connections:
            ids &= sel.connections
        if sel.sids or sel.packet_level:
            ids &= {c for t in chosen for c in t[2]}
        layer = self.layer
        if layer is None:
            layer = "socketio" if any(t[4] for t in chosen) else "engineio" if chosen else "websocket"
        self.selected_connections = ids
        streams: list[list[tuple[int, int, int]]]
        sid_of: dict[int, str] = {}
        cids = [cid for cid in sorted(self._ws) if cid in ids]
        if layer == "websocket":
            for t in sessions:  # a connection's session: the first that used it
                for cid in t[2]:
                    sid_of.setdefault(cid, t[1])
            streams = [self._ws[cid] for cid in cids]
        else:
            streams = [t[5] if layer == "engineio" else t[6] for t in chosen]
        n = 0
        for i, (_frame, at, length) in heapq.merge(
            *([(k, entry) for entry in stream] for k, stream in enumerate(streams)),
            key=lambda e: e[1][0],
        ):
            text = self._lines.read(at, length)
            if layer == "websocket":
                cid = cids[i]
                sid = sid_of.get(cid)
                text = (
                    _WS_HEAD
                    + '"sid":'
                    + (json_line({"": sid})[4:-2] if sid is not None else "null")
                    + ","
                    + text
                )
            out.write(text)
            n += 1
        self._lines.close()
        return n
