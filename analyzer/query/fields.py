"""The fields a filter can name, their types, and how each is read from each kind of record.

A record to filter is a `Subject`: its kind (one of `KINDS`), the record as the analysis
document writes it (a dict, docs/analysis-json.md) and a `Context` for what lives beside it
(the session's acks and sid, the connection that carried it). A field that has no getter for a
kind does not apply to it: a test on it is false (docs/filters.md, "Absent fields").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from analyzer.model.text import json_text

__all__ = [
    "FIELDS",
    "KINDS",
    "KIND_NAMES",
    "PAYLOAD_SCAN_CHARS",
    "Context",
    "Field",
    "Subject",
    "ack_entry",
]

PAYLOAD_SCAN_CHARS = 1 << 16  # `payload` is the first 64 Ki characters of a record's payload

KIND_NAMES = {
    "sio": "Socket.IO packets",
    "eio": "Engine.IO packets",
    "ws_msg": "WebSocket messages",
    "ws_frame": "WebSocket frames",
    "http": "HTTP requests and responses",
    "tcp": "TCP connections",
    "anomaly": "anomalies",
}
KINDS = tuple(KIND_NAMES)
_LAYER = {
    "sio": "socketio",
    "eio": "engineio",
    "ws_msg": "websocket",
    "ws_frame": "websocket",
    "http": "http",
    "tcp": "tcp",
    "anomaly": "anomaly",
}
_WS_OPCODES = {"continuation": 0, "text": 1, "binary": 2, "close": 8, "ping": 9, "pong": 10}


@dataclass
class Context:
    """What a record's fields may need besides the record: `acks` maps (nsp, ack_id, request
    direction) to the session's `socketio.acks[]` entry, `connection` is the connection dict
    that carried a WebSocket or HTTP record."""

    sid: str | None = None
    acks: Mapping[tuple[Any, Any, Any], Mapping[str, Any]] | None = None
    connection: Mapping[str, Any] | None = None


@dataclass(slots=True)
class Subject:
    """One record to test. `side` says which half of an HTTP exchange (`request`, `response`);
    `known` holds field values already at hand (the web UI's row columns), read before the record.
    `load` (when `rec` is None) reads the record the first time a field needs it."""

    kind: str
    rec: Mapping[str, Any] | None = None
    ctx: Context = field(default_factory=Context)
    side: str | None = None
    known: Mapping[str, Any] | None = None
    load: Callable[[], Mapping[str, Any]] | None = None

    @property
    def r(self) -> Mapping[str, Any]:
        if self.rec is None:
            self.rec = self.load() if self.load is not None else {}
        return self.rec

    def half(self) -> Mapping[str, Any]:
        """The request or the response of an HTTP exchange (the side, or the request)."""
        v = self.r.get(self.side or "request")
        return v if isinstance(v, dict) else {}


Getter = Callable[[Subject], Any]


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # "string", "number", "bool"
    doc: str
    getters: Mapping[str, Getter]
    choices: tuple[str, ...] = ()  # the values a string field takes (a typo is an error)

    def value(self, s: Subject) -> Any:
        """The field's value for the subject; None when it does not apply or is not there."""
        known = s.known
        if known is not None and self.name in known:
            return known[self.name]
        g = self.getters.get(s.kind)
        if g is None:
            return None
        v = g(s)
        if self.type == "number":
            return v if type(v) in (int, float) else None
        if self.type == "bool":
            return v if type(v) is bool else None
        return v if isinstance(v, str) else None


def _key(name: str, *kinds: str) -> dict[str, Getter]:
    def get(s: Subject) -> Any:
        return s.r.get(name)

    return dict.fromkeys(kinds, get)


def _first(frames: Any) -> Any:
    return frames[0] if isinstance(frames, list) and frames else None


def _payload(s: Subject) -> str | None:
    r = s.r
    k = s.kind
    if k == "sio":
        return json_text(r.get("data"), PAYLOAD_SCAN_CHARS) if r.get("data") is not None else None
    if k == "eio":
        text = r.get("data")
        return text if isinstance(text, str) else r.get("data_hex")
    if k == "ws_msg":
        text = r.get("text")
        return text if isinstance(text, str) else r.get("data_hex")
    if k == "ws_frame":
        reason = r.get("close_reason")
        return reason if isinstance(reason, str) and reason else r.get("payload_hex")
    if k == "http":
        body = s.half().get("body")
        if isinstance(body, dict):
            text = body.get("text")
            return text if isinstance(text, str) else body.get("hex")
        return None
    if k == "anomaly":
        return r.get("message")
    return None


def _ack(s: Subject) -> Mapping[str, Any] | None:
    return ack_entry(s.r, s.ctx.acks)


def ack_entry(
    r: Mapping[str, Any], acks: Mapping[tuple[Any, Any, Any], Mapping[str, Any]] | None
) -> Mapping[str, Any] | None:
    """The ack entry (`acks[]` of its session, keyed as `acks_of` keys them) of a Socket.IO
    packet `r`: of the event that asked for one (its direction) or of the ACK answering it."""
    nsp, ack_id = r.get("nsp"), r.get("ack_id")
    if acks is None or ack_id is None or not isinstance(nsp, str | None) or type(ack_id) is not int:
        return None  # no ack, or a mangled record (a list is no key)
    d = r.get("direction")
    if r.get("type") in ("ACK", "BINARY_ACK"):
        d = "c2s" if d == "s2c" else "s2c"  # an ACK answers a request sent the other way
    return acks.get((nsp, ack_id, d)) if isinstance(d, str | None) else None


def _conn(s: Subject) -> Mapping[str, Any]:
    c = s.r if s.kind == "tcp" else s.ctx.connection
    return c if isinstance(c, Mapping) else {}


def _tcp(name: str) -> Getter:
    def get(s: Subject) -> Any:
        tcp = _conn(s).get("tcp")
        return tcp.get(name) if isinstance(tcp, dict) else None

    return get


def _retransmitted(s: Subject) -> bool | None:
    n = _tcp("retransmissions")(s)
    return n > 0 if type(n) is int else None


def _rtt(s: Subject) -> Any:
    tcp = _conn(s).get("tcp")
    hs = tcp.get("handshake") if isinstance(tcp, dict) else None
    return hs.get("rtt_ms") if isinstance(hs, dict) else None


def _port(end: str) -> Getter:
    def get(s: Subject) -> Any:
        e = _conn(s).get(end)
        return e.get("port") if isinstance(e, dict) else None

    return get


def _opcode(s: Subject) -> Any:
    op = s.r.get("opcode")
    return _WS_OPCODES.get(op) if isinstance(op, str) else op


def _direction(s: Subject) -> Any:
    if s.kind == "http":
        return "s2c" if s.side == "response" else "c2s"
    return s.r.get("direction")


def _frame(s: Subject) -> Any:
    r = s.r
    if s.kind == "tcp":
        return _tcp("first_frame")(s)
    if s.kind == "anomaly":
        return _first(r.get("frames"))
    if s.kind == "http":
        return s.half().get("frame")
    return r.get("frame")


def _connection(s: Subject) -> Any:
    if s.kind in ("sio", "eio", "anomaly"):
        return s.r.get("connection")
    return _conn(s).get("id")


def _length(s: Subject) -> Any:
    r = s.r
    if s.kind == "ws_frame":
        return r.get("payload_length")
    if s.kind == "eio":
        return r.get("size")
    if s.kind == "http":
        body = s.half().get("body")
        return body.get("length") if isinstance(body, dict) else None
    return r.get("length")


def _ack_latency(s: Subject) -> Any:
    a = _ack(s)
    return a.get("latency_ms") if a is not None else None


def _ack_answered(s: Subject) -> Any:
    if s.r.get("ack_id") is None or s.ctx.acks is None:
        return None
    a = _ack(s)
    return a is not None and a.get("latency_ms") is not None


def _http(name: str, side: str) -> Getter:
    def get(s: Subject) -> Any:
        half = s.r.get(side)
        return half.get(name) if isinstance(half, dict) else None

    return get


def _header(name: str) -> Getter:
    want = name.lower()

    def get(s: Subject) -> Any:
        for h in s.half().get("headers") or ():
            if isinstance(h, list) and len(h) == 2 and str(h[0]).lower() == want:
                return h[1]
        return None

    return get


_ALL = KINDS
_CARRIED = ("ws_msg", "ws_frame", "http", "tcp")
_SEVERITIES = ("chat", "note", "warn", "error")
_SIO_TYPES = ("CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK")
_EIO_TYPES = ("open", "close", "ping", "pong", "message", "upgrade", "noop")


def _each(getter: Getter, kinds: tuple[str, ...]) -> dict[str, Getter]:
    return dict.fromkeys(kinds, getter)


def _http_host(s: Subject) -> Any:
    req = s.r.get("request")
    for h in (req.get("headers") or ()) if isinstance(req, dict) else ():
        if isinstance(h, list) and len(h) == 2 and str(h[0]).lower() == "host":
            return h[1]
    return None


_ROWS = [
    Field(
        "layer",
        "string",
        "the record's layer",
        _each(lambda s: _LAYER[s.kind], _ALL),
        tuple(dict.fromkeys(_LAYER.values())),
    ),
    Field(
        "direction",
        "string",
        "c2s (client to server) or s2c",
        _each(_direction, (*_ALL[:5], "anomaly")),
        ("c2s", "s2c"),
    ),
    Field("frame", "number", "its first packet number (a connection: its first packet)", _each(_frame, _ALL)),
    Field("connection", "number", "the id of the TCP connection that carried it", _each(_connection, _ALL)),
    Field(
        "length",
        "number",
        "bytes: message length, frame payload, Engine.IO packet size, HTTP body",
        _each(_length, ("eio", "ws_msg", "ws_frame", "http")),
    ),
    Field(
        "payload",
        "string",
        "the payload as text (Socket.IO: JSON, binary: hex, anomaly: its message), first 64 Ki chars",
        _each(_payload, ("sio", "eio", "ws_msg", "ws_frame", "http", "anomaly")),
    ),
    Field("sio.type", "string", "Socket.IO packet type", _key("type", "sio"), _SIO_TYPES),
    Field("sio.event", "string", "event name (EVENT, BINARY_EVENT)", _key("event", "sio")),
    Field("sio.nsp", "string", "namespace", _key("nsp", "sio")),
    Field("sio.ack_id", "number", "ack id", _key("ack_id", "sio")),
    Field("sio.attachments", "number", "binary attachments", _key("attachments", "sio")),
    Field(
        "ack.latency_ms",
        "number",
        "an event's ack latency (on the event and on its ACK)",
        _each(_ack_latency, ("sio",)),
    ),
    Field(
        "ack.answered",
        "bool",
        "an event that asked for an ack got it (on events with an ack id and ACKs)",
        _each(_ack_answered, ("sio",)),
    ),
    Field("eio.type", "string", "Engine.IO packet type", _key("type", "eio"), _EIO_TYPES),
    Field(
        "eio.transport",
        "string",
        "polling or websocket",
        _key("transport", "eio", "sio"),
        ("polling", "websocket"),
    ),
    Field("eio.sid", "string", "Engine.IO session id", _each(lambda s: s.ctx.sid, ("eio", "sio"))),
    Field("eio.binary", "bool", "a binary Engine.IO packet", _key("binary", "eio")),
    Field(
        "ws.opcode",
        "number",
        "RFC 6455 §5.2 opcode: 1 text, 2 binary, 8 close, 9 ping, 10 pong",
        _each(_opcode, ("ws_msg", "ws_frame")),
    ),
    Field(
        "ws.close_code",
        "number",
        "close code of a Close frame (RFC 6455 §7.4)",
        _key("close_code", "ws_frame"),
    ),
    Field("ws.fin", "bool", "FIN bit of a frame", _key("fin", "ws_frame")),
    Field("ws.masked", "bool", "the frame is masked", _key("masked", "ws_frame")),
    Field("ws.compressed", "bool", "a permessage-deflate message (RFC 7692)", _key("compressed", "ws_msg")),
    Field("ws.truncated", "bool", "cut at the message bound (docs/bounds.md)", _key("truncated", "ws_msg")),
    Field(
        "http.method",
        "string",
        "request method (on both halves of the exchange)",
        _each(_http("method", "request"), ("http",)),
    ),
    Field(
        "http.target",
        "string",
        "request target (on both halves)",
        _each(_http("target", "request"), ("http",)),
    ),
    Field(
        "http.status",
        "number",
        "response status (on both halves)",
        _each(_http("status", "response"), ("http",)),
    ),
    Field("http.host", "string", "the request's Host header", _each(_http_host, ("http",))),
    Field(
        "http.content_type",
        "string",
        "this half's Content-Type header",
        _each(_header("content-type"), ("http",)),
    ),
    Field(
        "tcp.retransmission",
        "bool",
        "the connection had retransmitted segments",
        _each(_retransmitted, _CARRIED),
    ),
    Field(
        "tcp.retransmissions",
        "number",
        "retransmitted segments of the connection",
        _each(_tcp("retransmissions"), _CARRIED),
    ),
    Field(
        "tcp.gaps",
        "number",
        "holes never filled in the connection's streams",
        _each(_tcp("gaps"), _CARRIED),
    ),
    Field(
        "tcp.end",
        "string",
        "how the connection ended",
        _each(_tcp("end"), _CARRIED),
        ("fin", "rst", "open"),
    ),
    Field("tcp.rtt_ms", "number", "the connection's handshake RTT", _each(_rtt, _CARRIED)),
    Field("tcp.client_port", "number", "the client's port", _each(_port("client"), _CARRIED)),
    Field("tcp.server_port", "number", "the server's port", _each(_port("server"), _CARRIED)),
    Field("anomaly.code", "string", "anomaly code (README's table)", _key("code", "anomaly")),
    Field(
        "anomaly.severity",
        "string",
        "chat, note, warn or error",
        _key("severity", "anomaly"),
        _SEVERITIES,
    ),
    Field("anomaly.layer", "string", "the layer that found it", _key("layer", "anomaly")),
    Field("anomaly.message", "string", "its one-line message", _key("message", "anomaly")),
]
FIELDS = {f.name: f for f in _ROWS}
