"""Write the analysis document while the capture is read.

Each connection's record is written as soon as the connection is closed and then
dropped, so memory follows the open connections, not the length of the capture. The
document is the same as `Analysis.to_dict()` except for key order (connections come
first, the capture summary last, once it is known) and connection order (as they close).
"""

from __future__ import annotations

import json
import tempfile
from typing import IO, Any

from analyzer import __version__
from analyzer.model.analysis import SCHEMA_VERSION, Analysis, ConnectionRecord

__all__ = ["StreamingJsonWriter"]


def _dumps(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates as JSON escapes


class StreamingJsonWriter:
    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.count = 0
        self._sessions: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self._nsessions = 0
        out.write(
            '{"schema_version":'
            + str(SCHEMA_VERSION)
            + ',"tool":'
            + _dumps({"name": "socketscope", "version": __version__})
            + ',"connections":['
        )

    def connection(self, record: ConnectionRecord) -> None:
        if self.count:
            self.out.write(",")
        self.out.write(_dumps(record.to_dict()))
        self.count += 1

    def session(self, session: Any) -> None:
        """A finished Engine.IO session: spilled to a temporary file until the connections are written."""
        self._sessions.write(("," if self._nsessions else "") + _dumps(session.to_dict()))
        self._nsessions += 1

    def finish(self, analysis: Analysis) -> None:
        for record in analysis.connections:  # retained ones, if the pipeline kept any
            self.connection(record)
        for s in analysis.engineio_sessions:
            self.session(s)
        w = self.out.write
        w('],"engineio_sessions":[')
        self._sessions.seek(0)
        while chunk := self._sessions.read(1 << 20):
            w(chunk)
        self._sessions.close()
        w('],"anomalies":[')
        for i, a in enumerate(analysis.anomalies):
            w(("," if i else "") + _dumps(a.to_dict()))
        w('],"layer_stats":' + _dumps(analysis.layer_stats))
        w(',"capture":' + _dumps(analysis.capture.to_dict()) + "}\n")
