"""Write the text summary while the capture is read (`socketscope analyze CAPTURE`): a sink.

The summary lists connections in id order and sessions in the order of their first frame,
but the pipeline hands them over as they end. Each one's lines are made when it is handed
over and wait, encoded, in an unnamed temporary file; only the connection table's cells stay
in memory. So the summary of any capture costs about the memory of its open connections,
like `--format json` (analyzer/export/jsonstream.py); `--messages` and `--events` read the
messages and Socket.IO packets back from the files the pipeline spilled them to, one at a time.
The anomaly marks of `--messages` are known only at the end (the sessions a connection carried
end later): after each message the file holds a placeholder line with its place, which `finish`
replaces by the marks; a session's anomalies are known when it is handed over.
"""

from __future__ import annotations

import codecs
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import IO, Any

from analyzer.export.streamsel import sio_dicts, sio_entries
from analyzer.export.text.h2 import H2_HEAD, h2_lines
from analyzer.export.text.sessions import NO_SIO_SESSIONS, EventMarks, session_event_lines, session_summary
from analyzer.export.text.summary import (
    MESSAGE_MARK_LAYERS,
    Marks,
    Span,
    anomaly_section,
    connection_row,
    connection_table,
    session_sids,
    summary_head,
)
from analyzer.export.text.tls import TLS_HEAD, tls_line
from analyzer.export.text.websocket import NO_WS_MESSAGES, WS_MESSAGES_LEGEND, ws_message_lines, ws_section
from analyzer.model.analysis import Analysis, ConnectionRecord
from analyzer.model.common import Anomaly
from analyzer.model.spill import NameTally, TalliedSpill
from analyzer.model.tempfile_fd import AppendFile
from analyzer.query import Context, Filter, Subject, acks_of, connection_context

__all__ = ["StreamingTextSummary"]

_WRITE = 256 << 10
_NONE_KEPT = "  no {} matches the filter\n"
_PLACE = "\0"  # starts a placeholder line: no line of the summary holds a NUL (captured text is escaped)


def _placeholder(span: Span) -> list[str]:
    conn, lo, hi, direction = span
    return [f"{_PLACE}{conn} {lo} {hi} {direction}\n"]


def _marked(lines: Iterable[str], marks: Marks) -> Iterable[str]:
    for line in lines:
        if line.startswith(_PLACE):
            conn, lo, hi, direction = line[1:-1].split(" ")
            yield from marks((int(conn), int(lo), int(hi), direction))
        else:
            yield line


class _Blocks:
    """Text blocks by sort key, on disk until they are written out in key order."""

    def __init__(self) -> None:
        self._file = AppendFile()
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._index: list[tuple[Any, int, int, int]] = []  # (key, arrival, offset, length)

    def __len__(self) -> int:
        return len(self._index)

    def add(self, key: Any, lines: Iterable[str]) -> None:
        """The lines under `key`; none: nothing is listed."""
        start = self._file.size + self._pending_size
        for line in lines:
            data = line.encode("utf-8", "surrogatepass")  # back as it was (see write_to)
            self._pending.append(data)
            self._pending_size += len(data)
            if self._pending_size >= _WRITE:
                self._flush()
        end = self._file.size + self._pending_size
        if end > start:
            self._index.append((key, len(self._index), start, end - start))

    def _flush(self) -> None:
        if self._pending:
            self._file.write(b"".join(self._pending))
            self._pending.clear()
            self._pending_size = 0

    def write_to(self, out: IO[str], marks: Marks | None = None) -> None:
        """The blocks in key order; with `marks`, placeholder lines become the marks they stand for."""
        self._flush()
        for _key, _n, offset, length in sorted(self._index, key=lambda e: (e[0], e[1])):
            texts = self._read(offset, length)
            if marks is None:
                out.writelines(texts)
            else:
                out.writelines(_marked(_split_lines(texts), marks))
        self._file.close()

    def _read(self, offset: int, length: int) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")("surrogatepass")  # reads may cut a character
        for at in range(offset, offset + length, 1 << 20):
            yield decoder.decode(self._file.pread(min(1 << 20, offset + length - at), at))
        yield decoder.decode(b"", final=True)


def _split_lines(texts: Iterable[str]) -> Iterator[str]:
    """Whole lines (each ending in a newline) of text read in pieces."""
    rest = ""
    for text in texts:
        lines = (rest + text).split("\n")
        rest = lines.pop()
        for line in lines:
            yield line + "\n"
    if rest:
        yield rest


def _name_tally(s: Any) -> NameTally:
    """A session's Socket.IO packets counted by (namespace, event name): kept while they were
    spilled, else counted from the records (no packet is serialized or read back for it)."""
    sio = s.socketio
    if sio is None:
        return Counter()
    packets = sio.packets
    spill = packets.backing
    if isinstance(spill, TalliedSpill):
        return spill.tally
    if spill is not None:
        return Counter((d["nsp"], d.get("event")) for d in sio_dicts(s))
    return Counter((q.packet.nsp, q.packet.event) for q in packets)


