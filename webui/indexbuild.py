"""Building the web views' index one connection and one session at a time.

`IndexBuilder` takes the analysis either as a document (a dict, ANALYSIS_JSON.md) or as the
pipeline streams it (`connection(record)`, `session(session)`: the records of a capture of any
size, each handed over once complete). Every growing list of a record goes to the RecordStore
as it is read (frames and packets written to disk are split straight from their files), a
StoredList takes its place, and the record's rows go to the RowTable. What stays in memory is
the small part of each connection and session, and the row columns.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from analyzer.model.spill import dumps
from analyzer.query import ack_entry, acks_of
from webui.docutil import (
    WS_OPCODE_NAMES,
    as_dict,
    as_float,
    as_int,
    as_list,
    as_str,
    conn_label,
    cut,
    eio_summary,
    endpoint_text,
    record_packets,
    sio_summary,
    ws_frame_summary,
    ws_message_summary,
)
from webui.recstore import LazyDocs, RecordStore, StoredList, dumps_with_stored
from webui.rowtable import ACK_ANSWERED, ACK_ASKED, NO_ACK, RowTable

if TYPE_CHECKING:
    from analyzer.model.analysis import ConnectionRecord
    from analyzer.model.session import EngineIOSession
    from analyzer.pipeline.access import Mark

__all__ = ["Built", "ConnSummary", "IndexBuilder", "SessionSummary"]

_BIG_LIST = 32  # a list of a session's summary longer than this goes to the store


@dataclass
class Built:
    """What an Index is made of."""

    head: dict[str, Any]  # the document's other top-level keys (capture, layer_stats, ...)
    connections: Sequence[dict[str, Any]]  # LazyDocs: read from the store when asked for
    sessions: Sequence[dict[str, Any]]
    anomalies: list[dict[str, Any]]
    table: RowTable
    store: RecordStore
    frame_ts: Sequence[float]
    ws_frame_bytes: tuple[int, int] = (0, 0)  # RFC 6455 §5.2 header bytes, payload bytes
    session_first_ts: list[float | None] = field(default_factory=list)
    connection_ids: Sequence[int | None] = ()
    conn_summaries: Sequence[ConnSummary] = ()
    session_summaries: Sequence[SessionSummary] = ()
    # (first, count) in the store of each connection's http, frames, messages, and of each
    # session's Engine.IO and Socket.IO packets: records are found without loading their owner
    conn_lists: Sequence[int] = ()
    session_lists: Sequence[int] = ()
    capture_marks: Sequence[Mark] = ()  # resume points of the capture file (CaptureReader.marks)


class ConnSummary(NamedTuple):
    """What the lists of connections show, kept in memory (the connection itself is on disk)."""

    id: int | None
    label: str
    first_ts: float | None
    end: str | None
    packets: dict[str, Any]
    rtt_ms: float | None
    http: int  # exchanges
    ws_messages: int | None  # None: not a WebSocket
    ws_request_frame: int | None  # the Upgrade request and the 101 (RFC 6455 §4)
    ws_response_frame: int | None
    ws_pings: int = 0  # Pings the analysis paired with their Pongs (websocket.pings)
    ends: tuple[str, str] = ("", "")  # client and server as endpoint_text writes them
    frame_span: tuple[int | None, int | None] = (None, None)  # its first and last packet
    syn_frames: tuple[int | None, int | None] = (None, None)  # its SYN and SYN-ACK


class SessionSummary(NamedTuple):
    """What the lists of Engine.IO sessions show."""

    sid: str | None
    protocol: int | None
    transport_path: tuple[str, ...]
    packets: int
    sio_packets: int | None  # None: no Socket.IO


Items = Iterable[tuple[str | None, Any]]  # (the value's JSON text when known, the value)


def _values(values: Iterable[Any]) -> Items:
    return ((None, v) for v in values)


def _frame_key(sess: dict[str, Any]) -> int:
    """The first packet number of a session: its first request, upgrade or Engine.IO packet."""
    best = 1 << 62
    for key in ("requests", "websockets"):
        for item in as_list(sess, key):
            if isinstance(item, dict):
                for k, v in item.items():
                    if k.endswith("frame") and type(v) is int:
                        best = min(best, v)
    return best


def _ack_cell(p: dict[str, Any], acks: dict[tuple[Any, Any, Any], Any]) -> tuple[int, float]:
    """A Socket.IO packet's ack as the row table keeps it (RowTable.ack, ack_ms): whether it has an
    ack id, whether its ack entry has a latency, and the latency (NaN when it is not a number), as
    the filter's ack.answered and ack.latency_ms read them from the record (analyzer/query/fields.py)."""
    if p.get("ack_id") is None:
        return NO_ACK
    a = ack_entry(p, acks)
    ms = a.get("latency_ms") if a is not None else None
    if ms is None:
        return (ACK_ASKED, float("nan"))
    if type(ms) is float or (type(ms) is int and abs(ms) < 1 << 53):  # exact as a float
        return (ACK_ANSWERED, float(ms))
    return (ACK_ANSWERED, float("nan"))


