"""A read-only index over one analysis document (ANALYSIS_JSON.md) for the web views.

The analysis document is the contract; everything here reads it defensively (a missing
key gives an empty view, never an exception). The index flattens every layer into one
table of rows in time order (TCP handshake and teardown packets, HTTP requests and
responses, WebSocket messages and control frames, Engine.IO packets, Socket.IO packets),
which the messages table, the timeline and the sequence diagrams page through, and it
links each row down its OSI stack (Socket.IO -> Engine.IO -> WebSocket/HTTP -> packets).

Memory does not follow the capture: the records behind the rows live in a RecordStore on
disk (webui/recstore.py), the rows are columns (webui/rowtable.py), and what is kept as
Python objects is the small part of each connection and session (webui/indexbuild.py).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from heapq import merge
from itertools import groupby
from typing import Any

from analyzer.query import compile_filter
from webui.docutil import (
    EIO_TYPE_DIGIT,
    LAYER_NAMES,
    SEARCH_CHARS,
    SIO_TYPE_DIGIT,
    SUMMARY_CHARS,
    WS_OPCODE_NAMES,
    as_dict,
    as_float,
    as_int,
    as_list,
    as_str,
    conn_label,
    eio_summary,
    endpoint_text,
    flatten,
    is_header,
    json_text,
    record_packets,
    session_label,
    sio_summary,
    ws_frame_summary,
    ws_message_summary,
)
from webui.indexbuild import Built, IndexBuilder
from webui.links import Links
from webui.recstore import StoredList, json_pieces
from webui.rowfilter import RowMatcher
from webui.rowtable import LAYERS, Row, RowTable
from webui.search import SearchIndex

__all__ = [
    "EIO_TYPE_DIGIT",
    "LAYERS",
    "LAYER_NAMES",
    "SEARCH_CHARS",
    "SIO_TYPE_DIGIT",
    "SUMMARY_CHARS",
    "WS_OPCODE_NAMES",
    "Filters",
    "Index",
    "Row",
    "as_dict",
    "as_float",
    "as_int",
    "as_list",
    "as_str",
    "conn_label",
    "eio_summary",
    "endpoint_text",
    "flatten",
    "record_packets",
    "session_label",
    "sio_summary",
    "ws_frame_summary",
    "ws_message_summary",
]

_DIR_NO = {"c2s": 1, "s2c": 2}
_NOT_SCANNABLE = frozenset('"\\ :')


@dataclass(frozen=True, slots=True)
class Filters:
    direction: str | None = None
    layer: str | None = None
    kind: str | None = None
    nsp: str | None = None
    event: str | None = None
    text: str | None = None
    connection: int | None = None
    session: int | None = None
    t0: float | None = None
    t1: float | None = None
    expr: str | None = None  # a filter of docs/filters.md (`filter=`), compiled when rows are read

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        def s(name: str) -> str | None:
            v = args.get(name)
            return v.strip()[:200] if isinstance(v, str) and v.strip() else None

        def i(name: str) -> int | None:
            v = s(name)
            return int(v) if v is not None and v.isdigit() and len(v) < 12 else None

        def f(name: str) -> float | None:
            v = s(name)
            if v is None:
                return None
            try:
                x = float(v)
            except ValueError:
                return None
            return x if x == x and abs(x) != float("inf") else None

        direction = s("direction")
        layer = s("layer")
        expr = args.get("filter")
        return cls(
            direction=direction if direction in ("c2s", "s2c") else None,
            layer=layer if layer in LAYERS else None,
            kind=s("type"),
            nsp=s("nsp"),
            event=s("event"),
            text=s("q"),
            connection=i("connection"),
            session=i("session"),
            t0=f("t0"),
            t1=f("t1"),
            expr=expr if isinstance(expr, str) and expr.strip() else None,  # as typed: error columns
        )

    def to_args(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, v in (
            ("direction", self.direction),
            ("layer", self.layer),
            ("type", self.kind),
            ("nsp", self.nsp),
            ("event", self.event),
            ("q", self.text),
            ("connection", self.connection),
            ("session", self.session),
            ("t0", self.t0),
            ("t1", self.t1),
            ("filter", self.expr),
        ):
            if v is not None:
                out[key] = str(v)
        return out

    @property
    def active(self) -> bool:
        return bool(self.to_args())


class Index:
    """Rows, lanes and cross-layer links of one analysis document.

    `Index(doc, frame_ts)` indexes a document held as a dict; `Index.from_built` takes what an
    IndexBuilder made from the pipeline's streamed records."""

    def __init__(
        self,
        doc: Mapping[str, Any] | None = None,
        frame_ts: Sequence[float] | None = None,
        *,
        built: Built | None = None,
    ) -> None:
        if built is None:
            built = IndexBuilder.from_document(doc if doc is not None else {}, frame_ts)
        self.head = built.head
        self.capture = as_dict(self.head, "capture")
        self.layer_stats = as_dict(self.head, "layer_stats")
        self.connections: Sequence[dict[str, Any]] = built.connections
        self.sessions: Sequence[dict[str, Any]] = built.sessions
        self.anomalies: list[dict[str, Any]] = built.anomalies
        self.frame_ts: Sequence[float] = built.frame_ts
        self.table: RowTable = built.table
        self.rows: RowTable = built.table
        self.store = built.store
        self.ws_frame_bytes = built.ws_frame_bytes
        self.session_first_ts = built.session_first_ts
        self.capture_marks = built.capture_marks
        self.conn_summaries = built.conn_summaries
        self.session_summaries = built.session_summaries
        self._conn_lists = built.conn_lists
        self._session_lists = built.session_lists
        self.conn_pos: dict[int | None, int] = {cid: i for i, cid in enumerate(built.connection_ids)}
        self.t0 = as_float(self.capture.get("first_ts")) or 0.0
        self._by_frame: tuple[array[int], array[int]] | None = None
        self._by_session: dict[int, array[int]] | None = None
        self._by_conn: dict[int, array[int]] | None = None
        self._links: Links | None = None
        self._scan_cache: tuple[str, bytearray, bytearray] | None = None
        self._by_ends: dict[tuple[str, str], list[int]] | None = None
        self.search: SearchIndex | None = None  # webui/search.py, made by build_search()

    @classmethod
    def from_built(cls, built: Built) -> Index:
        return cls(built=built)

    def build_search(self) -> None:
        """The text index of the rows (webui/search.py), made once the rows are in."""
        self.search = SearchIndex.build(self)

    @property
    def doc(self) -> dict[str, Any]:
        """The document, its long lists standing in as StoredLists (write it with `json_pieces`)."""
        return {
            **self.head,
            "connections": self.connections,
            "engineio_sessions": self.sessions,
            "anomalies": self.anomalies,
        }

    def json_pieces(self, value: Any = None) -> Iterator[str]:
        """`value` (default: the whole document) as JSON text, in pieces, stored lists copied."""
        return json_pieces(self.doc if value is None else value)

    # -- lookups --
    def ts_of(self, frame: int | None) -> float | None:
        if frame is None or not 0 < frame <= len(self.frame_ts):
            return None
        return self.frame_ts[frame - 1]

    _LIST_AT = {
        "http_req": (0, 6),
        "http_resp": (0, 6),
        "ws_frame": (2, 6),
        "ws_msg": (4, 6),
        "eio": (0, 4),
        "sio": (2, 4),
    }

    def container(self, src: tuple[str, int, int]) -> tuple[StoredList, int] | None:
        """The stored list a row's record is in, and its position there (found from the
        builder's (first, count) table, without loading the connection or session)."""
        kind, a, b = src
        at = self._LIST_AT.get(kind)
        if at is None:
            return None
        table = self._session_lists if kind in ("eio", "sio") else self._conn_lists
        k = at[1] * a + at[0]
        if not 0 <= k + 1 < len(table):
            return None
        return StoredList(self.store, table[k], table[k + 1]), b

    def record(self, row: Row) -> dict[str, Any]:
        """The document object a row was made from."""
        return self.record_at(row.src)

    def record_at(self, src: tuple[str, int, int]) -> dict[str, Any]:
        if src[0] == "tcp":
            return as_dict(self.connections[src[1]], "tcp")
        found = self.container(src)
        if found is None:
            return {}
        items, b = found
        rec = items[b] if 0 <= b < len(items) else None
        if src[0] in ("http_req", "http_resp"):
            rec = (
                rec.get("request" if src[0] == "http_req" else "response") if isinstance(rec, dict) else None
            )
        return rec if isinstance(rec, dict) else {}

    def record_raw(self, i: int) -> bytes | None:
        """The stored JSON of row i's record (of an HTTP row, its whole exchange); None for a
        TCP row or a row whose record is not in the store."""
        found = self.container(self.table.src_of(i))
        if found is None or not 0 <= found[1] < len(found[0]):
            return None
        return self.store.raw(found[0].first + found[1])

    def row(self, rid: int) -> Row | None:
        return self.rows[rid] if 0 <= rid < len(self.rows) else None

    def session_label(self, si: int) -> str:
        sid = self.session_summaries[si].sid if 0 <= si < len(self.session_summaries) else None
        return session_label({"sid": sid}, si)

    def connection(self, cid: Any) -> dict[str, Any] | None:
        pos = self.conn_pos.get(as_int(cid))
        return self.connections[pos] if pos is not None else None

    def connection_at(self, src: str, dst: str, frame: int) -> tuple[int, bool] | None:
        """The connection (position in conn_summaries) a packet from `src` to `dst`
        (endpoint_text) numbered `frame` belongs to, and whether it went client -> server."""
        if self._by_ends is None:
            by: dict[tuple[str, str], list[int]] = {}
            for ci, c in enumerate(self.conn_summaries):
                by.setdefault(c.ends, []).append(ci)
            self._by_ends = by
        for key, c2s in (((src, dst), True), ((dst, src), False)):
            for ci in self._by_ends.get(key, ()):
                lo, hi = self.conn_summaries[ci].frame_span
                if (lo is None or lo <= frame) and (hi is None or frame <= hi):
                    return ci, c2s
        return None

    def rel(self, ts: float | None) -> float | None:
        return None if ts is None else ts - self.t0

    def rows_for_frame(self, frame: int) -> list[Row]:
        if self._by_frame is None:
            t = self.table
            owner = array("q")
            for i in range(len(t)):
                owner.extend([i] * (t.pk_start[i + 1] - t.pk_start[i]))
            order = sorted(range(len(t.pk)), key=t.pk.__getitem__)
            self._by_frame = (array("q", [t.pk[k] for k in order]), array("q", [owner[k] for k in order]))
        keys, rows = self._by_frame
        lo, hi = bisect_left(keys, frame), bisect_right(keys, frame)
        return [self.rows[i] for i in sorted(set(rows[lo:hi]))]

    def _groups(self) -> tuple[dict[int, array[int]], dict[int, array[int]]]:
        if self._by_session is None or self._by_conn is None:
            by_s: dict[int, array[int]] = {}
            by_c: dict[int, array[int]] = {}
            t = self.table
            for i, (s, c) in enumerate(zip(t.session, t.connection, strict=True)):
                if s >= 0:
                    by_s.setdefault(s, array("q")).append(i)
                if c >= 0:
                    by_c.setdefault(c, array("q")).append(i)
            self._by_session, self._by_conn = by_s, by_c
        return self._by_session, self._by_conn

    def session_row_ids(self, si: int) -> Sequence[int]:
        """Rows of an Engine.IO session (its Engine.IO and Socket.IO packets), in time order."""
        return self._groups()[0].get(si, ())

    def connection_row_ids(self, cid: int | None) -> Sequence[int]:
        """Rows whose connection is `cid` (every layer), in time order."""
        return () if cid is None else self._groups()[1].get(cid, ())

    def rows_between(self, t0: float | None, t1: float | None) -> range:
        """Row ids with t0 <= ts - start <= t1 (rows are in time order)."""
        ts = self.table.ts
        lo = 0 if t0 is None else bisect_left(ts, self.t0 + t0)
        hi = len(ts) if t1 is None else bisect_right(ts, self.t0 + t1)
        return range(lo, max(lo, hi))

    # -- filtering and paging --
    def _filter_ids(self, flt: Filters) -> Iterator[int]:
        t = self.table
        matcher = RowMatcher(self, compile_filter(flt.expr)) if flt.expr else None  # FilterError
        cand: Iterable[int]
        if flt.session is not None:
            cand = self.session_row_ids(flt.session)
        elif flt.connection is not None:
            cand = self.connection_row_ids(flt.connection)
        else:
            cand = self.rows_between(flt.t0, flt.t1)
        layer = LAYERS.index(flt.layer) if flt.layer else None
        direction = _DIR_NO.get(flt.direction or "")
        kinds = None
        if flt.kind:
            want = flt.kind.casefold()
            kinds = {n for n, k in enumerate(t.kinds.values) if k.casefold() == want}
        nsp = event = None
        if flt.nsp is not None:
            nsp = t.nsps.find(flt.nsp)
            if nsp is None:
                return
        if flt.event is not None:
            event = t.events.find(flt.event)
            if event is None:
                return
        lo = None if flt.t0 is None else self.t0 + flt.t0
        hi = None if flt.t1 is None else self.t0 + flt.t1
        if matcher is not None and self.search is not None:
            cand = self._payload_candidates(matcher, cand)
        needle = flt.text.casefold() if flt.text else None
        if needle and self.search is not None and self.search.answers(needle):
            cand, needle = self.search.narrow(self, needle, cand), None
        scans = self._scans(needle) if needle else None
        for i in cand:
            if layer is not None and t.layer[i] != layer:
                continue
            if direction is not None and t.direction[i] != direction:
                continue
            if kinds is not None and t.kind[i] not in kinds:
                continue
            if nsp is not None and t.nsp[i] != nsp:
                continue
            if event is not None and t.event[i] != event:
                continue
            if flt.connection is not None and t.connection[i] != flt.connection:
                continue
            if flt.session is not None and t.session[i] != flt.session:
                continue
            if (lo is not None and t.ts[i] < lo) or (hi is not None and t.ts[i] > hi):
                continue
            if needle and not self._has_text(i, needle, scans):
                continue
            if matcher is not None and not matcher(i):
                continue
            yield i

    def _payload_candidates(self, matcher: RowMatcher, cand: Iterable[int]) -> Iterable[int]:
        """`cand` narrowed by the text index to the rows that may pass the filter's `payload
        contains "x"` tests, when each top-level alternative of the filter has one in its `&&`
        chain (webui/search.py, `narrows_payload`; of several alternatives, the union); the filter
        itself then checks each of them exactly, so the rows kept are the scan's."""
        search = self.search
        if search is None:
            return cand
        needles = []
        for alt in matcher.flt.required_substrings("payload"):
            usable = [n for n in alt if search.narrows_payload(n)]
            if not usable:
                return cand  # an alternative the index cannot narrow: every row is tested
            needles.append(usable[0])
        if len(needles) == 1:
            return search.payload_rows(self, needles[0], cand)
        cand = cand if isinstance(cand, range) else list(cand)  # read once per needle
        merged = merge(*(search.payload_rows(self, n, cand) for n in needles))
        return (i for i, _ in groupby(merged))  # in row order, each once

    def _scans(self, needle: str) -> tuple[bytearray, bytearray] | None:
        """Which summaries and which records may contain `needle` (RecordStore.scan), for a
        needle a raw scan cannot miss: ASCII, and nothing JSON escapes or the search text adds
        between fields (a space, a colon). None: every row is checked in full."""
        if not needle.isascii() or any(c in _NOT_SCANNABLE or c < " " for c in needle):
            return None
        cached = self._scan_cache
        if cached is None or cached[0] != needle:
            key = needle.encode()
            cached = self._scan_cache = (needle, self.table.summaries.scan(key), self.store.scan(key))
        return cached[1], cached[2]

    def _has_text(self, i: int, needle: str, scans: tuple[bytearray, bytearray] | None) -> bool:
        t = self.table
        if (scans is None or scans[0][t.summary_no[i]]) and needle in t.summary_of(i).casefold():
            return True
        src = t.src_of(i)
        if src[0] == "tcp":
            return False
        if scans is not None:
            found = self.container(src)
            if found is not None and 0 <= src[2] < len(found[0]) and not scans[1][found[0].first + src[2]]:
                return False  # the record's text cannot hold it
        return needle in self.search_text(t.row(i)).casefold()

    def filter(self, flt: Filters) -> Iterator[Row]:
        for i in self._filter_ids(flt):
            yield self.table.row(i)

    def page(self, flt: Filters, offset: int, limit: int) -> tuple[int, list[Row]]:
        total = 0
        out: list[Row] = []
        for i in self._filter_ids(flt):
            if offset <= total < offset + limit:
                out.append(self.table.row(i))
            total += 1
        return total, out

    def neighbours(self, flt: Filters, rid: int) -> tuple[int | None, int | None, int]:
        """The rows just before and just after row `rid` among those `flt` keeps, and how many
        it keeps before `rid` (where `rid` is, or would be, in the filtered list)."""
        before, n = None, 0
        for i in self._filter_ids(flt):  # in row order
            if i < rid:
                before, n = i, n + 1
            elif i > rid:
                return before, i, n
        return before, None, n

    def search_text(self, row: Row) -> str:
        rec = self.record(row)
        if row.layer == "websocket":
            return (as_str(rec.get("text")) or as_str(rec.get("close_reason")) or "")[:SEARCH_CHARS]
        if row.layer == "engineio":
            return (as_str(rec.get("data")) or "")[:SEARCH_CHARS]
        if row.layer == "socketio":
            return json_text(rec.get("data"))[:SEARCH_CHARS] + " " + (as_str(rec.get("nsp")) or "")
        if row.layer == "http":
            body = as_dict(rec, "body")
            heads = " ".join(f"{h[0]}: {h[1]}" for h in as_list(rec, "headers") if is_header(h))
            return heads + " " + (as_str(body.get("text")) or "")[:SEARCH_CHARS]
        return ""

    def facets(self) -> dict[str, list[str]]:
        """Values the filter drop-downs offer."""
        t = self.table
        pairs = set(zip(t.layer, t.kind, strict=True))
        kinds: dict[str, set[str]] = {layer: set() for layer in LAYERS}
        for layer, kind in pairs:
            kinds[LAYERS[layer]].add(t.kinds.values[kind])
        nsps = {v for n in set(t.nsp) if (v := t.nsps.get(n)) is not None}
        events: set[str] = set()
        for n in t.event:
            if n >= 0 and len(events) < 500:
                events.add(t.events.values[n])
        all_kinds = [k for layer in LAYERS for k in sorted(kinds[layer])]
        return {"type": list(dict.fromkeys(all_kinds)), "nsp": sorted(nsps), "event": sorted(events)}

    def counts(self) -> dict[str, int]:
        layers = self.table.layer
        return {name: layers.count(bytes([i])) for i, name in enumerate(LAYERS)}

    # -- cross-layer links (webui/links.py) --
    @property
    def links(self) -> Links:
        if self._links is None:
            self._links = Links(self)
        return self._links

    def sio_eio_rows(self, row: Row) -> list[Row]:
        """The Engine.IO packets that carried a Socket.IO packet (the text packet, then its attachments)."""
        return self.links.sio_eio_rows(row)

    def carrier_rows(self, row: Row) -> list[Row]:
        """The WebSocket message or HTTP request/response that carried an Engine.IO packet."""
        return self.links.carrier_rows(row)

    def ws_message_frames(self, row: Row) -> list[dict[str, Any]]:
        """The data frames of a WebSocket message (RFC 6455 §5.4: first frame, continuations, FIN)."""
        return self.links.ws_message_frames(row)

    def http_for_frame(self, cid: int | None, frame: int | None) -> dict[str, Any] | None:
        """The HTTP exchange of a connection whose request or response is at `frame`."""
        return self.links.http_for_frame(cid, frame)
