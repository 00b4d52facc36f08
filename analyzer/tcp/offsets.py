"""Map stream offsets back to the packets that carried them.

Each direction records, per delivered segment, the stream offset of its first new
byte with the packet number and timestamp (seconds as the outputs show them, and integer
nanoseconds, which durations are computed from). Lookups are binary searches. Entries
below the lowest offset an upper layer can still ask for may be discarded, so that
memory follows what is open, not the length of the stream.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right

__all__ = ["OffsetMap"]

_Q_MAX = (1 << 63) - 1  # an array("q") item; a capture's times span far less (292 years)


class OffsetMap:
    __slots__ = ("_base", "_frames", "_hint", "_ns", "_ns0", "_starts", "_ts")

    def __init__(self) -> None:
        self._starts = array("q")
        self._frames = array("q")
        self._ts = array("d")
        self._ns = array("q")  # nanoseconds after _ns0 (a pcapng if_tsoffset can make times huge)
        self._ns0 = 0  # the first entry's time (entries are never all discarded)
        self._base = 0  # entries before this index were discarded
        self._hint = -1  # the entry of the last `where` (many small frames share one segment)

    def add(self, offset: int, frame: int, ts: float, ts_ns: int) -> None:
        if not self._starts:
            self._ns0 = ts_ns
        self._starts.append(offset)
        self._frames.append(frame)
        self._ts.append(ts)
        try:
            self._ns.append(ts_ns - self._ns0)
        except OverflowError:  # more than 292 years from the first entry
            self._ns.append(_Q_MAX if ts_ns > self._ns0 else -_Q_MAX)

    def _index(self, offset: int) -> int:
        i = bisect_right(self._starts, offset) - 1
        return i if i >= 0 else 0

    def frame_at(self, offset: int) -> int:
        """The packet that carried the byte at `offset` (0 when nothing is mapped)."""
        if not self._starts:
            return 0
        return self._frames[self._index(offset)]

    def ts_at(self, offset: int) -> float:
        if not self._starts:
            return 0.0
        return self._ts[self._index(offset)]

    def ns_at(self, offset: int) -> int:
        """`ts_at` in integer nanoseconds."""
        if not self._starts:
            return 0
        return self._ns0 + self._ns[self._index(offset)]

    def frames_between(self, start: int, end: int) -> tuple[int, ...]:
        """Every packet that carried a byte of [start, end), in stream order, without repeats."""
        if not self._starts or end <= start:
            return ()
        i = self._index(start)
        j = bisect_right(self._starts, end - 1)
        seen: dict[int, None] = {}
        for f in self._frames[i:j]:
            seen[f] = None
        return tuple(seen)

    def where(self, start: int, end: int) -> tuple[int, float, tuple[int, ...]]:
        """`frame_at` and `ts_at` of the byte before `end`, and `frames_between` [start, end) (at
        least one byte), in one lookup: when the range lies in one segment (the common case: a
        segment carries many frames) the previous answer's entry is checked before searching."""
        starts = self._starts
        n = len(starts)
        if n == 0:
            return 0, 0.0, ()
        last = max(end - 1, start)
        i = self._hint
        if not (0 <= i < n and starts[i] <= start and (i + 1 == n or starts[i + 1] > last)):
            i = self._index(start)
            if starts[i] > start or (i + 1 < n and starts[i + 1] <= last):  # before or across
                return self.frame_at(last), self.ts_at(last), self.frames_between(start, last + 1)
            self._hint = i
        frame = self._frames[i]
        return frame, self._ts[i], (frame,)

    def discard_before(self, offset: int) -> None:
        """Forget entries wholly below `offset` (keeps the one containing it)."""
        i = self._index(offset)
        if i > 4096:
            self._hint = -1
            del self._starts[:i]
            del self._frames[:i]
            del self._ts[:i]
            del self._ns[:i]

    def __len__(self) -> int:
        return len(self._starts)
