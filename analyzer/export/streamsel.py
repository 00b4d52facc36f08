"""What the sinks that write outputs share: a session's packets as dicts, one at a time (from
the session's record lists, wherever they are), and a temporary file of finished lines that wait
there until the end, when the order and the selection are known.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import Any

from analyzer.model.session import EngineIOSession
from analyzer.model.session_json import sio_packet_fields
from analyzer.model.spill import TalliedSpill
from analyzer.model.tempfile_fd import AppendFile

__all__ = [
    "LineSpill",
    "SioEntry",
    "Spots",
    "eio_dicts",
    "sio_dicts",
    "sio_entries",
]

# a Socket.IO packet: its fields, and the JSON text of "args" and "data" (None: they are in the dict)
SioEntry = tuple[dict[str, Any], str | None, str | None]

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


def eio_dicts(s: EngineIOSession) -> Iterator[dict[str, Any]]:
    """A session's Engine.IO packets as in the analysis document, one at a time."""
    return s.packets.values()


def sio_dicts(s: EngineIOSession) -> Iterator[dict[str, Any]]:
    """Its Socket.IO packets the same way (none without Socket.IO)."""
    sio = s.socketio
    return iter(()) if sio is None else sio.packets.values()


def sio_entries(s: EngineIOSession, decoded: bool = False) -> Iterator[SioEntry]:
    """Its Socket.IO packets as (fields, args, data). When its spill kept each packet's pieces
    (TalliedSpill.parts) and `decoded` is not asked for: the fields but "args" and "data" in a
    dict, and those two as the document's JSON text, not decoded (the outputs write that text as
    it is). Otherwise the whole packet as a dict (as sio_dicts), and None, None."""
    sio = s.socketio
    if sio is None:
        return iter(())
    spill = sio.packets.backing
    if not decoded and isinstance(spill, TalliedSpill) and spill.has_parts:
        return ((sio_packet_fields(h, t), a, d) for h, a, d, t in spill.parts())
    return ((d, None, None) for d in sio.packets.values())
