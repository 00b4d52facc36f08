"""The text search's index: SQLite FTS5 with the trigram tokenizer, made when the capture is analysed.

The messages table's search (`q=`) keeps a row when its text (its summary and the searchable
text of its record: `Index.search_text`) holds the words, case folded. Without an index that is
a scan of every record on disk (seconds on a few hundred thousand rows); here each row's text
is put once in an FTS5 table whose trigram tokenizer (SQLite 3.34+) answers any substring of
three characters or more from the index, the rows in order (docs/filters.md, "Search").

Bounds (docs/bounds.md): the indexed search looks into the first `ROW_CHARS` characters of each
row's text (summary first, then the payload, headers, namespace), so that a capture of big
messages does not make an index many times its size: the rows whose text is longer are listed in
`cut`, and a search reads their whole text again unless the index already found them there. The
index holds at most `TOTAL_CHARS` characters; the rows past it are listed in `unindexed` and read
when searched. So the result is always the plain scan's; only its cost depends on the bounds.
Searches the index cannot answer (under three characters, non-ASCII)
scan the rows as before (`Index._filter_ids`: 64 Ki characters of each field). The database is
SQLite's private temporary file (deleted when it is closed); its size and the time it took are
in `stats`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from heapq import merge
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webui.index import Index

__all__ = ["ROW_CHARS", "TOTAL_CHARS", "SearchIndex", "fts5_trigram", "row_text"]

ROW_CHARS = 2048  # characters of a row's text that the indexed search looks into
TOTAL_CHARS = 256 << 20  # characters of all rows in the index
_BATCH = 2000
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def fts5_trigram() -> bool:
    """Whether this Python's SQLite has FTS5 with the trigram tokenizer."""
    try:
        db = sqlite3.connect(":memory:")
        try:
            db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram')")
        finally:
            db.close()
    except sqlite3.Error:
        return False
    return True


def row_text(ix: Index, i: int) -> str:
    """What the indexed search looks into for row i: the first ROW_CHARS characters of its summary
    and its record's text (`Index.search_text`)."""
    return _full_text(ix, i)[:ROW_CHARS]


def _full_text(ix: Index, i: int) -> str:
    row = ix.table.row(i)
    return row.summary + "\n" + ix.search_text(row)


