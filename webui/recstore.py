"""The web UI's records on disk: every list of the analysis document that grows with the capture
(frames, messages, HTTP exchanges, Engine.IO and Socket.IO packets, acks) is written here as
JSON, one record at a time, and read back by number. Memory holds 8 bytes per record and a
small cache of blocks, so opening a capture of any size costs about the same memory.

`StoredList` stands in for such a list in the (otherwise small) document kept in memory: it is
a read-only sequence whose items are loaded when asked for. `json_pieces` writes a document
holding StoredLists as JSON text, copying the stored records without parsing them.
"""

from __future__ import annotations

import json
import threading
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any, overload

from analyzer.model.spill import dumps
from analyzer.model.tempfile_fd import AppendFile

__all__ = ["LazyDocs", "RecordStore", "StoredList", "dumps_with_stored", "json_pieces"]

_WRITE = 256 << 10  # bytes collected before one write
_BLOCK = 64 << 10  # read unit of the block cache
_CACHED_BLOCKS = 64  # 4 MiB of cached blocks per capture
_CHUNK = 1 << 20  # sequential reads


class RecordStore:
    """Append-only JSON records in an unnamed temporary file, numbered from 0."""

    def __init__(self) -> None:
        self._file = AppendFile()
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._ends = array("Q", [0])  # record n is bytes [_ends[n], _ends[n + 1])
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ends) - 1

    @property
    def size(self) -> int:
        return self._ends[-1]

    def add(self, text: str) -> int:
        """Store one record's JSON text; its number. Lone surrogates become JSON escapes."""
        data = text.encode("utf-8", "backslashreplace")
        self._pending.append(data)
        self._pending_size += len(data)
        self._ends.append(self._ends[-1] + len(data))
        if self._pending_size >= _WRITE:
            self._flush()
        return len(self._ends) - 2

    def add_value(self, value: Any) -> int:
        return self.add(dumps(value))

    def _flush(self) -> None:
        if self._pending:
            self._file.write(b"".join(self._pending))
            self._pending.clear()
            self._pending_size = 0

    def _read(self, length: int, offset: int) -> bytes:
        if self._pending:
            with self._lock:
                self._flush()
        return self._file.pread(length, offset) if length else b""

    def raw(self, n: int) -> bytes:
        lo, hi = self._ends[n], self._ends[n + 1]
        first, last = lo // _BLOCK, (hi - 1) // _BLOCK
        if hi - lo > _BLOCK or first != last:
            return self._read(hi - lo, lo)
        with self._lock:
            block = self._blocks.get(first)
            if block is not None:
                self._blocks.move_to_end(first)
        if block is None:
            block = self._read(min(_BLOCK, self.size - first * _BLOCK), first * _BLOCK)
            with self._lock:
                self._blocks[first] = block
                while len(self._blocks) > _CACHED_BLOCKS:
                    self._blocks.popitem(last=False)
        base = first * _BLOCK
        return block[lo - base : hi - base]

    def get(self, n: int) -> Any:
        return json.loads(self.raw(n))

    def _chunks(self, start: int, stop: int) -> Iterator[tuple[int, int, int, bytes]]:
        """Records start..stop-1 in large sequential reads: (first, end, offset, bytes) each, the
        bytes holding records first..end-1 and starting at file offset `offset`."""
        ends = self._ends
        i = start
        while i < stop:
            lo = ends[i]
            j = i + 1
            while j < stop and ends[j + 1] - lo <= _CHUNK:
                j += 1
            yield i, j, lo, self._read(ends[j] - lo, lo)
            i = j

    def iter_raw(self, start: int, stop: int) -> Iterator[bytes]:
        """Records start..stop-1, read in large sequential pieces."""
        ends = self._ends
        for i, j, lo, data in self._chunks(start, stop):
            for k in range(i, j):
                yield data[ends[k] - lo : ends[k + 1] - lo]

    def scan(self, needle: bytes) -> bytearray:
        """Per record, 1 where the record may hold `needle` ignoring ASCII case: its bytes,
        lowercased, contain it, or it has non-ASCII bytes (whose case folding Python does, not
        this scan). Reads the file in large pieces; `needle` must be lowercase ASCII."""
        flags = bytearray(len(self))
        ends = self._ends
        for i, j, lo, data in self._chunks(0, len(self)):
            if not data.isascii():
                for k in range(i, j):
                    if not data[ends[k] - lo : ends[k + 1] - lo].isascii():
                        flags[k] = 1
            low = data.lower()
            at = low.find(needle)
            while at >= 0:
                k = bisect_right(ends, lo + at) - 1
                flags[k] = 1
                at = low.find(needle, ends[k + 1] - lo)  # the next record
        return flags

    def close(self) -> None:
        self._pending.clear()
        self._blocks.clear()
        self._file.close()