def _session_key(s: Any) -> tuple[int, int]:
    first = s.first_frame
    return (0, first) if first is not None else (1, 0)


def _kept(
    flt: Filter, kind: str, ctx: Context, records: Iterable[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    return (r for r in records if flt(Subject(kind, r, ctx)))


class StreamingTextSummary:
    def __init__(
        self,
        out: IO[str],
        messages: bool = False,
        events: bool = False,
        anomalies: bool = False,
        flt: Filter | None = None,
    ) -> None:
        """`out` is written at `finish` only (opened with errors="backslashreplace", as for JSON).
        `anomalies`: list every anomaly, not one line per code (`analyze --anomalies`); `flt`
        (`analyze --filter`, docs/filters.md) keeps the messages, events and anomalies those
        three lists print."""
        self.out = out
        self.flt = flt
        self.messages = messages
        self.events = events
        self.anomalies = anomalies
        self._sids: dict[Anomaly, str] = {}
        self._rows: list[tuple[int, list[str]]] = []
        self._ws = _Blocks()
        self._ws_messages = _Blocks()
        self._sessions = _Blocks()
        self._session_events = _Blocks()
        self._tls = _Blocks()
        self._h2 = _Blocks()

    @property
    def reads_ws_records(self) -> bool:
        """Only `--messages` reads WebSocket messages (pipeline/sink.py): else they are counted."""
        return self.messages

    def connection(self, rec: ConnectionRecord) -> None:
        self._rows.append((rec.id, connection_row(rec)))
        line = tls_line(rec)
        if line is not None:
            self._tls.add(rec.id, [line])
        h2 = h2_lines(rec)
        if h2 is not None:
            self._h2.add(rec.id, h2)
        ws = rec.websocket
        if ws is None:
            return
        self._ws.add(rec.id, [ws_section(rec)])
        if self.messages:
            messages: Iterator[Any] = ws.messages.values()
            if self.flt is not None:
                messages = _kept(self.flt, "ws_msg", connection_context(rec), messages)
            self._ws_messages.add(rec.id, ws_message_lines(rec, messages, _placeholder))

    def session(self, s: Any) -> None:
        key = _session_key(s)
        head = {**s.head_dict(), **s.tail_dict()}
        sio = s.socketio
        sio_fields = {**sio.head_dict(), **sio.tail_dict()} if sio is not None else None

        self._sessions.add(key, [session_summary(head, sio_fields, _name_tally(s))])
        if self.events and sio_fields:
            marks = EventMarks(s)  # the session's anomalies are known: no placeholders
            keep = None
            if self.flt is not None:
                flt, ctx = self.flt, Context(sid=s.sid, acks=acks_of(sio_fields))
                keep = lambda p: flt(Subject("sio", p, ctx))  # noqa: E731
            packets = sio_entries(s, decoded=keep is not None)  # a filter may read the arguments
            self._session_events.add(key, session_event_lines(head, sio_fields, packets, marks, keep))
        self._sids.update(session_sids(s))

    def finish(self, a: Analysis) -> None:
        out = self.out
        out.write(summary_head(a, len(self._rows)))
        self._rows.sort(key=lambda r: r[0])
        connection_table(self._rows, a.anomalies, out)
        if len(self._tls):
            out.write(TLS_HEAD)
            self._tls.write_to(out)
        if len(self._h2):
            out.write(H2_HEAD)
            self._h2.write_to(out)
        if len(self._ws):
            out.write("\nWebSocket connections\n")
            self._ws.write_to(out)
        if self.messages:
            out.write("\nWebSocket messages\n")
            if len(self._ws_messages):
                out.write(WS_MESSAGES_LEGEND)
                self._ws_messages.write_to(out, Marks(a.anomalies, MESSAGE_MARK_LAYERS))
            else:
                out.write(NO_WS_MESSAGES if self.flt is None else _NONE_KEPT.format("WebSocket message"))
        if len(self._sessions):
            out.write("\nEngine.IO / Socket.IO sessions\n")
            self._sessions.write_to(out)
        if self.events:
            out.write("\nSocket.IO events\n")
            if len(self._session_events):
                self._session_events.write_to(out)
            else:
                out.write(NO_SIO_SESSIONS if self.flt is None else _NONE_KEPT.format("Socket.IO packet"))
        listed = a.anomalies
        if self.anomalies and self.flt is not None:
            flt = self.flt
            listed = [an for an in listed if flt(Subject("anomaly", an.to_dict()))]
            if not listed and a.anomalies:
                out.write("\nAnomalies\n" + _NONE_KEPT.format("anomaly"))
        out.writelines(anomaly_section(listed, self._sids, every=self.anomalies))
