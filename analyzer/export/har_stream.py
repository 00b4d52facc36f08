"""`export --format har` while the capture is read: memory follows open connections.

Each exchange's entry is made when the pipeline hands its connection over and waits in an
unnamed temporary file, its WebSocket messages (read back from the file they were spilled to)
after it, one at a time. What the end settles is patched in then: the session (`sid`), the
timings (from the packet times of a second, cheap pass, as write_har does) and the order (by
start time). The same document as `write_har` (a test compares them on every capture).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from analyzer.export.har import (
    HAR_TAIL,
    _entry,
    _headless_ws_entry,
    exchange_timings,
    har_head,
    har_time,
    packet_times,
    timing_keys,
    upgrade_exchange,
    ws_message,
)
from analyzer.export.jsonl import json_line
from analyzer.export.select import Selection
from analyzer.export.streamsel import (
    LineSpill,
    StreamedSelection,
    close_connection_spills,
    close_spills,
    spilled_values,
)
from analyzer.model.analysis import Analysis, ConnectionRecord
from analyzer.model.websocket import message_dict
from analyzer.protocols.engineio import parse_engineio_query

__all__ = ["StreamingHar"]


@dataclass(slots=True)
class _Waiting:
    """An entry made before the end, and what the end decides of it."""

    connection: int
    index: int  # the exchange's (1 << 30: a WebSocket without its handshake)
    head: tuple[int, int]  # the entry but its messages, as JSON text in the spill
    messages: tuple[int, int] | None  # its `_webSocketMessages` items, comma-separated
    start: float
    timing: tuple[int | None, float, int | None, float | None] | None  # None: headless
    request_frame: int | None
    target_sid: str | None  # the sid= of the request's target


class StreamingHar(StreamedSelection):
    def __init__(self, selection: Selection) -> None:
        super().__init__(selection)
        self._spill = LineSpill()
        self._entries: list[_Waiting] = []
        self._requests: list[list[tuple[int, int]]] = []  # per session (arrival): its requests

    def _messages(self, rec: ConnectionRecord, first_ts: list[float]) -> tuple[int, int]:
        """Write a WebSocket's messages, comma-separated; where they are. `first_ts` gets the
        earliest message time."""
        ws = rec.websocket
        assert ws is not None
        spill = ws.spilled_messages
        at = length = 0
        for i, m in enumerate(spilled_values(spill) if spill is not None else map(message_dict, ws.messages)):
            if not i:
                first_ts.append(m["ts"])
            elif m["ts"] < first_ts[0]:  # capture times can go backwards
                first_ts[0] = m["ts"]
            text = ("," if i else "") + json_line(ws_message(m)).rstrip("\n")
            spot = self._spill.add(text)
            if not i:
                at = spot[0]
            length += spot[1]
        return at, length

    def connection(self, rec: ConnectionRecord) -> None:
        self.see_connection(rec.id)
        ws = rec.websocket
        if not self.selection.connections or rec.id in self.selection.connections:
            upgrade = upgrade_exchange(rec)
            for i, x in enumerate(rec.http):
                q = x.request
                if q is None:
                    continue
                messages = None
                if ws is not None and i == upgrade:
                    messages = self._messages(rec, [])
                _, entry = _entry(None, rec, x, {}, [] if messages is not None else None)
                entry.pop("_webSocketMessages", None)
                query = parse_engineio_query(q.target)
                self._entries.append(
                    _Waiting(
                        rec.id,
                        x.index,
                        self._spill.add(json_line(entry)),
                        messages,
                        0.0,
                        timing_keys(x),
                        q.frame,
                        query.sid if query is not None else None,
                    )
                )
            if ws is not None and upgrade is None:
                first: list[float] = []
                messages = self._messages(rec, first)
                start = first[0] if first else rec.tcp.get("first_ts") or 0.0
                _, entry = _headless_ws_entry(rec, start, None, [])
                entry.pop("_webSocketMessages", None)
                spot = self._spill.add(json_line(entry))
                self._entries.append(_Waiting(rec.id, 1 << 30, spot, messages, start, None, None, None))
        close_connection_spills(rec)

    def session(self, s: Any) -> None:
        # which session an HTTP request belongs to (export.select.Selected), settled at the end
        self._requests.append([(r.connection, r.request_frame) for r in (*s.requests, *s.websockets)])
        self.see_session(s)
        close_spills(s)

    def finish(self, analysis: Analysis, capture: str, out: IO[str], comment: str | None = None) -> int:
        self.take_retained(analysis)
        sessions, _chosen = self.resolve()
        ids = self.selected_connections
        conn_sid: dict[int, str] = {}
        request_sid: dict[tuple[int, int], str] = {}
        for seen in sessions:  # in the analysis' order: a later session's claim on a request wins
            for c in seen.connections:
                conn_sid.setdefault(c, seen.sid)
            for key in self._requests[seen.arrival]:
                request_sid[key] = seen.sid
        kept = [w for w in self._entries if w.connection in ids]
        # the packet times the timings need (har.needed_frames): a second pass over the file
        times = packet_times(
            capture,
            {f for w in kept if w.timing is not None for f in (w.timing[0], w.timing[2]) if f is not None},
        )
        timings: list[dict[str, float] | None] = []
        for w in kept:
            if w.timing is not None:
                w.start, settled = exchange_timings(*w.timing, times)
                timings.append(settled)
            else:
                timings.append(None)
        order = sorted(range(len(kept)), key=lambda k: (kept[k].start, kept[k].connection, kept[k].index))
        out.write(har_head(comment))
        for n, k in enumerate(order):
            w = kept[k]
            entry: dict[str, Any] = json.loads(self._spill.read(*w.head))
            t = timings[k]
            if t is not None:
                entry["startedDateTime"] = har_time(w.start)
                entry["time"] = round(t["send"] + t["wait"] + t["receive"], 3)
                entry["timings"] = t
                sid = (
                    request_sid.get((w.connection, w.request_frame)) if w.request_frame is not None else None
                )
                entry["_socketscope"]["sid"] = sid if sid is not None else w.target_sid
            else:
                entry["_socketscope"]["sid"] = conn_sid.get(w.connection)
            text = json_line(entry).rstrip("\n")
            if n:
                out.write(",\n")
            if w.messages is None:
                out.write(text)
            else:
                out.write(text[:-1] + ',"_webSocketMessages":[')
                out.writelines(self._chunks(*w.messages))
                out.write("]}")
        out.write(HAR_TAIL)
        self._spill.close()
        return len(kept)

    def _chunks(self, at: int, length: int) -> Iterator[str]:
        """A spilled range in pieces (a WebSocket's messages can be long)."""
        decoder = codecs.getincrementaldecoder("utf-8")()  # a piece may end inside a character
        for done in range(0, length, 1 << 20):
            yield decoder.decode(self._spill.read_bytes(at + done, min(1 << 20, length - done)))
        yield decoder.decode(b"", final=True)
