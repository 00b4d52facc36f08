"""Engine.IO message payloads kept on disk while their session is open.

A session's packets are analysed when the session is over (its polling exchanges arrive out of
order), so a session that lives through a whole capture would hold every payload it carried.
With streaming output the builder parks the payload of each message packet of `min_size` bytes
or more here and keeps only the packet's header fields; the Socket.IO analysis and the JSON
writer read the payloads back one at a time. Memory then follows the number of packets of
open sessions, not the bytes they carried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from analyzer.model.tempfile_fd import AppendFile

if TYPE_CHECKING:
    from analyzer.session.packettap import PacketTap

__all__ = ["PayloadStore"]

_FLUSH_AT = 1 << 20
MIN_SIZE = 128  # smaller payloads stay in memory: a reference costs about as much


class PayloadStore:
    """An append-only temporary file of payloads; `put` returns a reference for `get`.

    `spill_packets` False: the sinks read no session packet (the text summary without --events),
    so session/spill.py counts the Socket.IO packets by (namespace, event) and writes no JSON of
    them (Options.spill_session_packets). `tap`: the packets go to it instead of their JSON
    (Options.record_tap)."""

    __slots__ = ("_buffer", "_file", "min_size", "spill_packets", "tap")

    def __init__(
        self, min_size: int | None = None, *, spill_packets: bool = True, tap: PacketTap | None = None
    ) -> None:
        self.min_size = MIN_SIZE if min_size is None else min_size
        self.spill_packets = spill_packets
        self.tap = tap
        self._file = AppendFile()  # made at the first flush
        self._buffer = bytearray()  # what follows the file's bytes

    def put(self, data: str | bytes) -> tuple[int, int, bool]:
        """(offset, length, is_text). Text is stored as UTF-8 with surrogates passed through,
        so that any str comes back equal (captured JSON may hold lone surrogates)."""
        is_text = isinstance(data, str)
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        offset = self._file.size + len(self._buffer)
        self._buffer += raw
        if len(self._buffer) >= _FLUSH_AT:
            self._flush()
        return offset, len(raw), is_text

    def get(self, ref: tuple[int, int, bool]) -> str | bytes:
        offset, length, is_text = ref
        written = self._file.size
        if offset >= written:  # still in the buffer
            raw = bytes(self._buffer[offset - written : offset - written + length])
        else:
            if offset + length > written:
                self._flush()
            raw = self._file.pread(length, offset)
        return raw.decode("utf-8", "surrogatepass") if is_text else raw

    def _flush(self) -> None:
        self._file.write(self._buffer)
        self._buffer.clear()

    def close(self) -> None:
        self._file.close()
        self._buffer.clear()
