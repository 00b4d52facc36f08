"""`export --format har`: the HAR sink. Memory follows open connections.

Each exchange's entry is made when the pipeline hands its connection over and waits in an
unnamed temporary file, its WebSocket messages (read back from the file they were spilled to)
after it, one at a time. What the end settles is patched in then: the session (`sid`), the
timings (from the packet times of a second, cheap pass over the capture) and the order (by
start time, then connection and exchange).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from analyzer.export.har import (
    HAR_TAIL,
    exchange_entry,
    exchange_timings,
    har_head,
    har_time,
    headless_entry,
    packet_times,
    timing_keys,
    upgrade_exchange,
    ws_message,
)
from analyzer.export.jsonl import json_line
from analyzer.export.keep import Keep, ws_message_dicts
from analyzer.export.select import Selection, StreamedSelection
from analyzer.export.streamsel import LineSpill
from analyzer.model.analysis import Analysis, ConnectionRecord
from analyzer.model.session import EngineIOSession
from analyzer.protocols.engineio import parse_engineio_query
from analyzer.query import Filter, connection_context

__all__ = ["HarSink"]

Timing = tuple[int | None, float, int | None, float | None]  # what exchange_timings needs


@dataclass(slots=True)
class _Waiting:
    """An entry made before the end, and what the end decides of it."""

    connection: int
    index: int  # the exchange's (1 << 30: a WebSocket without its handshake)
    head: tuple[int, int]  # the entry but its messages, as JSON text in the spill
    messages: tuple[int, int] | None  # its `_webSocketMessages` items, comma-separated
    start: float
    timing: Timing | None  # None: headless
    request_frame: int | None
    target_sid: str | None  # the sid= of the request's target


class HarSink(StreamedSelection):
    """The HAR document to `out`; `written` is its number of entries, once finished. The timings
    read the packet times of `capture` (default: the summary's capture path) again at the end."""

    reads_ws_frames = False  # WebSocket messages only: the frames are counted (pipeline/sink.py)

    def __init__(
        self,
        out: IO[str],
        selection: Selection | None = None,
        comment: str | None = None,
        capture: str | None = None,
        flt: Filter | None = None,
    ) -> None:
        """`flt` (`export --filter`, docs/filters.md): the entries of the HTTP exchanges it keeps,
        and of the WebSockets with a message it keeps (listing those messages only)."""
        super().__init__(selection or Selection())
        self.keep = Keep(flt) if flt is not None else None
        self.out = out
        self.comment = comment
        self.capture = capture
        self.written = 0
        self._spill = LineSpill()
        self._entries: list[_Waiting] = []
        self._requests: list[list[tuple[int, int]]] = []  # per session (arrival): its requests

    def _messages(self, rec: ConnectionRecord, first_ts: list[float]) -> tuple[int, int]:
        """Write a WebSocket's messages (those the filter keeps), comma-separated; where they are
        (length 0: none). `first_ts` gets the earliest message time."""
        at = length = 0
        keep, ctx = self.keep, connection_context(rec)
        kept = (m for m in ws_message_dicts(rec) if keep is None or keep.ws_msg(m, ctx))
        for i, m in enumerate(kept):
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

    def connection(self, record: ConnectionRecord) -> None:
        self.see_connection(record.id)
        if not self.wants_connection(record.id):
            return
        ws = record.websocket
        upgrade = upgrade_exchange(record)
        ctx = connection_context(record)
        for i, x in enumerate(record.http):
            q = x.request
            if q is None:
                continue  # HAR 1.2 requires a request
            websocket = ws is not None and i == upgrade
            messages = self._messages(record, []) if websocket else None
            if self.keep is not None and not (messages and messages[1]) and not self.keep.http(x, ctx):
                continue
            spot = self._spill.add(json_line(exchange_entry(record, x, websocket)))
            query = parse_engineio_query(q.target)
            sid = query.sid if query is not None else None
            self._entries.append(
                _Waiting(record.id, x.index, spot, messages, 0.0, timing_keys(x), q.frame, sid)
            )
        if ws is not None and upgrade is None:
            first: list[float] = []
            messages = self._messages(record, first)
            if self.keep is not None and not messages[1]:
                return
            start = first[0] if first else record.tcp.get("first_ts") or 0.0
            spot = self._spill.add(json_line(headless_entry(record, start)))
            self._entries.append(_Waiting(record.id, 1 << 30, spot, messages, start, None, None, None))

    def session(self, record: EngineIOSession) -> None:
        # which session an HTTP request belongs to, settled at the end
        self._requests.append(_requests(record))
        self.see_session(record)

    def finish(self, summary: Analysis) -> None:
        sessions, _chosen = self.resolve()
        conn_sid: dict[int, str] = {}
        request_sid: dict[tuple[int, int], str] = {}
        for seen in sessions:  # in the analysis' order: a later session's claim on a request wins
            for c in seen.connections:
                conn_sid.setdefault(c, seen.sid)
            for key in self._requests[seen.arrival]:
                request_sid[key] = seen.sid
        kept = [w for w in self._entries if w.connection in self.selected_connections]
        timings = self._timings(kept, self.capture or summary.capture.path)
        order = sorted(range(len(kept)), key=lambda k: (kept[k].start, kept[k].connection, kept[k].index))
        out = self.out
        out.write(har_head(self.comment))
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
        self.written = len(kept)
        self._spill.close()

    @staticmethod
    def _timings(kept: list[_Waiting], capture: str) -> list[dict[str, float] | None]:
        """Each entry's timings (None: headless), its start set: from the times of the first packets
        of its request and response, read in a second pass over the capture."""
        frames = {
            f for w in kept if w.timing is not None for f in (w.timing[0], w.timing[2]) if f is not None
        }
        times = packet_times(capture, frames)
        timings: list[dict[str, float] | None] = []
        for w in kept:
            if w.timing is not None:
                w.start, settled = exchange_timings(*w.timing, times)
                timings.append(settled)
            else:
                timings.append(None)
        return timings

    def _chunks(self, at: int, length: int) -> Iterator[str]:
        """A spilled range in pieces (a WebSocket's messages can be long)."""
        decoder = codecs.getincrementaldecoder("utf-8")()  # a piece may end inside a character
        for done in range(0, length, 1 << 20):
            yield decoder.decode(self._spill.read_bytes(at + done, min(1 << 20, length - done)))
        yield decoder.decode(b"", final=True)


def _requests(s: EngineIOSession) -> list[tuple[int, int]]:
    """(connection, request frame) of a session's HTTP requests: polling, then WebSocket upgrades."""
    return [(r.connection, r.request_frame) for r in s.requests] + [
        (w.connection, w.request_frame) for w in s.websockets
    ]
