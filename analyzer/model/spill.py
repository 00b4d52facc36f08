"""Record lists: `RecordList` holds a record's frames, messages or packets, as records in memory
or, for streaming output, as their JSON in a `JsonSpill` that goes to disk past IN_MEMORY
characters, so memory follows open connections, not the traffic they carried."""

from __future__ import annotations

import codecs
import json
import os
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, Generic, Protocol, TypeVar, overload

from analyzer.model.tempfile_fd import AppendFile

__all__ = [
    "JsonRecord",
    "JsonSpill",
    "NameTally",
    "PieceSink",
    "RecordList",
    "TalliedSpill",
    "copy_range",
    "dumps",
    "iter_elements",
]

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
    per distinct pair, as the summary's own count had).

    A packet written with `add_parts` (its JSON in four pieces, model/session_json.py
    sio_packet_pieces) has the pieces' lengths kept, 16 bytes a packet, so that `parts()` gives
    each packet's pieces back as text without decoding them: the exports write "args" and "data"
    as the document has them instead of reading them back and encoding them again. Text that
    the file would not keep as it is (a lone surrogate, which it writes as its escape) or any
    record written another way leaves no lengths (`has_parts` False): read the JSON then."""

    __slots__ = ("_lengths", "tally")

    def __init__(self) -> None:
        super().__init__()
        self.tally: NameTally = Counter()
        self._lengths: array[int] | None = array("I")

    def add_json(self, text: str) -> None:
        self._lengths = None
        super().add_json(text)

    def begin(self) -> None:
        self._lengths = None
        super().begin()

    def add_parts(self, head: str, args: str, data: str, tail: str) -> None:
        """A packet as the four pieces of sio_packet_pieces (SIO_DATA_KEY goes between args and data)."""
        lengths = self._lengths
        JsonSpill.begin(self)
        for piece in (head, args, _DATA_KEY, data, tail):
            self.append(piece)
        if lengths is not None:
            sizes = (len(head), len(args), len(data), len(tail))
            if max(sizes) < _MAX_PART and _as_is(head) and _as_is(args) and _as_is(data) and _as_is(tail):
                lengths.extend(sizes)
            else:
                self._lengths = None

    @property
    def has_parts(self) -> bool:
        """Whether `parts()` can split every packet written (else read their JSON)."""
        return self._lengths is not None and len(self._lengths) == 4 * self.count

    def parts(self) -> Iterator[tuple[str, str, str, str]]:
        """Each packet's (head, args, data, tail) text, one at a time, nothing decoded."""
        lengths = self._lengths
        if lengths is None or len(lengths) != 4 * self.count:
            raise ValueError("these packets were not all written in parts: read their JSON")
        blocks = self.pieces()
        buf, pos = "", 0
        gap = len(_DATA_KEY)
        for i in range(0, len(lengths), 4):
            h, a, d, t = lengths[i], lengths[i + 1], lengths[i + 2], lengths[i + 3]
            start = pos + (1 if i else 0)  # the comma between two records
            end = start + h + a + gap + d + t
            if end > len(buf):
                buf, pos, start, end = _refill(buf, pos, start, end, blocks)
            at = start + h
            yield buf[start:at], buf[at : at + a], buf[at + a + gap : end - t], buf[end - t : end]
            pos = end


_DATA_KEY = ',"data":'  # session_json.SIO_DATA_KEY (that module imports this one)
_MAX_PART = 1 << 32