class SearchIndex:
    def __init__(
        self, db: sqlite3.Connection, unindexed: array[int], cut: array[int], stats: dict[str, Any]
    ) -> None:
        self._db = db
        self._lock = threading.Lock()
        self.unindexed = unindexed  # rows past the index's bound, in order: read when searched
        self.cut = cut  # rows indexed by their first ROW_CHARS characters only, in order
        self.stats = stats

    @classmethod
    def build(cls, ix: Index) -> SearchIndex | None:
        """The index of every row's text; None when SQLite has no FTS5 trigram tokenizer (the
        search then scans)."""
        if not fts5_trigram():
            return None
        started = time.monotonic()
        db = sqlite3.connect("", check_same_thread=False)  # "": a private temporary file
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-65536"):
            db.execute(f"PRAGMA {pragma}")
        # contentless (the text is on disk in the RecordStore already); detail=full keeps the
        # token positions that make a phrase of trigrams an exact substring
        db.execute("CREATE VIRTUAL TABLE rows USING fts5(text, tokenize='trigram', content='')")
        unindexed, cut_rows = array("q"), array("q")
        total = 0
        batch: list[tuple[int, str]] = []
        for i in _store_order(ix):
            text = _full_text(ix, i)
            if len(text) > ROW_CHARS:
                cut_rows.append(i)
                text = text[:ROW_CHARS]
            if total + len(text) > TOTAL_CHARS:
                unindexed.append(i)  # past the index's bound: read when searched
                continue
            total += len(text)
            batch.append((i, text))
            if len(batch) >= _BATCH:
                db.executemany("INSERT INTO rows(rowid, text) VALUES (?, ?)", batch)
                batch.clear()
        if batch:
            db.executemany("INSERT INTO rows(rowid, text) VALUES (?, ?)", batch)
        db.execute("INSERT INTO rows(rows) VALUES ('optimize')")
        db.commit()
        pages = db.execute("PRAGMA page_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]
        stats = {
            "rows": len(ix.table),
            "indexed_chars": total,
            "rows_cut": len(cut_rows),
            "unindexed_rows": len(unindexed),
            "bytes": pages,
            "build_s": round(time.monotonic() - started, 3),
        }
        return cls(db, array("q", sorted(unindexed)), array("q", sorted(cut_rows)), stats)

    def payload_rows(self, ix: Index, needle: str, cand: Iterable[int]) -> Iterator[int]:
        """The rows of `cand` whose filter field `payload` may hold `needle` (`narrows_payload`):
        the index's hits (case folded), and of the rows it holds cut or not at all, those whose
        record's stored JSON holds the needle's bytes; for a needle with a character JSON escapes
        in a string (a quote, a backslash), all of them. The filter checks each row exactly."""
        key = needle.encode()
        raw_safe = '"' not in needle and "\\" not in needle

        def holds(i: int) -> bool:  # a payload is its record's text: JSON leaves these bytes as they are
            raw = ix.record_raw(i)
            return not raw_safe or raw is None or key in raw

        return self.narrow(ix, needle.casefold(), cand, holds)

    @classmethod
    def narrows_payload(cls, needle: str) -> bool:
        """Whether the index's rows holding `needle` (case folded) and the rows it re-reads
        include every row whose filter field `payload` holds `needle` (`payload contains`, case
        sensitive): a payload is the row's searched text (the Socket.IO data's JSON, the Engine.IO
        or WebSocket text, the close reason, the HTTP body's text), or hex digits when binary,
        which a needle with a character other than a hex digit is never in."""
        return cls.answers(needle.casefold()) and not set(needle) <= _HEX_DIGITS

    @staticmethod
    def answers(needle: str) -> bool:
        """Whether the index answers a (case-folded) search: three characters or more (a trigram),
        ASCII (SQLite folds ASCII case as str.casefold does)."""
        return len(needle) >= 3 and needle.isascii() and needle.isprintable()

    def hits(self, needle: str) -> array[int]:
        """The indexed rows whose text holds `needle`, in row order."""
        query = '"' + needle.replace('"', '""') + '"'
        out = array("q")
        with self._lock:
            cur = self._db.execute("SELECT rowid FROM rows WHERE rows MATCH ? ORDER BY rowid", (query,))
            while chunk := cur.fetchmany(65536):
                out.extend(r for (r,) in chunk)
        return out

    def narrow(
        self, ix: Index, needle: str, cand: Iterable[int], holds: Callable[[int], bool] | None = None
    ) -> Iterator[int]:
        """The rows of `cand` (row order) whose text holds `needle`: the index's hits, and the
        unindexed or cut rows that hold it when their whole text is read (or for which `holds`,
        given instead, is true)."""
        hits = self.hits(needle)
        seen = set(hits)
        reread = merge(self.unindexed, (i for i in self.cut if i not in seen))
        if holds is None:

            def holds(i: int) -> bool:
                return needle in _full_text(ix, i).casefold()

        found = merge(hits, (i for i in reread if holds(i)))
        if isinstance(cand, range):
            lo, hi = cand.start, cand.stop
            return (i for i in found if lo <= i < hi)
        keep = set(cand)
        return (i for i in found if i in keep)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _store_order(ix: Index) -> Sequence[int]:
    """Row ids in the order their records are in the RecordStore (a sequential read), not time order."""
    t = ix.table
    firsts = []
    for i in range(len(t)):
        found = ix.container(t.src_of(i))
        firsts.append(found[0].first + t.src_b[i] if found is not None else -1)
    return sorted(range(len(t)), key=firsts.__getitem__)
