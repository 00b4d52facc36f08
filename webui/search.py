"""The text search's index: SQLite FTS5 with the trigram tokenizer, made when the capture is analysed.

The messages table's search (`q=`) keeps a row when its text (its summary and the searchable
text of its record: `Index.search_text`) holds the words, case folded. Without an index that is
a scan of every record on disk (seconds on a few hundred thousand rows); here each row's text
is put once in an FTS5 table whose trigram tokenizer (SQLite 3.34+) answers any substring of
three characters or more from the index, the rows in order (docs/filters.md, "Search").

Bounds (docs/bounds.md): the index holds at most `TOTAL_CHARS` characters; the rows past it are
listed in `unindexed` and checked by reading their text, so the answer is the scan's answer. A
row's text longer than `ROW_CHARS` is indexed in pieces that overlap by `OVERLAP` characters,
so a search of at most OVERLAP + 1 characters is in one piece (longer searches scan). The
database is SQLite's private temporary file (deleted when it is closed); its size and the time
it took are in `stats`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from array import array
from collections.abc import Iterable, Iterator, Sequence
from heapq import merge
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webui.index import Index

__all__ = ["OVERLAP", "ROW_CHARS", "TOTAL_CHARS", "SearchIndex", "fts5_trigram", "row_text"]

ROW_CHARS = 4096  # characters of one FTS row: a longer row text is put in pieces
OVERLAP = 255  # characters the pieces of a long row share: searches up to 256 characters use the index
TOTAL_CHARS = 256 << 20  # characters of all rows in the index
_BATCH = 2000


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
    """What the search looks into for row i (as `Index._filter_ids` does without the index)."""
    row = ix.table.row(i)
    return row.summary + "\n" + ix.search_text(row)


class SearchIndex:
    def __init__(
        self,
        db: sqlite3.Connection,
        n: int,
        chunk_row: array[int],
        unindexed: array[int],
        stats: dict[str, Any],
    ) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._n = n
        self._chunk_row = chunk_row
        self.unindexed = unindexed  # rows past the index's bound, in order: read when searched
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
        n = len(ix.table)
        unindexed = array("q")
        chunk_row = array("q")  # FTS rowid n + k is a piece of row chunk_row[k]
        total = 0
        batch: list[tuple[int, str]] = []
        for i in _store_order(ix):
            text = row_text(ix, i)
            if total + len(text) > TOTAL_CHARS:
                unindexed.append(i)  # past the index's bound: read when searched
                continue
            total += len(text)
            if len(text) <= ROW_CHARS:
                batch.append((i, text))
            else:  # pieces overlapping by OVERLAP: a needle of OVERLAP + 1 characters is in one
                for at in range(0, len(text) - OVERLAP, ROW_CHARS - OVERLAP):
                    batch.append((n + len(chunk_row), text[at : at + ROW_CHARS]))
                    chunk_row.append(i)
            if len(batch) >= _BATCH:
                db.executemany("INSERT INTO rows(rowid, text) VALUES (?, ?)", batch)
                batch.clear()
        if batch:
            db.executemany("INSERT INTO rows(rowid, text) VALUES (?, ?)", batch)
        db.execute("INSERT INTO rows(rows) VALUES ('optimize')")
        db.commit()
        pages = db.execute("PRAGMA page_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]
        stats = {
            "rows": n,
            "indexed_chars": total,
            "pieces_of_long_rows": len(chunk_row),
            "unindexed_rows": len(unindexed),
            "bytes": pages,
            "build_s": round(time.monotonic() - started, 3),
        }
        return cls(db, n, chunk_row, array("q", sorted(unindexed)), stats)

    @staticmethod
    def answers(needle: str) -> bool:
        """Whether the index answers a (case-folded) search: three characters or more (a trigram),
        ASCII (SQLite folds ASCII case as str.casefold does)."""
        return 3 <= len(needle) <= OVERLAP + 1 and needle.isascii() and needle.isprintable()

    def hits(self, needle: str) -> list[int]:
        """The indexed rows whose text holds `needle`, in row order."""
        query = '"' + needle.replace('"', '""') + '"'
        n, chunk_row = self._n, self._chunk_row
        with self._lock:
            cur = self._db.execute("SELECT rowid FROM rows WHERE rows MATCH ? ORDER BY rowid", (query,))
            out: list[int] = []
            pieces: set[int] = set()
            while chunk := cur.fetchmany(65536):
                for (r,) in chunk:
                    if r < n:
                        out.append(r)
                    else:
                        pieces.add(chunk_row[r - n])
        if pieces:  # the rows of the pieces of long rows that hold it, in their place
            out = sorted(pieces.union(out))
        return out

    def narrow(self, ix: Index, needle: str, cand: Iterable[int]) -> Iterator[int]:
        """The rows of `cand` (row order) whose text holds `needle`: the index's hits and the
        unindexed rows that hold it when read."""
        found = merge(self.hits(needle), (i for i in self.unindexed if needle in row_text(ix, i).casefold()))
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
