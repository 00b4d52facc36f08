"""Engine.IO packet payloads kept on disk while their session is open.

A session's packets are analysed when the session is over (its polling exchanges arrive out of
order), so a session that lives through a whole capture would hold every payload it carried.
With streaming output the builder parks each payload of `min_size` bytes or more here and
keeps only the packet's header fields; `_analyse` takes the payloads back, one session at a
time. Memory then follows the number of packets of open sessions, not the bytes they carried.
"""

from __future__ import annotations

import os
import tempfile

__all__ = ["PayloadStore"]

_FLUSH_AT = 1 << 20


class PayloadStore:
    """An append-only temporary file of payloads; `put` returns a reference for `get`."""

    __slots__ = ("_buffer", "_fd", "_written", "min_size")

    def __init__(self, min_size: int = 128) -> None:
        self.min_size = min_size
        self._fd = -1  # the file is made at the first payload
        self._buffer = bytearray()
        self._written = 0  # bytes in the file; the buffer follows them

    def put(self, data: str | bytes) -> tuple[int, int, bool]:
        """(offset, length, is_text). Text is stored as UTF-8 with surrogates passed through,
        so that any str comes back equal (captured JSON may hold lone surrogates)."""
        is_text = isinstance(data, str)
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        offset = self._written + len(self._buffer)
        self._buffer += raw
        if len(self._buffer) >= _FLUSH_AT:
            self._flush()
        return offset, len(raw), is_text

    def get(self, ref: tuple[int, int, bool]) -> str | bytes:
        offset, length, is_text = ref
        if offset >= self._written:  # still in the buffer
            start = offset - self._written
            raw = bytes(self._buffer[start : start + length])
        else:
            if offset + length > self._written:
                self._flush()
            raw = os.pread(self._fd, length, offset)
        return raw.decode("utf-8", "surrogatepass") if is_text else raw

    def _flush(self) -> None:
        if self._fd < 0:
            self._fd, name = tempfile.mkstemp(prefix="socketscope-payloads-")
            os.unlink(name)  # the open descriptor keeps the file until close()
        view = memoryview(self._buffer)
        while view:
            view = view[os.write(self._fd, view) :]
        view.release()
        self._written += len(self._buffer)
        self._buffer.clear()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._buffer.clear()

    def __del__(self) -> None:
        self.close()
