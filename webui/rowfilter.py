"""A filter of the language of docs/filters.md (analyzer.query) applied to the rows of an Index.

Each row is a `Subject` whose cheap fields (layer, direction, packet, connection, Socket.IO event
and namespace, packet types, a Socket.IO packet's ack latency and whether it was answered, the
WebSocket opcode, a WebSocket message's or control frame's length) come from the row columns;
the record behind the row and the connection that carried it are read from the RecordStore only
when a field of the filter needs them, so `sio.event == "chat"`, `ack.latency_ms > 200` or
`ws.opcode == 8` never reads a record. What the tcp.* fields read of a
connection (its ends and `tcp` object, not its messages) is kept for the whole run of a filter:
rows of thousands of connections interleave in time.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from analyzer.query import Context, Filter, Subject, acks_of, compile_filter
from webui.docutil import WS_OPCODE_NAMES, as_dict
from webui.rowtable import ACK_ANSWERED, ACK_NONE

if TYPE_CHECKING:
    from webui.index import Index

__all__ = ["RowMatcher", "anomalies_kept", "row_subject_kind"]

_KINDS = {
    "tcp": ("tcp", None),
    "http_req": ("http", "request"),
    "http_resp": ("http", "response"),
    "ws_msg": ("ws_msg", None),
    "ws_frame": ("ws_frame", None),
    "eio": ("eio", None),
    "sio": ("sio", None),
}
_CACHED = 1024  # sessions whose acks stay decoded while a filter runs
_OPCODE = {name: code for code, name in WS_OPCODE_NAMES.items()}  # a row's kind -> ws.opcode


def row_subject_kind(src_kind: str) -> tuple[str, str | None]:
    """The filter's record kind (analyzer.query KINDS) of a row's source kind, and for an HTTP row
    which half of the exchange it is."""
    return _KINDS[src_kind]


class _Lazy(Mapping[Any, Any]):
    """A mapping read the first time it is looked into."""

    def __init__(self, load: Callable[[], Mapping[Any, Any]]) -> None:
        self._load: Callable[[], Mapping[Any, Any]] | None = load
        self._value: Mapping[Any, Any] = {}

    def _get(self) -> Mapping[Any, Any]:
        if self._load is not None:
            self._value, self._load = self._load(), None
        return self._value

    def __getitem__(self, key: Any) -> Any:
        return self._get()[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


class RowMatcher:
    """`matcher(i)`: whether the filter keeps row i of the index's table."""

    # False: ack.latency_ms and ack.answered are read from the record and its session's acks, as
    # before the row table held them (benchmarks/search.py --ab measures what the columns save)
    ack_columns = True

    def __init__(self, ix: Index, flt: Filter) -> None:
        self.ix = ix
        self.flt = flt
        self._conns: OrderedDict[int, Context] = OrderedDict()
        self._sessions: OrderedDict[int, Context] = OrderedDict()

    def _conn_ctx(self, pos: int) -> Context:
        ctx = self._conns.get(pos)
        if ctx is None:
            conns = self.ix.connections

            def head() -> Mapping[str, Any]:
                c = conns[pos] if 0 <= pos < len(conns) else {}
                return {k: c[k] for k in ("id", "client", "server", "tcp") if k in c}

            ctx = Context(connection=_Lazy(head))
            self._conns[pos] = ctx
        return ctx

    def _session_ctx(self, si: int) -> Context:
        ctx = self._sessions.get(si)
        if ctx is None:
            ix = self.ix
            summaries = ix.session_summaries
            sid = summaries[si].sid if 0 <= si < len(summaries) else None

            def acks() -> Mapping[Any, Any]:
                sess = ix.sessions[si] if 0 <= si < len(ix.sessions) else {}
                return acks_of(as_dict(sess, "socketio"))

            ctx = Context(sid=sid, acks=_Lazy(acks))
            self._sessions[si] = ctx
            if len(self._sessions) > _CACHED:
                self._sessions.popitem(last=False)
        return ctx

    def subject(self, i: int) -> Subject:
        ix = self.ix
        t = ix.table
        src = t.src_of(i)
        kind, side = _KINDS[src[0]]
        frame = t.frame[i]
        conn = t.connection[i]
        known: dict[str, Any] = {
            "layer": t.layer_of(i),
            "direction": t.direction_of(i),
            "frame": None if frame < 0 else frame,
            "connection": None if conn < 0 else conn,
        }
        if kind == "sio":
            known["sio.event"] = t.events.get(t.event[i])
            known["sio.nsp"] = t.nsps.get(t.nsp[i])
            known["sio.type"] = t.kind_of(i)
            if self.ack_columns:  # webui/indexbuild.py: what the ack fields read of the record
                state, ms = t.ack[i], t.ack_ms[i]
                known["ack.answered"] = None if state == ACK_NONE else state == ACK_ANSWERED
                known["ack.latency_ms"] = None if ms != ms else ms  # NaN: no latency
        elif kind == "eio":
            known["eio.type"] = t.kind_of(i)
        elif kind in ("ws_msg", "ws_frame"):  # webui/indexbuild.py: the opcode's name, the length
            code = _OPCODE.get(t.kind_of(i))
            if code is not None:
                known["ws.opcode"] = code
            n = t.length[i]
            if n >= 0:
                known["length"] = n
        ctx = self._session_ctx(src[1]) if kind in ("sio", "eio") else self._conn_ctx(src[1])
        if kind == "tcp":
            return Subject(kind, ctx=ctx, known=known, load=lambda: ctx.connection or {})
        if kind == "http":
            return Subject(kind, ctx=ctx, side=side, known=known, load=lambda: _exchange(ix, src))
        return Subject(kind, ctx=ctx, known=known, load=lambda: ix.record_at(src))

    def __call__(self, i: int) -> bool:
        return self.flt(self.subject(i))


def _exchange(ix: Index, src: tuple[str, int, int]) -> Mapping[str, Any]:
    """The whole HTTP exchange (request and response) a row is half of."""
    found = ix.container(src)
    if found is None:
        return {}
    items, b = found
    x = items[b] if 0 <= b < len(items) else None
    return x if isinstance(x, dict) else {}


def anomalies_kept(items: list[dict[str, Any]], expr: str | None) -> list[dict[str, Any]]:
    """The anomalies (as the analysis document writes them) that the filter `expr` keeps
    (`anomaly.severity == "error"`); all of them without one. Raises FilterError for a filter
    that is not one, FilterRunError for a pattern that runs too long."""
    if not expr:
        return items
    flt = compile_filter(expr)
    return [a for a in items if flt(Subject("anomaly", a))]