class IndexBuilder:
    def __init__(self, frame_ts: Sequence[float] | None = None) -> None:
        self.frame_ts: Sequence[float] = frame_ts if frame_ts is not None else array("d")
        self.store = RecordStore()
        self.table = RowTable()
        self._conns: list[int] = []  # the store's record of each connection (its small part)
        self._conn_ids: list[int | None] = []
        self._sessions: list[int] = []
        self._conn_summaries: list[ConnSummary] = []
        self._session_summaries: list[SessionSummary] = []
        self._conn_lists = array("q")  # 6 per connection, arrival order
        self._session_lists = array("q")  # 4 per session
        self._session_keys: list[tuple[int, int]] = []
        self._first_ts: list[float | None] = []
        self._ws_header = 0
        self._ws_payload = 0
        self._t0 = 0.0

    def ts_of(self, frame: int | None) -> float | None:
        if frame is None or not 0 < frame <= len(self.frame_ts):
            return None
        return self.frame_ts[frame - 1]

    def _stored(self, items: Items, each: Any = None) -> StoredList:
        """Store the items; `each(position, value)` sees every one on the way."""
        store = self.store
        first = len(store)
        n = 0
        for raw, value in items:
            store.add(raw if raw is not None else dumps(value))
            if each is not None:
                each(n, value)
            n += 1
        return StoredList(store, first, n)

    def _row(self, ts: float | None, layer: str, *fields: Any, ack: tuple[int, float] = NO_ACK) -> None:
        """The fields of RowTable.add after its time and layer."""
        self.table.add(self._t0 if ts is None else ts, layer, *fields, ack=ack)

    def _start(self) -> None:
        """Streaming: rows without a time of their own are put at the first packet."""
        if not self._t0 and len(self.frame_ts):
            self._t0 = self.frame_ts[0]

    # -- connections --
    def add_connection(self, conn: dict[str, Any], http: Items, frames: Items, messages: Items) -> None:
        ci = len(self._conns)
        cid = as_int(conn.get("id"))
        self._add_connection(ci, cid, conn, http, frames, messages)
        self._conns.append(self.store.add(dumps_with_stored(conn)))
        self._conn_ids.append(cid)
        ws = conn.get("websocket")
        lists = [as_list(conn, "http"), as_list(ws, "frames"), as_list(ws, "messages")]
        for lst in lists:
            self._conn_lists.extend((lst.first, lst.n) if isinstance(lst, StoredList) else (0, 0))
        tcp = as_dict(conn, "tcp")
        tcp_hs = as_dict(tcp, "handshake")
        hs = as_dict(ws, "handshake")
        self._conn_summaries.append(
            ConnSummary(
                cid,
                conn_label(conn),
                as_float(tcp.get("first_ts")),
                as_str(tcp.get("end")),
                as_dict(tcp, "packets"),
                as_float(tcp_hs.get("rtt_ms")),
                len(lists[0]),
                len(lists[2]) if isinstance(ws, dict) else None,
                as_int(hs.get("request_frame")),
                as_int(hs.get("response_frame")),
                len(as_list(ws, "pings")),
                (endpoint_text(conn.get("client")), endpoint_text(conn.get("server"))),
                (as_int(tcp.get("first_frame")), as_int(tcp.get("last_frame"))),
                (as_int(tcp_hs.get("syn_frame")), as_int(tcp_hs.get("synack_frame"))),
            )
        )

    def _add_connection(
        self, ci: int, cid: int | None, conn: dict[str, Any], http: Items, frames: Items, messages: Items
    ) -> None:
        self._tcp_rows(ci, cid, conn)

        def http_rows(xi: int, x: Any) -> None:
            self._http_rows(ci, cid, xi, x)

        conn["http"] = self._stored(http, http_rows)
        ws = conn.get("websocket")
        if not isinstance(ws, dict):
            for _ in frames:  # nothing to show them under
                pass
            return

        def message_row(mi: int, m: Any) -> None:
            if isinstance(m, dict):
                self._row(
                    as_float(m.get("ts")),
                    "websocket",
                    as_str(m.get("opcode")) or "?",
                    as_str(m.get("direction")),
                    as_int(m.get("frame")),
                    record_packets(m),
                    cid,
                    None,
                    None,
                    None,
                    ws_message_summary(m),
                    as_int(m.get("length")),
                    ("ws_msg", ci, mi),
                )

        def frame_row(fi: int, fr: Any) -> None:
            if not isinstance(fr, dict):
                return
            form = fr.get("length_form")
            # RFC 6455 §5.2: 2 bytes, the extended length, the masking key
            self._ws_header += (
                2 + (2 if form == "16-bit" else 8 if form == "64-bit" else 0) + (4 if fr.get("masked") else 0)
            )
            n = fr.get("payload_length")
            self._ws_payload += n if type(n) is int else 0
            op = as_int(fr.get("opcode"))
            if op in (0, 1, 2):
                return  # data frames are listed through their messages
            self._row(
                as_float(fr.get("ts")),
                "websocket",
                WS_OPCODE_NAMES.get(op or 0, f"opcode-{op}"),
                as_str(fr.get("direction")),
                as_int(fr.get("frame")),
                record_packets(fr),
                cid,
                None,
                None,
                None,
                ws_frame_summary(fr),
                as_int(fr.get("payload_length")),
                ("ws_frame", ci, fi),
            )

        ws["messages"] = self._stored(messages, message_row)
        ws["frames"] = self._stored(frames, frame_row)

    def add_connection_dict(self, conn: dict[str, Any]) -> None:
        conn = dict(conn)
        ws = conn.get("websocket")
        frames: Sequence[Any] = []
        messages: Sequence[Any] = []
        if isinstance(ws, dict):
            ws = conn["websocket"] = dict(ws)
            frames, messages = as_list(ws, "frames"), as_list(ws, "messages")
        self.add_connection(conn, _values(as_list(conn, "http")), _values(frames), _values(messages))

    def connection(self, record: ConnectionRecord) -> None:
        """A ConnectionRecord from the pipeline (frames and messages read from their lists one at
        a time; the record is not changed, its files are the pipeline's to close)."""
        self._start()
        ws = record.websocket
        conn = record.to_dict(lists=False)
        http = conn.pop("http", [])
        if ws is None:
            self.add_connection(conn, _values(http), (), ())
        else:
            self.add_connection(conn, _values(http), ws.frames.items(), ws.messages.items())

    def _tcp_rows(self, ci: int, cid: int | None, conn: dict[str, Any]) -> None:
        tcp = as_dict(conn, "tcp")
        hs = as_dict(tcp, "handshake")
        for key, kind, direction in (
            ("syn_frame", "SYN", "c2s"),
            ("synack_frame", "SYN-ACK", "s2c"),
            ("ack_frame", "ACK", "c2s"),
        ):
            f = as_int(hs.get(key))
            if f is not None:
                ts = self.ts_of(f)
                if ts is None and kind == "SYN":
                    ts = as_float(tcp.get("first_ts"))
                self._row(
                    ts, "tcp", kind, direction, f, (f,), cid, None, None, None, kind, None, ("tcp", ci, 0)
                )
        teardown = as_dict(tcp, "teardown")
        fins = as_dict(teardown, "fin_frames")
        for direction in ("c2s", "s2c"):
            f = as_int(fins.get(direction))
            if f is not None:
                ts = self.ts_of(f) or as_float(tcp.get("last_ts"))
                self._row(
                    ts, "tcp", "FIN", direction, f, (f,), cid, None, None, None, "FIN", None, ("tcp", ci, 1)
                )
        rst = as_int(teardown.get("rst_frame"))
        if rst is not None:
            d = as_str(teardown.get("rst_direction"))
            self._row(
                self.ts_of(rst) or as_float(tcp.get("last_ts")),
                "tcp",
                "RST",
                d if d in ("c2s", "s2c") else None,
                rst,
                (rst,),
                cid,
                None,
                None,
                None,
                "RST",
                None,
                ("tcp", ci, 2),
            )

    def _http_rows(self, ci: int, cid: int | None, xi: int, x: Any) -> None:
        if not isinstance(x, dict):
            return
        req = x.get("request")
        if isinstance(req, dict):
            summary = cut(f"{as_str(req.get('method')) or '?'} {as_str(req.get('target')) or ''}")
            self._row(
                as_float(req.get("ts")),
                "http",
                "request",
                "c2s",
                as_int(req.get("frame")),
                record_packets(req),
                cid,
                None,
                None,
                None,
                summary,
                as_int(as_dict(req, "body").get("length")),
                ("http_req", ci, xi),
            )
        resp = x.get("response")
        if isinstance(resp, dict):
            summary = cut(f"{resp.get('status')} {as_str(resp.get('reason')) or ''}".strip())
            self._row(
                as_float(resp.get("ts")),
                "http",
                "response",
                "s2c",
                as_int(resp.get("frame")),
                record_packets(resp),
                cid,
                None,
                None,
                None,
                summary,
                as_int(as_dict(resp, "body").get("length")),
                ("http_resp", ci, xi),
            )

    # -- sessions --
    def add_session(self, sess: dict[str, Any], eio: Items, sio: Items) -> None:
        si = len(self._sessions)
        self._sessions.append(-1)  # its record, once its lists are stored
        first: list[float | None] = [None]
        frames: list[int] = []

        def eio_row(pi: int, p: Any) -> None:
            if not isinstance(p, dict):
                return
            ts = as_float(p.get("ts"))
            if pi == 0:
                first[0] = ts
            f = as_int(p.get("frame"))
            if f is not None and not frames:
                frames.append(f)
            data = as_str(p.get("data"))
            hexd = as_str(p.get("data_hex"))
            length = len(data) if data is not None else (len(hexd) // 2 if hexd is not None else None)
            self._row(
                ts,
                "engineio",
                as_str(p.get("type")) or "?",
                as_str(p.get("direction")),
                f,
                record_packets(p),
                as_int(p.get("connection")),
                si,
                None,
                None,
                eio_summary(p),
                length,
                ("eio", si, pi),
            )

        acks = acks_of(sess.get("socketio") if isinstance(sess.get("socketio"), dict) else None)

        def sio_row(pi: int, p: Any) -> None:
            self._sio_row(si, pi, p, acks)

        sess["packets"] = self._stored(eio, eio_row)
        sio_obj = sess.get("socketio")
        if isinstance(sio_obj, dict):
            sio_obj["packets"] = self._stored(sio, sio_row)
            self._stash_lists(sio_obj)
        else:
            for _ in sio:
                pass
        key = min(_frame_key(sess), frames[0] if frames else 1 << 62)
        self._stash_lists(sess)
        self._sessions[si] = self.store.add(dumps_with_stored(sess))
        eio_list, sio_list = as_list(sess, "packets"), as_list(sio_obj, "packets")
        for lst in (eio_list, sio_list):
            self._session_lists.extend((lst.first, lst.n) if isinstance(lst, StoredList) else (0, 0))
        self._session_summaries.append(
            SessionSummary(
                as_str(sess.get("sid")),
                as_int(sess.get("protocol")),
                tuple(str(t) for t in as_list(sess, "transport_path")),
                len(eio_list),
                len(sio_list) if isinstance(sio_obj, dict) else None,
            )
        )
        self._session_keys.append((key, si))
        self._first_ts.append(first[0])

    def _sio_row(self, si: int, pi: int, p: Any, acks: dict[tuple[Any, Any, Any], Any]) -> None:
        """The row of Socket.IO packet `pi` of session `si`, its ack looked up in `acks`."""
        if not isinstance(p, dict):
            return
        self._row(
            as_float(p.get("ts")),
            "socketio",
            as_str(p.get("type")) or "?",
            as_str(p.get("direction")),
            as_int(p.get("frame")),
            record_packets(p),
            as_int(p.get("connection")),
            si,
            as_str(p.get("nsp")),
            as_str(p.get("event")),
            sio_summary(p),
            None,
            ("sio", si, pi),
            ack=_ack_cell(p, acks),
        )

    def _stash_lists(self, d: dict[str, Any]) -> None:
        """Long lists of a summary (acks, polling requests, ...) go to the store too."""
        for k, v in d.items():
            if isinstance(v, list) and len(v) > _BIG_LIST:
                d[k] = self._stored(_values(v))

    def add_session_dict(self, sess: dict[str, Any]) -> None:
        sess = dict(sess)
        sio = sess.get("socketio")
        sio_packets: Sequence[Any] = []
        if isinstance(sio, dict):
            sio = sess["socketio"] = dict(sio)
            sio_packets = as_list(sio, "packets")
        self.add_session(sess, _values(as_list(sess, "packets")), _values(sio_packets))

    def session(self, s: EngineIOSession) -> None:
        """An EngineIOSession from the pipeline, its packets read from their lists one at a time."""
        self._start()
        sess = {**s.head_dict(), "packets": [], "socketio": None, **s.tail_dict()}
        sio = s.socketio
        sio_items: Items = ()
        if sio is not None:
            sess["socketio"] = {**sio.head_dict(), "packets": [], **sio.tail_dict()}
            sio_items = sio.packets.items()
        self.add_session(sess, s.packets.items(), sio_items)

    # -- the end --
    def finish(self, doc_rest: dict[str, Any], anomalies: list[dict[str, Any]]) -> Built:
        """Connections by id, sessions by first packet; rows sorted by time."""
        ids = self._conn_ids
        conn_order = sorted(range(len(ids)), key=lambda i: (ids[i] is None, ids[i] or 0, i))
        conn_pos = array("q", [0] * len(conn_order))
        for pos, i in enumerate(conn_order):
            conn_pos[i] = pos
        sess_order = [i for _, i in sorted(self._session_keys)]
        sess_pos = array("q", [0] * len(sess_order))
        for pos, i in enumerate(sess_order):
            sess_pos[i] = pos
        self.table.finish(conn_pos.__getitem__, sess_pos.__getitem__)
        return Built(
            head=doc_rest,
            connections=LazyDocs(self.store, [self._conns[i] for i in conn_order]),
            sessions=LazyDocs(self.store, [self._sessions[i] for i in sess_order]),
            connection_ids=[ids[i] for i in conn_order],
            conn_summaries=[self._conn_summaries[i] for i in conn_order],
            session_summaries=[self._session_summaries[i] for i in sess_order],
            conn_lists=array("q", (x for i in conn_order for x in self._conn_lists[6 * i : 6 * i + 6])),
            session_lists=array("q", (x for i in sess_order for x in self._session_lists[4 * i : 4 * i + 4])),
            anomalies=anomalies,
            table=self.table,
            store=self.store,
            frame_ts=self.frame_ts,
            ws_frame_bytes=(self._ws_header, self._ws_payload),
            session_first_ts=[self._first_ts[i] for i in sess_order],
        )

    @classmethod
    def from_document(cls, doc: Any, frame_ts: Sequence[float] | None = None) -> Built:
        b = cls(frame_ts)
        b._t0 = as_float(as_dict(doc, "capture").get("first_ts")) or 0.0
        for c in as_list(doc, "connections"):
            if isinstance(c, dict):
                b.add_connection_dict(c)
        for s in as_list(doc, "engineio_sessions"):
            if isinstance(s, dict):
                b.add_session_dict(s)
        rest = {
            k: v
            for k, v in (doc.items() if isinstance(doc, dict) else ())
            if k not in ("connections", "engineio_sessions", "anomalies")
        }
        anomalies = [a for a in as_list(doc, "anomalies") if isinstance(a, dict)]
        return b.finish(rest, anomalies)