class StoredList(Sequence[Any]):
    """Records first..first+count-1 of a store, as a read-only list of decoded JSON values."""

    __slots__ = ("first", "n", "store")

    def __init__(self, store: RecordStore, first: int, count: int) -> None:
        self.store = store
        self.first = first
        self.n = count

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, i: int) -> Any: ...

    @overload
    def __getitem__(self, i: slice) -> list[Any]: ...

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            start, stop, step = i.indices(self.n)
            if step != 1:
                return [self[k] for k in range(start, stop, step)]
            return [json.loads(r) for r in self.store.iter_raw(self.first + start, self.first + stop)]
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError("StoredList index out of range")
        return self.store.get(self.first + i)

    def __iter__(self) -> Iterator[Any]:
        for raw in self.store.iter_raw(self.first, self.first + self.n):
            yield json.loads(raw)

    def raw_items(self) -> Iterator[bytes]:
        return self.store.iter_raw(self.first, self.first + self.n)

    def __repr__(self) -> str:
        return f"StoredList({self.n} records)"


_MARK = "\u0000stored"  # a key no analyzer field has: {_MARK: [first, n]} is a StoredList


def dumps_with_stored(value: Any) -> str:
    """`dumps`, a StoredList written as a reference to its records (read back by LazyDocs)."""

    def ref(o: Any) -> Any:
        if isinstance(o, StoredList):
            return {_MARK: [o.first, o.n]}
        raise TypeError(f"{type(o).__name__} is not JSON")

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=ref)


class LazyDocs(Sequence[dict[str, Any]]):
    """Dicts kept as records of a store (connections, sessions: what is left of them once their
    long lists are StoredLists), decoded when asked for; the most recent ones are cached.
    Callers must not modify them."""

    __slots__ = ("_cache", "_lock", "numbers", "store")

    CACHED = 512

    def __init__(self, store: RecordStore, numbers: Sequence[int]) -> None:
        self.store = store
        self.numbers = array("q", numbers)
        self._cache: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def _restore(self, d: dict[str, Any]) -> Any:
        if len(d) == 1 and _MARK in d:
            mark = d[_MARK]
            if isinstance(mark, list) and len(mark) == 2 and all(type(x) is int for x in mark):
                return StoredList(self.store, mark[0], mark[1])
            return []  # only StoredList writes this key (a key no analyzer field has)
        return d

    def _load(self, i: int) -> dict[str, Any]:
        with self._lock:
            cached = self._cache.get(i)
            if cached is not None:
                self._cache.move_to_end(i)
                return cached
        d: dict[str, Any] = json.loads(self.store.raw(self.numbers[i]), object_hook=self._restore)
        with self._lock:
            self._cache[i] = d
            while len(self._cache) > self.CACHED:
                self._cache.popitem(last=False)
        return d

    def __len__(self) -> int:
        return len(self.numbers)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [self._load(k) for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("LazyDocs index out of range")
        return self._load(i)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(len(self)):
            yield self._load(i)

    def __repr__(self) -> str:
        return f"LazyDocs({len(self)} records)"


def json_pieces(value: Any) -> Iterator[str]:
    """`dumps(value)` in pieces, StoredLists copied from their store (for streamed responses)."""
    if isinstance(value, StoredList):
        yield "["
        for i, raw in enumerate(value.raw_items()):
            yield ("," if i else "") + raw.decode("utf-8")
        yield "]"
    elif isinstance(value, LazyDocs) or (isinstance(value, list | tuple) and any(map(_holds_stored, value))):
        yield "["
        for i, v in enumerate(value):
            if i:
                yield ","
            yield from json_pieces(v)
        yield "]"
    elif isinstance(value, dict):
        if not any(_holds_stored(v) for v in value.values()):
            yield dumps(value)
            return
        yield "{"
        for i, (k, v) in enumerate(value.items()):
            yield ("," if i else "") + dumps(str(k)) + ":"
            yield from json_pieces(v)
        yield "}"
    else:
        yield dumps(value)


def _holds_stored(value: Any) -> bool:
    if isinstance(value, StoredList | LazyDocs):
        return True
    if isinstance(value, dict):
        return any(_holds_stored(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_stored(v) for v in value)
    return False
