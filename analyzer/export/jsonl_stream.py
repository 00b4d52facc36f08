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

__all__ = ["StreamingJsonl"]

_ACKS = ("ACK", "BINARY_ACK")
_WS_HEAD = '{"layer":"websocket",'  # a WebSocket line as stored: the rest after its sid


class StreamingJsonl(StreamedSelection):
    """Hand it the pipeline's connections and sessions, then `finish` writes the export."""

    def __init__(self, selection: Selection, layer: str | None) -> None:
        super().__init__(selection)
        self.layer = layer  # None: decided at the end (export.select.default_layer)
        self._lines = LineSpill()
        self._ws: dict[int, Spots] = {}  # connection -> its messages' lines

    def _wants(self, layer: str) -> bool:
        return self.layer is None or self.layer == layer

    def connection(self, rec: ConnectionRecord) -> None:
        self.see_connection(rec.id)
        ws = rec.websocket
        if ws is None:
            return
        spill = ws.spilled_messages
        sel = self.selection.connections
        if self._wants("websocket") and (not sel or rec.id in sel):
            lines = self._ws.setdefault(rec.id, Spots())
            messages = spilled_values(spill) if spill is not None else map(message_dict, ws.messages)
            for m in messages:
                line = json_line(ws_record(None, rec.id, m))
                assert line.startswith(_WS_HEAD + '"sid":null,')
                lines.append(m["frame"], self._lines.add(line[len(_WS_HEAD) + len('"sid":null,') :]))
        close_connection_spills(rec)

    def session(self, s: Any) -> None:
        sel = self.selection
        seen = self.see_session(s)
        eio_lines, sio_lines = Spots(), Spots()
        seen.kept = [eio_lines, sio_lines]
        if seen.selected:
            keep = sel.connections  # the session's packets travel on its own connections only
            if self._wants("engineio"):
                for d in eio_dicts(s):
                    if not keep or d["connection"] in keep:
                        eio_lines.append(d["frame"], self._lines.add(json_line(eio_record(s.sid, d))))
            if self._wants("socketio"):
                answers = self.answer_keys(s)
                for d in sio_dicts(s):
                    if keep and d["connection"] not in keep:
                        continue
                    answer = d["type"] in _ACKS and (d["nsp"], d["ack_id"], d["direction"]) in answers
                    if not sel.packet_level or self.matches(d) or answer:
                        sio_lines.append(d["frame"], self._lines.add(json_line(sio_record(s.sid, d))))
        close_spills(s)

    def finish(self, analysis: Analysis, out: IO[str]) -> int:
        """Write the kept lines; how many."""
        self.take_retained(analysis)
        sessions, chosen = self.resolve()
        ids = self.selected_connections
        layer = self.layer
        if layer is None:
            layer = "socketio" if any(t.socketio for t in chosen) else "engineio" if chosen else "websocket"
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
        n = 0
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
            out.write(text)
            n += 1
        self._lines.close()
        return n


def _tagged(k: int, stream: Spots) -> Iterator[tuple[int, tuple[int, int, int]]]:
    for entry in stream:
        yield k, entry
