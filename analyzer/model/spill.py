"""A list of JSON records kept on disk: long connections stream their frames and messages here
instead of holding them, so memory follows open connections, not the traffic they carried."""

from __future__ import annotations

import codecs
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import IO, Any

from analyzer.model.tempfile_fd import AppendFile

__all__ = ["JsonSpill", "NameTally", "TalliedSpill", "copy_range", "dumps", "iter_elements"]

IN_MEMORY = 256 << 10  # characters held before they go to the file (and the size of each write)
_READ = 1 << 20


def dumps(value: Any) -> str:
    """Compact JSON. Lone surrogates (JSON on the wire may carry them) are left in the text:
    every file this is written to is opened with errors="backslashreplace", which turns them back
    into their JSON escape in the same pass that encodes the text anyway."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "backslashreplace")  # as the output files do (see dumps)


def copy_range(fd: int, offset: int, length: int, out: IO[str]) -> None:
    """Write `length` bytes of UTF-8 text at `offset` of file `fd` to the text output `out`: by
    sendfile(2) when `out` is a real file descriptor (the text is not read back through Python),
    else read and decoded in blocks."""
    end = offset + length
    out.flush()
    try:
        out_fd = out.fileno()
    except (AttributeError, OSError, ValueError):  # io.StringIO and the like
        out_fd = -1
    if out_fd >= 0:
        try:
            while offset < end:
                sent = os.sendfile(out_fd, fd, offset, end - offset)
                if sent == 0:
                    break
                offset += sent
        except OSError:
            pass  # not every output takes sendfile: the rest goes through Python
    decoder = codecs.getincrementaldecoder("utf-8")()
    while offset < end:
        block = os.pread(fd, min(_READ, end - offset), offset)
        if not block:
            break
        offset += len(block)
        out.write(decoder.decode(block))
    out.write(decoder.decode(b"", final=True))


class JsonSpill:
    """Records are collected as strings and written to an unnamed temporary file, encoded, in
    chunks of IN_MEMORY characters. `copy_to` hands the file to the output with sendfile(2) when
    the output is a real file descriptor, so spilled text is not read back through Python."""

    __slots__ = ("_file", "_parts", "_size", "count")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._size = 0
        self._file = AppendFile()
        self.count = 0

    def add(self, record: dict[str, Any]) -> None:
        self.add_json(dumps(record))

    def add_json(self, text: str) -> None:
        """A record already serialized as JSON."""
        if self.count:
            self._parts.append(",")
        self._parts.append(text)
        self.count += 1
        self._size += len(text)
        if self._size >= IN_MEMORY:
            self._flush()

    def begin(self) -> None:
        """Start a record whose text follows in pieces (`append`): a big record goes to the file
        as it is written, instead of being joined in memory first."""
        if self.count:
            self._parts.append(",")
        self.count += 1

    def append(self, piece: str) -> None:
        """The next piece of the record started by `begin`."""
        self._parts.append(piece)
        self._size += len(piece)
        if self._size >= IN_MEMORY:
            self._flush()

    def append_spill(self, other: JsonSpill) -> None:
        """The records of `other`, comma-separated, as the next pieces of the current record:
        what `other` wrote to its file is copied file to file, the rest joins our pieces."""
        if other._file.fd >= 0:
            other._flush()
            self._flush()  # our pieces come first
            self._file.append_file(other._file)
        for part in other._parts:
            self.append(part)

    def _chunk(self) -> str:
        """The records not yet written, with their separating commas (the file holds the rest)."""
        return "".join(self._parts)

    def _flush(self) -> None:
        if not self._parts:
            return
        data = _encode(self._chunk())
        self._parts.clear()
        self._size = 0
        self._file.write(data)

    def copy_to(self, out: IO[str]) -> None:
        """Write the records, comma-separated, without the enclosing brackets."""
        f = self._file
        if f.fd < 0:
            out.write(self._chunk())
            return
        self._flush()
        copy_range(f.fd, 0, f.size, out)

    def pieces(self) -> Iterator[str]:
        """The records as text, comma-separated, in blocks (for copying into another spill)."""
        f = self._file
        if f.fd >= 0:
            self._flush()
            decoder = codecs.getincrementaldecoder("utf-8")()
            for offset in range(0, f.size, _READ):
                yield decoder.decode(f.pread(min(_READ, f.size - offset), offset))
            yield decoder.decode(b"", final=True)
        else:
            yield from self._parts

    def load(self) -> list[Any]:
        parts: list[str] = []
        if self._file.fd >= 0:
            self._flush()
            parts.append(self._file.pread(self._file.size, 0).decode("utf-8"))
        else:
            parts.append(self._chunk())
        return list(json.loads("[" + "".join(parts) + "]"))

    def close(self) -> None:
        self._file.close()
        self._parts.clear()


_SKIP = frozenset(", \t\r\n")


NameTally = Counter[tuple[str, str | None]]


class TalliedSpill(JsonSpill):
    """A JsonSpill of Socket.IO packets that also counts their (namespace, event name) pairs as
    they are written: the text summary lists those and reads no packet back (memory: one entry
    per distinct pair, as the summary's own count had)."""

    __slots__ = ("tally",)

    def __init__(self) -> None:
        super().__init__()
        self.tally: NameTally = Counter()


def iter_elements(pieces: Iterable[str]) -> Iterator[tuple[str, Any]]:
    """Split comma-separated JSON values arriving as text pieces (a JsonSpill's contents):
    each value's text and its decoded value, one at a time, so a long list is never whole
    in memory. Only the largest single value has to fit."""
    decoder = json.JSONDecoder()
    it = iter(pieces)
    buf = ""
    pos = 0
    more = True

    def refill(at_least: int) -> bool:
        nonlocal buf, pos, more
        parts = [buf[pos:]]
        got = len(parts[0])
        while more and got < at_least:
            try:
                piece = next(it)
            except StopIteration:
                more = False
                break
            parts.append(piece)
            got += len(piece)
        buf = "".join(parts)
        pos = 0
        return True

    while True:
        n = len(buf)
        while pos < n and buf[pos] in _SKIP:
            pos += 1
        if pos >= n:
            if not more:
                return
            refill(1)
            continue
        try:
            value, end = decoder.raw_decode(buf, pos)
        except json.JSONDecodeError:
            if not more:
                raise
            refill(2 * (n - pos) + _READ)  # the value goes on in the next pieces
            continue
        if end >= n and more and not isinstance(value, dict | list):
            refill(2 * (n - pos) + _READ)  # a number or literal may go on in the next piece
            continue
        yield buf[pos:end], value
        pos = end
