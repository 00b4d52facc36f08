"""A read-only index over one analysis document (ANALYSIS_JSON.md) for the web views.

The analysis document is the contract; everything here reads it defensively (a missing
key gives an empty view, never an exception). The index flattens every layer into one
list of `Row`s in time order (TCP handshake and teardown packets, HTTP requests and
responses, WebSocket messages and control frames, Engine.IO packets, Socket.IO packets),
which the messages table, the timeline and the sequence diagrams page through, and it
links each row down its OSI stack (Socket.IO -> Engine.IO -> WebSocket/HTTP -> packets).
"""

from __future__ import annotations

import gc
import json
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "LAYERS",
    "LAYER_NAMES",
    "SIO_TYPE_DIGIT",
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
    "endpoint_text",
    "record_packets",
    "session_label",
]

# Bottom to top, as the filters and the toggles show them.
LAYERS = ("tcp", "http", "websocket", "engineio", "socketio")
LAYER_NAMES = {
    "tcp": "TCP",
    "http": "HTTP",
    "websocket": "WebSocket",
    "engineio": "Engine.IO",
    "socketio": "Socket.IO",
}
_LAYER_ORDER = {name: i for i, name in enumerate(LAYERS)}

# Engine.IO packet types (EIO v3/v4 "Packet types") and Socket.IO packet types (v4/v5).
EIO_TYPE_DIGIT = {
    "open": "0",
    "close": "1",
    "ping": "2",
    "pong": "3",
    "message": "4",
    "upgrade": "5",
    "noop": "6",
}
SIO_TYPE_DIGIT = {
    "CONNECT": "0",
    "DISCONNECT": "1",
    "EVENT": "2",
    "ACK": "3",
    "CONNECT_ERROR": "4",
    "BINARY_EVENT": "5",
    "BINARY_ACK": "6",
}
# RFC 6455 §5.2 opcodes.
WS_OPCODE_NAMES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}

SUMMARY_CHARS = 160
SEARCH_CHARS = 1 << 16


def _list(d: Any, key: str) -> list[Any]:
    v = d.get(key) if isinstance(d, Mapping) else None
    return v if isinstance(v, list) else []


def _dict(d: Any, key: str) -> dict[str, Any]:
    v = d.get(key) if isinstance(d, Mapping) else None
    return v if isinstance(v, dict) else {}


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _float(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    return float(v) if isinstance(v, int | float) else None


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


as_int, as_str, as_float = _int, _str, _float


def as_list(d: Any, key: str) -> list[Any]:
    return _list(d, key)


def as_dict(d: Any, key: str) -> dict[str, Any]:
    return _dict(d, key)


def _cut(text: str, n: int = SUMMARY_CHARS) -> str:
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def record_packets(rec: Mapping[str, Any]) -> tuple[int, ...]:
    return _packets(rec)


def _packets(rec: Mapping[str, Any]) -> tuple[int, ...]:
    """Every packet that carried a byte of the record ("packets" or "frames"), else its "frame"."""
    v = rec.get("packets")
    if type(v) is list and len(v) == 1 and type(v[0]) is int:
        return (v[0],)  # the common case, without the general path's set and sort
    for key in ("packets", "frames"):
        v = rec.get(key)
        if isinstance(v, list) and v:
            return tuple(sorted({x for x in v if isinstance(x, int) and not isinstance(x, bool)}))
    f = _int(rec.get("frame"))
    return (f,) if f is not None else ()


def endpoint_text(ep: Any) -> str:
    ip = _str(ep.get("ip")) if isinstance(ep, Mapping) else None
    port = _int(ep.get("port")) if isinstance(ep, Mapping) else None
    ip = ip or "?"
    if ":" in ip:
        ip = f"[{ip}]"
    return f"{ip}:{port if port is not None else '?'}"


def conn_label(conn: Mapping[str, Any]) -> str:
    client, server = endpoint_text(conn.get("client")), endpoint_text(conn.get("server"))
    return f"TCP #{conn.get('id')} {client} \u2192 {server}"


def session_label(sess: Mapping[str, Any], index: int) -> str:
    sid = _str(sess.get("sid")) or "?"
    return f"EIO #{index} sid {_cut(sid, 24)}"


def _json_text(v: Any) -> str:
    try:
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return repr(v)


class Row(NamedTuple):
    """One thing that crossed the wire, at one layer, as the tables and diagrams show it.

    A NamedTuple rather than a frozen dataclass: a capture can have millions of rows, and a
    tuple is built several times faster (the index is rebuilt whenever a capture is opened)."""

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
        ):
            if v is not None:
                out[key] = str(v)
        return out

    @property
    def active(self) -> bool:
        return bool(self.to_args())


