"""The rows of the web views as columns: about 130 bytes per row in memory, the summaries on disk.

A capture of half a gigabyte has a few hundred thousand rows; as Python objects they took
~450 bytes each, plus the document they pointed into. Here each field is an `array` column
(strings interned), and a `Row` is made only when a view asks for it.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, overload

from webui.recstore import RecordStore

__all__ = ["ACK_ANSWERED", "ACK_ASKED", "ACK_NONE", "LAYERS", "NO_ACK", "SRC_KINDS", "Row", "RowTable"]

# Bottom to top, as the filters and the toggles show them.
LAYERS = ("tcp", "http", "websocket", "engineio", "socketio")
_LAYER_NO = {name: i for i, name in enumerate(LAYERS)}
_DIRS = (None, "c2s", "s2c")
_DIR_NO = {d: i for i, d in enumerate(_DIRS)}
SRC_KINDS = ("tcp", "http_req", "http_resp", "ws_msg", "ws_frame", "eio", "sio")
_SRC_NO = {k: i for i, k in enumerate(SRC_KINDS)}
_CONN_SOURCES = frozenset(range(5))  # tcp .. ws_frame: the container is a connection
# A Socket.IO row's ack (the filter's ack.answered and ack.latency_ms, webui/rowfilter.py):
ACK_NONE, ACK_ASKED, ACK_ANSWERED = 0, 1, 2  # no ack id; asked, not answered; answered
NO_ACK = (ACK_NONE, float("nan"))  # (state, latency in ms: NaN when it has none)


class Row(NamedTuple):
    """One thing that crossed the wire, at one layer, as the tables and diagrams show it."""

    id: int
    ts: float
    layer: str  # one of LAYERS
    kind: str  # SYN/FIN/..., request/response, text/binary/ping/pong/close, EIO type, SIO type
    direction: str | None  # "c2s" | "s2c"
    frame: int | None
    packets: tuple[int, ...]
    connection: int | None
    session: int | None  # index into engineio_sessions
    nsp: str | None
    event: str | None
    summary: str
    length: int | None
    src: tuple[str, int, int]  # (record kind, container index, item index) into the document

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts,
            "layer": self.layer,
            "type": self.kind,
            "direction": self.direction,
            "frame": self.frame,
            "packets": list(self.packets),
            "connection": self.connection,
            "session": self.session,
            "nsp": self.nsp,
            "event": self.event,
            "summary": self.summary,
            "length": self.length,
        }


class _Interned:
    """Strings by number (-1 is None)."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._no: dict[str, int] = {}

    def no(self, value: str | None) -> int:
        if value is None:
            return -1
        n = self._no.get(value)
        if n is None:
            n = self._no[value] = len(self.values)
            self.values.append(value)
        return n

    def find(self, value: str) -> int | None:
        return self._no.get(value)

    def get(self, n: int) -> str | None:
        return None if n < 0 else self.values[n]


_LIMIT = 1 << 63


def _opt(v: int | None) -> int:
    """-1 for None, and for what no column can hold: a document's numbers come from captured
    data (a msgpack Socket.IO id is any 64-bit integer), never trusted to fit."""
    return v if v is not None and 0 <= v < _LIMIT else -1


