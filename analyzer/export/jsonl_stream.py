"""`export --format jsonl`: the JSON Lines sink. Memory follows open connections.

Records are made when the pipeline hands a connection or a session over, from the messages
and packets as the analysis document has them (read back from the files they were spilled
to), and wait as JSON lines in an unnamed temporary file. At the end the selection is known
(which sessions match, which connections they carried, which session each connection
belongs to) and the kept lines are written: each connection's or session's records in their
own order, merged by packet number, ties by connection id or session order.

The layer, when none is asked for: Socket.IO if a selected session has some, else Engine.IO if
any session is selected, else WebSocket.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import IO

from analyzer.export.jsonl import LAYERS, eio_record, json_line, sio_line, ws_record
from analyzer.export.select import Selection, StreamedSelection
from analyzer.export.streamsel import LineSpill, Spots
from analyzer.model.analysis import Analysis, ConnectionRecord
from analyzer.model.session import EngineIOSession
from analyzer.query import Filter, Subject, connection_context, session_context

__all__ = ["JsonlSink"]

_WS_HEAD = '{"layer":"websocket",'  # a WebSocket line as stored: the rest after its sid


class JsonlSink(StreamedSelection):
    """The records of one layer (`layer`, or None: decided at the end) to `out`, one JSON text a
    line; `written` is how many, `layer` the layer, once finished."""

    reads_ws_frames = False  # WebSocket messages only: the frames are counted (pipeline/sink.py)

    def __init__(
        self,
        out: IO[str],
        selection: Selection | None = None,
        layer: str | None = None,
        flt: Filter | None = None,
    ) -> None:
        """`flt` (`export --filter`, docs/filters.md) keeps the records it matches."""
        if layer is not None and layer not in LAYERS:
            raise ValueError(f"unknown layer {layer!r}; one of {', '.join(LAYERS)}")
        super().__init__(selection or Selection())
        self.out = out
        self.layer = layer
        self.written = 0
        self._lines = LineSpill()
        self._ws: dict[int, Spots] = {}  # connection -> its messages' lines
        self.flt = flt
        # without a layer asked for: "socketio" once a selected session has Socket.IO, which
        # decides the layer finish() takes; the other layers' lines are not made from then on
        self._settled: str | None = layer

    def _wants(self, layer: str) -> bool:
        return self._settled is None or self._settled == layer

    def connection(self, record: ConnectionRecord) -> None:
        self.see_connection(record.id)
        ws = record.websocket
        if ws is None or not self._wants("websocket") or not self.wants_connection(record.id):
            return
        lines = self._ws.setdefault(record.id, Spots())
        flt, ctx = self.flt, connection_context(record)
        for m in ws.messages.values():
            if flt is not None and not flt(Subject("ws_msg", m, ctx)):
                continue
            line = json_line(ws_record(None, record.id, m))
            assert line.startswith(_WS_HEAD + '"sid":null,')
            lines.append(m["frame"], self._lines.add(line[len(_WS_HEAD) + len('"sid":null,') :]))

    def session(self, record: EngineIOSession) -> None:
        seen = self.see_session(record)
        eio_lines, sio_lines = Spots(), Spots()
        seen.kept = [eio_lines, sio_lines]
        if not seen.selected:
            return
        if seen.socketio:
            self._settled = self._settled or "socketio"
        flt, ctx = self.flt, session_context(record)
        if self._wants("engineio"):
            for d in self.eio_packets(record):
                if flt is not None and not flt(Subject("eio", d, ctx)):
                    continue
                eio_lines.append(d["frame"], self._lines.add(json_line(eio_record(record.sid, d))))
        if self._wants("socketio"):
            for d, args, data in self.sio_entries(record, decoded=flt is not None):  # a filter reads args
                if flt is not None and not flt(Subject("sio", d, ctx)):
                    continue
                sio_lines.append(d["frame"], self._lines.add(sio_line(record.sid, d, args, data)))

    def finish(self, summary: Analysis) -> None:
        """Write the kept lines."""
        sessions, chosen = self.resolve()
        ids = self.selected_connections
        layer = self.layer
        if layer is None:
            layer = "socketio" if any(t.socketio for t in chosen) else "engineio" if chosen else "websocket"
        self.layer = layer
        streams: list[Spots]
        sid_of: dict[int, str] = {}
        cids = [cid for cid in sorted(self._ws) if cid in ids]
        if layer == "websocket":
            for t in sessions:  # a connection's session: the first that used it
                for cid in t.connections:
                    sid_of.setdefault(cid, t.sid)
            streams = [self._ws[cid] for cid in cids]
        else:
            streams = [t.kept[0] if layer == "engineio" else t.kept[1] for t in chosen]
        for i, (_frame, at, length) in heapq.merge(
            *(_tagged(k, stream) for k, stream in enumerate(streams)), key=lambda e: e[1][0]
        ):
            text = self._lines.read(at, length)
            if layer == "websocket":
                sid = sid_of.get(cids[i])
                text = (
                    _WS_HEAD
                    + '"sid":'
                    + (json_line({"": sid})[4:-2] if sid is not None else "null")
                    + ","
                    + text
                )
            self.out.write(text)
            self.written += 1
        self._lines.close()


def _tagged(k: int, stream: Spots) -> Iterator[tuple[int, tuple[int, int, int]]]:
    for entry in stream:
        yield k, entry