class Index:
    """Rows, lanes and cross-layer links of one analysis document."""

    def __init__(self, doc: Mapping[str, Any], frame_ts: Sequence[float] | None = None) -> None:
        self.doc = doc
        self.capture = _dict(doc, "capture")
        self.connections: list[dict[str, Any]] = [c for c in _list(doc, "connections") if isinstance(c, dict)]
        self.sessions: list[dict[str, Any]] = [
            s for s in _list(doc, "engineio_sessions") if isinstance(s, dict)
        ]
        self.anomalies: list[dict[str, Any]] = [a for a in _list(doc, "anomalies") if isinstance(a, dict)]
        self.layer_stats = _dict(doc, "layer_stats")
        self.frame_ts: Sequence[float] = frame_ts if frame_ts is not None else array("d")
        self.conn_pos: dict[int | None, int] = {_int(c.get("id")): i for i, c in enumerate(self.connections)}
        self.t0 = _float(self.capture.get("first_ts")) or 0.0
        self.rows: list[Row] = []
        self._build()
        self._by_frame: dict[int, list[int]] | None = None
        self._sio_links: dict[int, list[list[int]]] = {}

    # -- building --
    def ts_of(self, frame: int | None) -> float | None:
        if frame is None or not 0 < frame <= len(self.frame_ts):
            return None
        return self.frame_ts[frame - 1]

    def _build(self) -> None:
        # Many small objects at once: the cyclic GC would rescan them all, again and again.
        enabled = gc.isenabled()
        gc.disable()
        try:
            self._build_rows()
        finally:
            if enabled:
                gc.enable()

    def _build_rows(self) -> None:
        pending: list[tuple[float, int, tuple[Any, ...]]] = []
        t0 = self.t0
        order = _LAYER_ORDER

        def add(ts: float | None, layer: str, *fields: Any) -> None:
            pending.append((t0 if ts is None else ts, order[layer], (layer, *fields)))

        for ci, conn in enumerate(self.connections):
            cid = _int(conn.get("id"))
            self._tcp_rows(ci, cid, conn, add)
            for xi, x in enumerate(_list(conn, "http")):
                self._http_rows(ci, cid, xi, x, add)
            ws = conn.get("websocket")
            if isinstance(ws, dict):
                self._ws_rows(ci, cid, ws, add)
        for si, sess in enumerate(self.sessions):
            for pi, p in enumerate(_list(sess, "packets")):
                if isinstance(p, dict):
                    add(_float(p.get("ts")), "engineio", *self._eio_fields(si, pi, p))
            sio = sess.get("socketio")
            if isinstance(sio, dict):
                for pi, p in enumerate(_list(sio, "packets")):
                    if isinstance(p, dict):
                        add(_float(p.get("ts")), "socketio", *self._sio_fields(si, pi, p))
        pending.sort(key=lambda t: (t[0], t[1]))  # stable: ties keep document order
        rows = self.rows
        for i, (ts, _, f) in enumerate(pending):
            layer, kind, direction, frame, packets, conn, sess, nsp, event, summary, length, src = f
            rows.append(
                Row(
                    i,
                    ts,
                    layer,
                    kind,
                    direction,
                    frame,
                    packets,
                    conn,
                    sess,
                    nsp,
                    event,
                    summary,
                    length,
                    src,
                )
            )

    def _tcp_rows(self, ci: int, cid: int | None, conn: dict[str, Any], add: Any) -> None:
        tcp = _dict(conn, "tcp")
        hs = _dict(tcp, "handshake")
        for key, kind, direction in (
            ("syn_frame", "SYN", "c2s"),
            ("synack_frame", "SYN-ACK", "s2c"),
            ("ack_frame", "ACK", "c2s"),
        ):
            f = _int(hs.get(key))
            if f is not None:
                ts = self.ts_of(f)
                if ts is None and kind == "SYN":
                    ts = _float(tcp.get("first_ts"))
                add(ts, "tcp", kind, direction, f, (f,), cid, None, None, None, kind, None, ("tcp", ci, 0))
        teardown = _dict(tcp, "teardown")
        fins = _dict(teardown, "fin_frames")
        for direction in ("c2s", "s2c"):
            f = _int(fins.get(direction))
            if f is not None:
                add(
                    self.ts_of(f) or _float(tcp.get("last_ts")),
                    "tcp",
                    "FIN",
                    direction,
                    f,
                    (f,),
                    cid,
                    None,
                    None,
                    None,
                    "FIN",
                    None,
                    ("tcp", ci, 1),
                )
        rst = _int(teardown.get("rst_frame"))
        if rst is not None:
            d = _str(teardown.get("rst_direction"))
            add(
                self.ts_of(rst) or _float(tcp.get("last_ts")),
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

    def _http_rows(self, ci: int, cid: int | None, xi: int, x: Any, add: Any) -> None:
        if not isinstance(x, dict):
            return
        req = x.get("request")
        if isinstance(req, dict):
            target = _str(req.get("target")) or ""
            summary = _cut(f"{_str(req.get('method')) or '?'} {target}")
            body = _dict(req, "body")
            add(
                _float(req.get("ts")),
                "http",
                "request",
                "c2s",
                _int(req.get("frame")),
                _packets(req),
                cid,
                None,
                None,
                None,
                summary,
                _int(body.get("length")),
                ("http_req", ci, xi),
            )
        resp = x.get("response")
        if isinstance(resp, dict):
            summary = _cut(f"{resp.get('status')} {_str(resp.get('reason')) or ''}".strip())
            body = _dict(resp, "body")
            add(
                _float(resp.get("ts")),
                "http",
                "response",
                "s2c",
                _int(resp.get("frame")),
                _packets(resp),
                cid,
                None,
                None,
                None,
                summary,
                _int(body.get("length")),
                ("http_resp", ci, xi),
            )

    def _ws_rows(self, ci: int, cid: int | None, ws: dict[str, Any], add: Any) -> None:
        for mi, m in enumerate(_list(ws, "messages")):
            if not isinstance(m, dict):
                continue
            kind = _str(m.get("opcode")) or "?"
            add(
                _float(m.get("ts")),
                "websocket",
                kind,
                _str(m.get("direction")),
                _int(m.get("frame")),
                _packets(m),
                cid,
                None,
                None,
                None,
                ws_message_summary(m),
                _int(m.get("length")),
                ("ws_msg", ci, mi),
            )
        for fi, fr in enumerate(_list(ws, "frames")):
            if not isinstance(fr, dict):
                continue
            op = _int(fr.get("opcode"))
            if op in (0, 1, 2):
                continue  # data frames are listed through their messages
            kind = WS_OPCODE_NAMES.get(op or 0, f"opcode-{op}")
            add(
                _float(fr.get("ts")),
                "websocket",
                kind,
                _str(fr.get("direction")),
                _int(fr.get("frame")),
                _packets(fr),
                cid,
                None,
                None,
                None,
                ws_frame_summary(fr),
                _int(fr.get("payload_length")),
                ("ws_frame", ci, fi),
            )

    def _eio_fields(self, si: int, pi: int, p: dict[str, Any]) -> tuple[Any, ...]:
        kind = _str(p.get("type")) or "?"
        data = _str(p.get("data"))
        hexd = _str(p.get("data_hex"))
        length = len(data) if data is not None else (len(hexd) // 2 if hexd is not None else None)
        return (
            kind,
            _str(p.get("direction")),
            _int(p.get("frame")),
            _packets(p),
            _int(p.get("connection")),
            si,
            None,
            None,
            eio_summary(p),
            length,
            ("eio", si, pi),
        )

    def _sio_fields(self, si: int, pi: int, p: dict[str, Any]) -> tuple[Any, ...]:
        return (
            _str(p.get("type")) or "?",
            _str(p.get("direction")),
            _int(p.get("frame")),
            _packets(p),
            _int(p.get("connection")),
            si,
            _str(p.get("nsp")),
            _str(p.get("event")),
            sio_summary(p),
            None,
            ("sio", si, pi),
        )

    # -- lookups --
    def record(self, row: Row) -> dict[str, Any]:
        """The document object a row was made from."""
        kind, a, b = row.src
        if kind == "tcp":
            return _dict(self.connections[a], "tcp")
        if kind in ("http_req", "http_resp"):
            x = _list(self.connections[a], "http")[b]
            return x.get("request" if kind == "http_req" else "response") or {}
        if kind == "ws_msg":
            return _list(self.connections[a].get("websocket"), "messages")[b]  # type: ignore[no-any-return]
        if kind == "ws_frame":
            return _list(self.connections[a].get("websocket"), "frames")[b]  # type: ignore[no-any-return]
        if kind == "eio":
            return _list(self.sessions[a], "packets")[b]  # type: ignore[no-any-return]
        if kind == "sio":
            return _list(self.sessions[a].get("socketio"), "packets")[b]  # type: ignore[no-any-return]
        return {}

    def row(self, rid: int) -> Row | None:
        return self.rows[rid] if 0 <= rid < len(self.rows) else None

    def connection(self, cid: Any) -> dict[str, Any] | None:
        pos = self.conn_pos.get(_int(cid))
        return self.connections[pos] if pos is not None else None

    def rel(self, ts: float | None) -> float | None:
        return None if ts is None else ts - self.t0

    def rows_for_frame(self, frame: int) -> list[Row]:
        if self._by_frame is None:
            by: dict[int, list[int]] = {}
            for r in self.rows:
                for f in r.packets:
                    by.setdefault(f, []).append(r.id)
            self._by_frame = by
        return [self.rows[i] for i in self._by_frame.get(frame, ())]

    # -- filtering and paging --
    def filter(self, flt: Filters) -> Iterator[Row]:
        needle = flt.text.casefold() if flt.text else None
        kind = flt.kind.casefold() if flt.kind else None
        for r in self.rows:
            if flt.direction and r.direction != flt.direction:
                continue
            if flt.layer and r.layer != flt.layer:
                continue
            if kind and r.kind.casefold() != kind:
                continue
            if flt.nsp is not None and r.nsp != flt.nsp:
                continue
            if flt.event is not None and r.event != flt.event:
                continue
            if flt.connection is not None and r.connection != flt.connection:
                continue
            if flt.session is not None and r.session != flt.session:
                continue
            if flt.t0 is not None and r.ts - self.t0 < flt.t0:
                continue
            if flt.t1 is not None and r.ts - self.t0 > flt.t1:
                continue
            if needle and needle not in r.summary.casefold() and needle not in self.search_text(r).casefold():
                continue
            yield r

    def page(self, flt: Filters, offset: int, limit: int) -> tuple[int, list[Row]]:
        total = 0
        out: list[Row] = []
        for r in self.filter(flt):
            if offset <= total < offset + limit:
                out.append(r)
            total += 1
        return total, out

    def search_text(self, row: Row) -> str:
        rec = self.record(row)
        if row.layer == "websocket":
            return (_str(rec.get("text")) or _str(rec.get("close_reason")) or "")[:SEARCH_CHARS]
        if row.layer == "engineio":
            return (_str(rec.get("data")) or "")[:SEARCH_CHARS]
        if row.layer == "socketio":
            return _json_text(rec.get("data"))[:SEARCH_CHARS] + " " + (_str(rec.get("nsp")) or "")
        if row.layer == "http":
            body = _dict(rec, "body")
            heads = " ".join(f"{h[0]}: {h[1]}" for h in _list(rec, "headers") if _pair(h))
            return heads + " " + (_str(body.get("text")) or "")[:SEARCH_CHARS]
        return ""

    def facets(self) -> dict[str, list[str]]:
        """Values the filter drop-downs offer."""
        kinds: dict[str, set[str]] = {layer: set() for layer in LAYERS}
        nsps: set[str] = set()
        events: set[str] = set()
        for r in self.rows:
            kinds[r.layer].add(r.kind)
            if r.nsp is not None:
                nsps.add(r.nsp)
            if r.event is not None and len(events) < 500:
                events.add(r.event)
        all_kinds = [k for layer in LAYERS for k in sorted(kinds[layer])]
        return {"type": list(dict.fromkeys(all_kinds)), "nsp": sorted(nsps), "event": sorted(events)}

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(LAYERS, 0)
        for r in self.rows:
            out[r.layer] += 1
        return out

    # -- cross-layer links --
    def sio_eio_rows(self, row: Row) -> list[Row]:
        """The Engine.IO packets that carried a Socket.IO packet (the text packet, then its attachments)."""
        if row.layer != "socketio":
            return []
        si, pi = row.src[1], row.src[2]
        links = self._sio_links.get(si)
        if links is None:
            links = self._link_session(si)
            self._sio_links[si] = links
        idx = links[pi] if pi < len(links) else []
        return [self.rows[i] for i in idx]

    def _link_session(self, si: int) -> list[list[int]]:
        """Pair Socket.IO packets with Engine.IO "message" packets, per direction, in order.

        Socket.IO protocol v5 "Packet encoding": a packet is one Engine.IO message (text for the
        default parser, binary for msgpack), then one binary message per attachment.
        """
        sess = self.sessions[si]
        eio_rows: dict[tuple[str, int], int] = {}
        sio_rows: dict[int, int] = {}
        for r in self.rows:
            if r.session == si:
                if r.layer == "engineio":
                    eio_rows[("e", r.src[2])] = r.id
                elif r.layer == "socketio":
                    sio_rows[r.src[2]] = r.id
        eio = _list(sess, "packets")
        sio_obj = sess.get("socketio")
        sio = _list(sio_obj, "packets")
        msgpack = isinstance(sio_obj, dict) and sio_obj.get("parser") == "msgpack"
        queues: dict[str | None, list[int]] = {}
        for pi, p in enumerate(eio):
            if isinstance(p, dict) and p.get("type") == "message":
                queues.setdefault(_str(p.get("direction")), []).append(pi)
        pos: dict[str | None, int] = {}
        out: list[list[int]] = []
        for p in sio:
            if not isinstance(p, dict):
                out.append([])
                continue
            d = _str(p.get("direction"))
            q = queues.get(d, [])
            i = pos.get(d, 0)
            digit = SIO_TYPE_DIGIT.get(_str(p.get("type")) or "", "")
            # Skip stray binary messages (attachments of a packet that did not decode) and,
            # for the default parser, text messages that do not start with this packet's type.
            look = 0
            while i < len(q) and look < 16:
                e = eio[q[i]]
                if msgpack or (not e.get("binary") and (_str(e.get("data")) or "").startswith(digit)):
                    break
                i += 1
                look += 1
            if i >= len(q):
                out.append([])
                continue
            got = [q[i]]
            i += 1
            n = _int(p.get("attachments")) or 0
            while n > 0 and i < len(q) and eio[q[i]].get("binary"):
                got.append(q[i])
                i += 1
                n -= 1
            pos[d] = i
            out.append([eio_rows[("e", k)] for k in got if ("e", k) in eio_rows])
        return out

    def carrier_rows(self, row: Row) -> list[Row]:
        """The WebSocket message or HTTP request/response that carried an Engine.IO packet."""
        if row.layer != "engineio":
            return []
        rec = self.record(row)
        cid = _int(rec.get("connection"))
        frame = row.frame
        if cid is None or frame is None:
            return []
        want_layer = "websocket" if rec.get("transport") == "websocket" else "http"
        same = [
            r
            for r in self.rows
            if r.layer == "engineio"
            and r.connection == cid
            and r.direction == row.direction
            and r.frame == frame
            and self.record(r).get("transport") == rec.get("transport")
        ]
        k = next((i for i, r in enumerate(same) if r.id == row.id), 0)
        cands = [
            r
            for r in self.rows
            if r.layer == want_layer
            and r.connection == cid
            and r.direction == row.direction
            and (r.frame == frame or frame in r.packets)
            and r.kind in ("text", "binary", "request", "response")
        ]
        if want_layer == "websocket":
            return [cands[min(k, len(cands) - 1)]] if cands else []
        return cands[:1]

    def ws_message_frames(self, row: Row) -> list[dict[str, Any]]:
        """The data frames of a WebSocket message (RFC 6455 §5.4: first frame, continuations, FIN)."""
        if row.src[0] == "ws_frame":
            return [self.record(row)]
        if row.src[0] != "ws_msg":
            return []
        ws = self.connections[row.src[1]].get("websocket")
        frames = [f for f in _list(ws, "frames") if isinstance(f, dict)]
        msgs = _list(ws, "messages")
        # Group data frames into messages per direction, then take the same ordinal.
        ordinal = sum(
            1 for m in msgs[: row.src[2]] if isinstance(m, dict) and m.get("direction") == row.direction
        )
        groups: list[list[dict[str, Any]]] = []
        cur: list[dict[str, Any]] = []
        for f in frames:
            if f.get("direction") != row.direction or _int(f.get("opcode")) not in (0, 1, 2):
                continue
            if _int(f.get("opcode")) in (1, 2) and cur:
                groups.append(cur)  # a message started inside another (RFC 6455 §5.4)
                cur = []
            cur.append(f)
            if f.get("fin"):
                groups.append(cur)
                cur = []
        if ordinal < len(groups):
            g = groups[ordinal]
            if _int(g[-1].get("frame")) == row.frame:
                return g
        # Fallback: the frames that ended in the message's packets.
        return [f for f in frames if f.get("direction") == row.direction and f.get("frame") in row.packets]

    def http_for_frame(self, cid: int | None, frame: int | None) -> dict[str, Any] | None:
        """The HTTP exchange of a connection whose request or response is at `frame`."""
        conn = self.connection(cid)
        if conn is None or frame is None:
            return None
        for x in _list(conn, "http"):
            if not isinstance(x, dict):
                continue
            for part in ("request", "response"):
                p = x.get(part)
                if isinstance(p, dict) and (p.get("frame") == frame or frame in _packets(p)):
                    return x
        return None


def _pair(h: Any) -> bool:
    return isinstance(h, list | tuple) and len(h) == 2 and isinstance(h[0], str) and isinstance(h[1], str)


def ws_message_summary(m: Mapping[str, Any]) -> str:
    text = _str(m.get("text"))
    if text is not None:
        return _cut(text)
    hexd = _str(m.get("data_hex")) or ""
    return _cut(f"[{m.get('length')} B] {hexd[:64]}")


def ws_frame_summary(f: Mapping[str, Any]) -> str:
    op = _int(f.get("opcode"))
    name = WS_OPCODE_NAMES.get(op or 0, f"opcode {op}").capitalize()
    if op == 8:
        code = f.get("close_code")
        reason = _str(f.get("close_reason")) or ""
        return _cut(f"Close {code if code is not None else '(no code)'} {reason}".rstrip())
    payload = _str(f.get("payload_hex")) or ""
    try:
        shown = bytes.fromhex(payload).decode("utf-8")
    except ValueError:
        shown = payload
    return _cut(f"{name} {shown}".rstrip())


def eio_summary(p: Mapping[str, Any]) -> str:
    """The packet as written on the wire (EIO "Encoding"): type digit, then the data."""
    kind = _str(p.get("type")) or "?"
    if p.get("binary"):
        hexd = _str(p.get("data_hex")) or ""
        return _cut(f"binary {kind} [{len(hexd) // 2} B] {hexd[:48]}")
    return _cut(EIO_TYPE_DIGIT.get(kind, "?") + (_str(p.get("data")) or ""))


def sio_summary(p: Mapping[str, Any]) -> str:
    kind = _str(p.get("type")) or "?"
    parts = [kind]
    nsp = _str(p.get("nsp"))
    if nsp and nsp != "/":
        parts.append(nsp)
    event = _str(p.get("event"))
    if event is not None:
        parts.append(_json_text(event))
        args = p.get("args")
        parts.append(_json_text(args if isinstance(args, list) else []))
    elif p.get("data") is not None:
        parts.append(_json_text(p.get("data")))
    ack = _int(p.get("ack_id"))
    if ack is not None:
        parts.append(f"ack {ack}")
    n = _int(p.get("attachments"))
    if n:
        parts.append(f"+{n} attachment{'s' if n > 1 else ''}")
    return _cut(" ".join(parts))


def flatten(values: Iterable[Iterable[int]]) -> list[int]:
    return sorted({v for vs in values for v in vs})