class RowTable(Sequence[Row]):
    """Rows are added in any order, then `finish` sorts them by time (ties: layer, then document
    order) and numbers them; after that the table is read-only."""

    def __init__(self) -> None:
        self.ts = array("d")
        self.layer = bytearray()
        self.kind = array("i")
        self.direction = bytearray()
        self.frame = array("q")
        self.connection = array("q")
        self.session = array("i")
        self.nsp = array("i")
        self.event = array("i")
        self.length = array("q")
        self.ack = bytearray()  # ACK_NONE, ACK_ASKED, ACK_ANSWERED
        self.ack_ms = array("d")  # the ack's latency, NaN when none
        self.src_kind = bytearray()
        self.src_a = array("i")
        self.src_b = array("i")
        self.summary_no = array("i")
        self.pk_start = array("q", [0])  # packets of row i: pk[pk_start[i]:pk_start[i + 1]]
        self.pk = array("q")
        self.kinds = _Interned()
        self.nsps = _Interned()
        self.events = _Interned()
        self.summaries = RecordStore()
        self._order: array[int] = array("q")  # generation order of each row, for ties

    def add(
        self,
        ts: float,
        layer: str,
        kind: str,
        direction: str | None,
        frame: int | None,
        packets: Sequence[int],
        connection: int | None,
        session: int | None,
        nsp: str | None,
        event: str | None,
        summary: str,
        length: int | None,
        src: tuple[str, int, int],
        *,
        ack: tuple[int, float] = NO_ACK,
    ) -> None:
        self.ts.append(ts)
        self.layer.append(_LAYER_NO[layer])
        self.kind.append(self.kinds.no(kind))
        self.direction.append(_DIR_NO.get(direction, 0))
        self.frame.append(_opt(frame))
        self.connection.append(_opt(connection))
        self.session.append(_opt(session))
        self.nsp.append(self.nsps.no(nsp))
        self.event.append(self.events.no(event))
        self.length.append(_opt(length))
        self.ack.append(ack[0])
        self.ack_ms.append(ack[1])
        self.src_kind.append(_SRC_NO[src[0]])
        self.src_a.append(src[1])
        self.src_b.append(src[2])
        self.summary_no.append(self.summaries.add(summary))
        self.pk.extend(p for p in packets if 0 <= p < _LIMIT)
        self.pk_start.append(len(self.pk))

    def __len__(self) -> int:
        return len(self.ts)

    # -- after the rows are all in --
    def finish(self, conn_pos: Callable[[int], int], session_pos: Callable[[int], int]) -> None:
        """Renumber containers (connections by id, sessions by first packet) and sort the rows by
        (time, layer, document position)."""
        n = len(self.ts)
        for i in range(n):
            a = self.src_a[i]
            self.src_a[i] = conn_pos(a) if self.src_kind[i] in _CONN_SOURCES else session_pos(a)
            s = self.session[i]
            if s >= 0:
                self.session[i] = session_pos(s)
        # Stable sorts from the least significant key up (generation order is the last tie
        # break): one key object per row per pass instead of a tuple of five.
        order = list(range(n))
        order.sort(key=self.src_a.__getitem__)
        src_kind = self.src_kind
        order.sort(key=lambda i: src_kind[i] not in _CONN_SOURCES)
        order.sort(key=self.layer.__getitem__)
        order.sort(key=self.ts.__getitem__)
        for name in (
            "ts",
            "kind",
            "frame",
            "connection",
            "session",
            "nsp",
            "event",
            "length",
            "ack_ms",
            "src_a",
            "src_b",
            "summary_no",
        ):
            col = getattr(self, name)
            setattr(self, name, array(col.typecode, map(col.__getitem__, order)))
        for name in ("layer", "direction", "src_kind", "ack"):
            col = getattr(self, name)
            setattr(self, name, bytearray(map(col.__getitem__, order)))
        starts, pk = self.pk_start, self.pk
        new_pk = array("q")
        new_starts = array("q", [0])
        for i in order:
            new_pk.extend(pk[starts[i] : starts[i + 1]])
            new_starts.append(len(new_pk))
        self.pk, self.pk_start = new_pk, new_starts

    # -- reading --
    def packets_of(self, i: int) -> tuple[int, ...]:
        return tuple(self.pk[self.pk_start[i] : self.pk_start[i + 1]])

    def layer_of(self, i: int) -> str:
        return LAYERS[self.layer[i]]

    def kind_of(self, i: int) -> str:
        return self.kinds.values[self.kind[i]]

    def direction_of(self, i: int) -> str | None:
        return _DIRS[self.direction[i]]

    def summary_of(self, i: int) -> str:
        return self.summaries.raw(self.summary_no[i]).decode("utf-8", "replace")

    def src_of(self, i: int) -> tuple[str, int, int]:
        return (SRC_KINDS[self.src_kind[i]], self.src_a[i], self.src_b[i])

    def row(self, i: int) -> Row:
        frame = self.frame[i]
        conn = self.connection[i]
        sess = self.session[i]
        length = self.length[i]
        return Row(
            i,
            self.ts[i],
            LAYERS[self.layer[i]],
            self.kinds.values[self.kind[i]],
            _DIRS[self.direction[i]],
            None if frame < 0 else frame,
            self.packets_of(i),
            None if conn < 0 else conn,
            None if sess < 0 else sess,
            self.nsps.get(self.nsp[i]),
            self.events.get(self.event[i]),
            self.summary_of(i),
            None if length < 0 else length,
            self.src_of(i),
        )

    @overload
    def __getitem__(self, i: int) -> Row: ...

    @overload
    def __getitem__(self, i: slice) -> list[Row]: ...

    def __getitem__(self, i: int | slice) -> Row | list[Row]:
        if isinstance(i, slice):
            return [self.row(k) for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("row index out of range")
        return self.row(i)

    def __iter__(self) -> Iterator[Row]:
        for i in range(len(self)):
            yield self.row(i)