def _as_is(text: str) -> bool:
    """Whether `text` reads back from the spill's file as it was written (no lone surrogate)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _refill(buf: str, pos: int, start: int, end: int, blocks: Iterator[str]) -> tuple[str, int, int, int]:
    """`buf` from `pos` on, with blocks added until it holds `end - pos` characters; the offsets
    moved with it."""
    parts = [buf[pos:]]
    have = len(buf) - pos
    while have < end - pos:
        block = next(blocks, None)
        if block is None:
            raise ValueError("a spill shorter than its packets' lengths")
        parts.append(block)
        have += len(block)
    return "".join(parts), 0, start - pos, end - pos


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


class JsonRecord(Protocol):
    """A record with its one JSON serializer."""

    def to_json(self) -> str: ...


class PieceSink(Protocol):
    """Where JSON text goes in pieces: a list, or a JsonSpill record that goes to disk as it grows."""

    def append(self, piece: str, /) -> None: ...


R = TypeVar("R", bound=JsonRecord)


def _drop(record: object) -> None:
    """The tap of a counted list (`RecordList(counted=True)`): the record is not kept."""


class RecordList(Generic[R]):
    """The list of a record (WebSocket frames and messages, Engine.IO and Socket.IO packets),
    one API wherever it lives: `append`, `len`, and reading it as JSON (`copy_to`, `write_to`,
    `texts`, `values`, `items`, `to_list`), which every output uses.

    `RecordList()` keeps the records themselves (the Python API, tests: `list(...)`, indexing
    and iteration give records). `RecordList(spill=True)` (streaming output, Options.spill_records)
    writes each record's JSON as it is appended to a JsonSpill, which keeps the text in memory up
    to IN_MEMORY characters and then moves it to an unnamed temporary file; only the first and
    the last record stay as records (a session's first and last times). `RecordList.written`
    takes a JsonSpill another writer filled (a session's packets, with payloads read back from
    disk). The JSON is the same either way: each record's `to_json()`.

    `RecordList(spill=True, counted=True)`: no output reads the records (the text summary
    without `--messages`): they are counted, first and last kept, and not serialized at all;
    reading their JSON raises ValueError (`kept` says which).
    """

    __slots__ = ("_count", "_first", "_items", "_last", "_spill", "_tap")

    def __init__(self, items: Iterable[R] = (), *, spill: bool = False, counted: bool = False) -> None:
        self._items: list[R] = []
        self._spill: JsonSpill | None = JsonSpill() if spill and not counted else None
        self._tap: Callable[[R], None] | None = _drop if counted else None
        self._count = 0
        self._first: R | None = None
        self._last: R | None = None
        for r in items:
            self.append(r)

    @classmethod
    def written(cls, spill: JsonSpill, first: R | None, last: R | None) -> RecordList[R]:
        """A list whose JSON another writer put in `spill` (`spill.count` records)."""
        out: RecordList[R] = cls()
        out._spill = spill
        out._count = spill.count
        out._first, out._last = first, last
        return out

    @classmethod
    def tapped(
        cls, tap: Callable[[R], None], count: int = 0, first: R | None = None, last: R | None = None
    ) -> RecordList[R]:
        """A list whose records go to `tap` as they are appended, and nowhere else: only their
        count and the first and the last record are kept, and there is no JSON to read
        (`socketscope batch` makes its rows from the records themselves, batch/tap.py).
        `count`, `first`, `last`: of records another writer already handed to a tap."""
        out: RecordList[R] = cls()
        out._tap = tap
        out._count, out._first, out._last = count, first, last
        return out

    def append(self, record: R) -> None:
        spill = self._spill
        if spill is not None:
            spill.add_json(record.to_json())
        else:
            tap = self._tap
            if tap is None:
                self._items.append(record)
                self._count += 1
                return
            tap(record)  # counted (`_drop`) or handed to a tap: not kept
        if self._first is None:
            self._first = record
        self._last = record
        self._count += 1

    @property
    def backing(self) -> JsonSpill | None:
        """The spill its JSON is in (a TalliedSpill also counts names), None in memory."""
        return self._spill

    @property
    def in_memory(self) -> bool:
        """Whether the records themselves are held (else only their JSON, or nothing: counted or
        tapped)."""
        return self._spill is None and self._tap is None

    @property
    def kept(self) -> bool:
        """Whether the records can be read back (False: counted only, or handed to a tap)."""
        return self._tap is None

    @property
    def tapped_list(self) -> bool:
        """Whether the records went to a tap (`tapped`): nothing of them can be read here."""
        return self._tap is not None and self._tap is not _drop

    @property
    def first(self) -> R | None:
        return self._items[0] if self._items else self._first

    @property
    def last(self) -> R | None:
        return self._items[-1] if self._items else self._last

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def _records(self) -> list[R]:
        if self._spill is not None:
            raise ValueError("these records were written to disk as JSON: read them with values()")
        self._no_tap()
        return self._items

    def _no_tap(self) -> None:
        if self._tap is not None:
            raise ValueError("these records were counted (or went to a tap as they came): not kept")

    def __iter__(self) -> Iterator[R]:
        return iter(self._records())

    @overload
    def __getitem__(self, index: int) -> R: ...

    @overload
    def __getitem__(self, index: slice) -> list[R]: ...

    def __getitem__(self, index: int | slice) -> R | list[R]:
        return self._records()[index]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RecordList):
            return NotImplemented
        if not (self.in_memory and other.in_memory):
            return self is other
        return self._items == other._items

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        where = (
            "in memory" if self.in_memory
            else "as JSON" if self._tap is None
            else "counted" if self._tap is _drop
            else "tapped"
        )  # fmt: skip
        return f"RecordList({self._count} records {where})"

    def texts(self) -> Iterator[str]:
        """Each record's JSON text."""
        self._no_tap()
        if self._spill is None:
            return (r.to_json() for r in self._items)
        return (text for text, _ in iter_elements(self._spill.pieces()))

    def values(self) -> Iterator[Any]:
        """Each record as a dict (its JSON read back), one at a time."""
        self._no_tap()
        if self._spill is None:
            return (json.loads(r.to_json()) for r in self._items)
        return (value for _, value in iter_elements(self._spill.pieces()))

    def items(self) -> Iterator[tuple[str, Any]]:
        """(JSON text, dict) of each record."""
        self._no_tap()
        if self._spill is None:
            return ((t, json.loads(t)) for t in map(_to_json, self._items))
        return iter_elements(self._spill.pieces())

    def to_list(self) -> list[Any]:
        """Every record as a dict, in one list."""
        self._no_tap()
        if self._spill is None:
            return list(json.loads("[" + ",".join(r.to_json() for r in self._items) + "]"))
        return self._spill.load()

    def copy_to(self, out: IO[str]) -> None:
        """The records' JSON, comma-separated, without brackets, to a text output."""
        self._no_tap()
        if self._spill is None:
            for i, r in enumerate(self._items):
                out.write(("," if i else "") + r.to_json())
        else:
            self._spill.copy_to(out)

    def write_to(self, out: PieceSink, write: Callable[[R, PieceSink], None] | None = None) -> None:
        """The records' JSON, comma-separated, as pieces; `write(record, out)` writes one record
        held in memory (default: its to_json()). JSON on disk is copied file to file into a
        JsonSpill."""
        self._no_tap()
        spill = self._spill
        if spill is None:
            for i, r in enumerate(self._items):
                if i:
                    out.append(",")
                if write is None:
                    out.append(r.to_json())
                else:
                    write(r, out)
        elif isinstance(out, JsonSpill):
            out.append_spill(spill)
        else:
            for piece in spill.pieces():
                out.append(piece)

    def close(self) -> None:
        """Free the file of a list written as JSON (harmless twice; records in memory stay)."""
        if self._spill is not None:
            self._spill.close()


def _to_json(record: JsonRecord) -> str:
    return record.to_json()
