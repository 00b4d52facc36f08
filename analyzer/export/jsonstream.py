"""Write the analysis document while the capture is read: a sink (`run(reader, options, writer)`).

Each connection's record is written as soon as the connection is closed and then
dropped, so memory follows the open connections, not the length of the capture. The
document is the same as `Analysis.to_dict()` except for key order (connections come
first, the capture summary last, once it is known). Connections are in id order, as in
`Analysis.to_dict()`: one that closes before a connection opened earlier waits in a
temporary file (its offset and length are all that stay in memory) until those are written.
"""

from __future__ import annotations

import os
from typing import IO, Any

from analyzer.model.analysis import SCHEMA_VERSION, Analysis, ConnectionRecord
from analyzer.model.session_json import session_parts
from analyzer.model.spill import JsonSpill, copy_range, dumps
from analyzer.model.tempfile_fd import unnamed_temporary_fd
from analyzer.version import __version__

__all__ = ["StreamingJsonWriter"]

# placeholders that cannot come from captured data (captured strings never reach these keys)
_MARK_FRAMES = "\u0000socketscope:frames\u0000"
_MARK_MESSAGES = "\u0000socketscope:messages\u0000"


class StreamingJsonWriter:
    def __init__(self, out: IO[str]) -> None:
        """`out` must be opened with errors="backslashreplace" (see analyzer.model.spill.dumps)."""
        self.out = out
        self.count = 0
        self._next_id = 0  # the connection that must be written next (ids are dense: tcp/tracker.py)
        self._park: IO[str] | None = None  # connections that closed before their turn
        self._parked: dict[int, tuple[int, int]] = {}  # id -> (offset, length) in the park file
        self._sessions = JsonSpill()  # finished sessions wait here until the connections are written
        out.write(
            '{"schema_version":'
            + str(SCHEMA_VERSION)
            + ',"tool":'
            + dumps({"name": "socketscope", "version": __version__})
            + ',"connections":['
        )

    def connection(self, record: ConnectionRecord) -> None:
        if record.id != self._next_id:
            self._park_record(record)
            return
        if self.count:
            self.out.write(",")
        self.count += 1
        _write_connection(record, self.out)
        self._next_id += 1
        self._drain()

    def _park_record(self, record: ConnectionRecord) -> None:
        park = self._park
        if park is None:
            fd = unnamed_temporary_fd()  # read and write: sendfile reads it
            park = self._park = open(fd, "w", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115 (closed by finish)
        park.flush()
        start = os.lseek(park.fileno(), 0, os.SEEK_END)
        _write_connection(record, park)
        park.flush()
        self._parked[record.id] = (start, os.lseek(park.fileno(), 0, os.SEEK_END) - start)

    def _drain(self) -> None:
        """Write the parked connections whose turn has come."""
        park, parked = self._park, self._parked
        if park is None or not parked:
            return
        while self._next_id in parked:
            offset, length = parked.pop(self._next_id)
            if self.count:
                self.out.write(",")
            self.count += 1
            copy_range(park.fileno(), offset, length, self.out)
            self._next_id += 1
        if not parked:  # nothing waits: the space is reused
            park.seek(0)
            park.truncate()

    def session(self, session: Any) -> None:
        """A finished Engine.IO session: spilled to a temporary file until the connections are written."""
        self._sessions.begin()
        session_parts(session, self._sessions)  # pieces go to disk as the record grows

    def finish(self, analysis: Analysis) -> None:
        for cid in sorted(self._parked):  # only if some id never came (not expected)
            self._next_id = cid
            self._drain()
        if self._park is not None:
            self._park.close()
        w = self.out.write
        w('],"engineio_sessions":[')
        self._sessions.copy_to(self.out)
        self._sessions.close()
        w('],"anomalies":[')
        for i, a in enumerate(analysis.anomalies):
            w(("," if i else "") + dumps(a.to_dict()))
        w('],"layer_stats":' + dumps(analysis.layer_stats))
        w(',"capture":' + dumps(analysis.capture.to_dict()) + "}\n")


def _write_connection(record: ConnectionRecord, out: IO[str]) -> None:
    ws = record.websocket
    if ws is None:
        out.write(dumps(record.to_dict()))
        return
    # frames and messages are copied (from disk, when they went there) in place of two markers
    doc = record.to_dict(lists=False)
    doc["websocket"]["frames"] = _MARK_FRAMES
    doc["websocket"]["messages"] = _MARK_MESSAGES
    text = dumps(doc)
    head, rest = text.split(dumps(_MARK_FRAMES), 1)
    middle, tail = rest.split(dumps(_MARK_MESSAGES), 1)
    w = out.write
    w(head + "[")
    ws.frames.copy_to(out)
    w("]" + middle + "[")
    ws.messages.copy_to(out)
    w("]" + tail)
