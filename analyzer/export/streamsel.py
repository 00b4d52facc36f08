"""The export selection (analyzer/export/select.py, docs/exports.md) worked out while the
capture is read, for exports made from streamed records.

A session is complete when the pipeline hands it over, so whether it is selected is known
then; which connections are selected (those the selected sessions carried) and which
session a connection belongs to are known at the end, from what was seen of each.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from analyzer.export.select import Selection
from analyzer.model.spill import JsonSpill, iter_elements
from analyzer.model.tempfile_fd import AppendFile

__all__ = [
    "LineSpill",
    "SessionSeen",
    "Spots",
    "StreamedSelection",
    "StreamingSlice",
    "close_connection_spills",
    "close_spills",
    "eio_dicts",
    "sio_dicts",
    "spilled_values",
]

_WRITE = 256 << 10


class Spots:
    """Where lines wait in a LineSpill, with the packet number they sort by: 24 bytes each
    (a list of tuples took about 100)."""

    __slots__ = ("frames", "lengths", "offsets")

    def __init__(self) -> None:
        self.frames = array("q")
        self.offsets = array("q")
        self.lengths = array("q")

    def append(self, frame: int, spot: tuple[int, int]) -> None:
        self.frames.append(frame)
        self.offsets.append(spot[0])
        self.lengths.append(spot[1])

    def __len__(self) -> int:
        return len(self.frames)

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        return zip(self.frames, self.offsets, self.lengths, strict=True)


def spilled_values(spill: JsonSpill) -> Iterator[Any]:
    """The records a JsonSpill holds, decoded one at a time."""
    return (value for _, value in iter_elements(spill.pieces()))


class LineSpill:
    """Lines of text (JSON Lines records, CSV lines) in an unnamed temporary file, read back by
    (offset, length). The text must be encodable: json_line and the CSV cells (safe_text) are."""

    def __init__(self) -> None:
        self._file = AppendFile()
        self._pending: list[bytes] = []
        self._size = 0  # bytes written or pending

    def add(self, text: str) -> tuple[int, int]:
        data = text.encode("utf-8")  # no lone surrogates: see the class docstring
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
        return self.read_bytes(at, length).decode("utf-8")

    def read_bytes(self, at: int, length: int) -> bytes:
        self._flush()
        return self._file.pread(length, at)

    def close(self) -> None:
        self._pending.clear()
        self._file.close()


def eio_dicts(s: Any) -> Iterator[dict[str, Any]]:
    """A streamed session's Engine.IO packets as in the analysis document, one at a time."""
    if s.spilled_packets is not None:
        return spilled_values(s.spilled_packets)
    return (p.to_dict() for p in s.packets)


def sio_dicts(s: Any) -> Iterator[dict[str, Any]]:
    """Its Socket.IO packets the same way (none without Socket.IO)."""
    sio = s.socketio
    if sio is None:
        return iter(())
    if sio.spilled_packets is not None:
        return spilled_values(sio.spilled_packets)
    return (q.to_dict() for q in sio.packets)


def close_spills(s: Any) -> None:
    """A streamed session's spill files, once its records are read."""
    _close(s.spilled_packets, s.socketio.spilled_packets if s.socketio is not None else None)


def close_connection_spills(rec: Any) -> None:
    """A streamed connection's spill files (its WebSocket frames and messages)."""
    ws = rec.websocket
    if ws is not None:
        _close(ws.spilled_frames, ws.spilled_messages)


def _close(*spills: JsonSpill | None) -> None:
    for spill in spills:
        if spill is not None:
            spill.close()


@dataclass(slots=True)
class SessionSeen:
    first_frame: int  # the analysis lists sessions in this order (EngineIOSession.first_frame)
    arrival: int
    sid: str
    connections: tuple[int, ...]
    selected: bool
    socketio: bool
    kept: list[Any] = field(default_factory=list)  # what the export keeps of it


class StreamedSelection:
    def __init__(self, selection: Selection) -> None:
        self.selection = selection
        self.connection_ids: set[int] = set()
        self.sids: set[str] = set()
        self.sessions: list[SessionSeen] = []
        self.selected_connections: set[int] = set()  # known after resolve()

    def see_connection(self, cid: int) -> None:
        self.connection_ids.add(cid)

    def matches(self, p: dict[str, Any]) -> bool:
        """A Socket.IO packet (document form) of the namespaces and events asked for."""
        sel = self.selection
        if sel.namespaces and p["nsp"] not in sel.namespaces:
            return False
        return not sel.events or p["event"] in sel.events

    def answer_keys(self, s: Any) -> set[tuple[str, int, str]]:
        """(nsp, ack id, direction of the ACK) of the selected events that asked for an ACK
        (export.select.Selected._answer_keys)."""
        sel = self.selection
        return {
            (a.nsp, a.ack_id, a.request_direction.other.value)
            for a in (s.socketio.acks if s.socketio is not None else ())
            if sel.events and a.event in sel.events and (not sel.namespaces or a.nsp in sel.namespaces)
        }

    def see_session(self, s: Any) -> SessionSeen:
        sel = self.selection
        self.sids.add(s.sid)
        selected = (
            (not sel.sids or s.sid in sel.sids)
            and (not sel.connections or bool(sel.connections.intersection(s.connections)))
            and (not sel.packet_level or any(self.matches(p) for p in sio_dicts(s)))
        )
        first = s.first_frame
        seen = SessionSeen(
            first if first is not None else 1 << 62,
            len(self.sessions),
            s.sid,
            tuple(s.connections),
            selected,
            s.socketio is not None,
        )
        self.sessions.append(seen)
        return seen

    def connection(self, rec: Any) -> None:  # the pipeline's on_connection
        raise NotImplementedError

    def session(self, s: Any) -> None:  # the pipeline's on_session
        raise NotImplementedError

    def take_retained(self, analysis: Any) -> None:
        """The records the pipeline kept (Options.retain_connections), as if handed over."""
        for rec in analysis.connections:
            self.connection(rec)
        for s in analysis.engineio_sessions:
            self.session(s)

    def resolve(self) -> tuple[list[SessionSeen], list[SessionSeen]]:
        """Every session in the analysis' order, and the selected ones; sets selected_connections."""
        sel = self.selection
        ordered = sorted(self.sessions, key=lambda t: (t.first_frame, t.arrival))
        chosen = [t for t in ordered if t.selected]
        ids = set(self.connection_ids)
        if sel.connections:
            ids &= sel.connections
        if sel.sids or sel.packet_level:
            ids &= {c for t in chosen for c in t.connections}
        self.selected_connections = ids
        return ordered, chosen


class StreamingSlice(StreamedSelection):
    """`export --format pcap` while the capture is read: only each connection's endpoints and
    packet range are kept; the slice is written at the end, once the selection is known."""

    def __init__(self, selection: Selection) -> None:
        super().__init__(selection)
        self._keys: list[Any] = []

    def connection(self, rec: Any) -> None:
        from analyzer.export.pcapslice import connection_keys

        self.see_connection(rec.id)
        if not self.selection.connections or rec.id in self.selection.connections:
            self._keys.extend(connection_keys([rec]))
        close_connection_spills(rec)

    def session(self, s: Any) -> None:
        self.see_session(s)
        close_spills(s)

    def finish(self, analysis: Any, capture: str, out: IO[bytes]) -> Any:
        from analyzer.export.pcapslice import write_pcapng_slice_keys

        self.take_retained(analysis)
        self.resolve()
        ids = self.selected_connections
        keys = sorted((k for k in self._keys if k.id in ids), key=lambda k: k.id)
        return write_pcapng_slice_keys(capture, keys, out)
