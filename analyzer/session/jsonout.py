"""The streaming writer's JSON for Engine.IO sessions, packet by packet with templates.

`json.dumps(session.to_dict())` builds a dict per packet and escapes every hex string; here the
fixed fields are formatted directly, captured text goes through the C escaper of the json module
(`encode_basestring`, what json.dumps itself uses), and an event's arguments are encoded once
for both "args" and "data". tests/session/test_jsonout.py keeps the result equal to json.dumps.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from json.encoder import encode_basestring
from typing import Any, Protocol

from analyzer.model.common import Direction
from analyzer.model.session import EioPacketRecord, EngineIOSession, SioPacketRecord
from analyzer.model.socketio import SioPacket, SioPacketType
from analyzer.model.spill import JsonSpill, dumps
from analyzer.model.values import MAX_DEPTH
from analyzer.session.payloads import PayloadStore

__all__ = [
    "PieceSink",
    "SessionSpill",
    "eio_packet_json",
    "session_json",
    "session_parts",
    "sio_packet_json",
]

_EVENT_TYPES = (SioPacketType.EVENT, SioPacketType.BINARY_EVENT)


class PieceSink(Protocol):
    """Where the pieces go: a list, or a JsonSpill record that goes to disk as it grows."""

    def append(self, piece: str, /) -> None: ...


_SIO_NAMES = tuple('"' + t.name + '"' for t in SioPacketType)
_C2S = Direction.C2S


def _where(direction: Direction, ts: float, frame: int, transport: str, connection: int) -> str:
    """The fields every packet starts with; repr() of an int or float is what json.dumps writes."""
    d = "c2s" if direction is _C2S else "s2c"
    return (
        f'{{"direction":"{d}","ts":{ts!r},"frame":{frame},"transport":"{transport}","connection":{connection}'
    )


# Each writer appends pieces to `out`: big payloads are copied once, when the pieces are joined.
# `hexes` maps id(bytes) -> its hex for one session: a binary Engine.IO packet and the Socket.IO
# attachment it carried are the same bytes object, hex-encoded once and written twice. The ids
# stay valid because the session's records hold the bytes while the session is written.
def _eio_parts(r: EioPacketRecord, out: PieceSink, hexes: dict[int, str], data: str | bytes) -> None:
    p = r.packet
    out.append(_where(r.direction, r.ts, r.frame, r.transport, r.connection) + ',"type":"' + p.type.wire_name)
    if isinstance(data, bytes):
        out.append('","binary":true,"data":null,"data_hex":"')
        h = data.hex()
        hexes[id(data)] = h
        out.append(h)
        out.append('","size":')
    else:
        out.append('","binary":false,"data":')
        out.append(encode_basestring(data) if data else "null")
        out.append(',"data_hex":null,"size":')
    out.append(
        str(r.size) + (',"b64":true' if p.b64 else "") + (',"truncated":true' if r.truncated else "") + "}"
    )


class _Fallback(Exception):
    """A value _value does not write exactly as dumps(to_jsonable(value)) would."""


def _value(v: Any, out: list[str], depth: int, hexes: dict[int, str]) -> None:
    """Append the JSON of a decoded Socket.IO value, bytes written as {"$hex": ...} without
    escaping the hex (json.dumps would scan every digit of it). Anything to_jsonable would
    change otherwise (msgpack ext/timestamp, NaN, non-string keys, depth cuts) raises
    _Fallback, and the caller writes the whole value with json.dumps(to_jsonable(...))."""
    t = type(v)
    if t is str:
        out.append(encode_basestring(v))
    elif t is bytes:
        h = hexes.pop(id(v), None)  # an attachment is written once: its hex is not needed again
        out.append('{"$hex":"')
        out.append(v.hex() if h is None else h)
        out.append('"}')
    elif v is None:
        out.append("null")
    elif t is bool:
        out.append("true" if v else "false")
    elif t is int:
        out.append(int.__repr__(v))
    elif t is float and math.isfinite(v):
        out.append(float.__repr__(v))
    elif (t is list or t is tuple) and depth < MAX_DEPTH:
        out.append("[")
        for i, x in enumerate(v):
            if i:
                out.append(",")
            _value(x, out, depth + 1, hexes)
        out.append("]")
    elif t is dict and depth < MAX_DEPTH:
        sep = "{"
        for k, x in v.items():
            if type(k) is not str:
                raise _Fallback
            out.append(sep + encode_basestring(k) + ":")
            _value(x, out, depth + 1, hexes)
            sep = ","
        out.append("}" if sep == "," else "{}")
    else:
        raise _Fallback


def _encode(v: Any, depth: int, hexes: dict[int, str]) -> str:
    out: list[str] = []
    _value(v, out, depth, hexes)
    return "".join(out)


def _data_json(p: SioPacket, event: bool, hexes: dict[int, str]) -> tuple[str, str]:
    """(args, data) of the packet as json.dumps writes them from p.json_data()."""
    data = p.data
    try:
        if event and isinstance(data, list) and data:
            parts = [_encode(x, 1, hexes) for x in data]
            return "[" + ",".join(parts[1:]) + "]", "[" + ",".join(parts) + "]"
        return "null", _encode(data, 0, hexes)
    except (_Fallback, RecursionError):
        data = p.json_data()
        if event and isinstance(data, list) and data:
            parts = [dumps(x) for x in data]
            return "[" + ",".join(parts[1:]) + "]", "[" + ",".join(parts) + "]"
        return "null", dumps(data)


def _sio_parts(r: SioPacketRecord, out: PieceSink, hexes: dict[int, str]) -> None:
    p = r.packet
    args, data = _data_json(p, p.type in _EVENT_TYPES, hexes)
    out.append(
        _where(r.direction, r.ts, r.frame, r.transport, r.connection)
        + ',"type":'
        + _SIO_NAMES[p.type]
        + ',"nsp":'
        + encode_basestring(p.nsp)
        + ',"ack_id":'
        + (str(p.ack_id) if type(p.ack_id) is int else dumps(p.ack_id))
        + ',"event":'
        + ("null" if p.event is None else encode_basestring(p.event))
        + ',"args":'
    )
    out.append(args)
    out.append(',"data":')
    out.append(data)
    out.append(
        ',"attachments":'
        + str(p.attachments)
        + ',"frames":['
        + ",".join(map(str, r.frames))
        + "]"
        + ("" if p.query is None else ',"query":' + dumps(p.query))
        + ("" if r.complete else ',"complete":false')
        + "}"
    )


class SessionSpill:
    """A session's packets written to disk as JSON while it is analysed (streaming output).

    The Socket.IO analysis reads the Engine.IO payloads in capture order through `load`, which
    writes every Engine.IO packet up to that one on the way, so each payload is read once; its
    Socket.IO packets go to `sio` through `add_sio`. A binary packet's hex is kept (with the
    bytes, so that their id stays theirs) until the Socket.IO attachment it is writes it again,
    within a budget of HEX_BUDGET characters.
    """

    HEX_BUDGET = 4 << 20

    def __init__(self, records: Sequence[EioPacketRecord], payloads: PayloadStore) -> None:
        self.records = records
        self.payloads = payloads
        self.eio = JsonSpill()
        self.sio = JsonSpill()
        self._next = 0  # records[:_next] are written
        self._hexes: dict[int, str] = {}
        self._kept: OrderedDict[int, bytes] = OrderedDict()
        self._kept_chars = 0

    def load(self, r: EioPacketRecord) -> str | bytes:
        records = self.records
        while self._next < len(records):
            rec = records[self._next]
            self._next += 1
            if rec is r:
                return self._write(rec)
            self._write(rec)
        return self._payload(r)  # not one of the session's records (not expected)

    def finish(self) -> None:
        """Write the Engine.IO packets after the last one the analysis read."""
        for rec in self.records[self._next :]:
            self._write(rec)
        self._next = len(self.records)
        self._hexes.clear()
        self._kept.clear()

    def add_sio(self, r: SioPacketRecord) -> None:
        self.sio.begin()
        _sio_parts(r, self.sio, self._hexes)
        kept = self._kept
        for key in [k for k in kept if k not in self._hexes]:  # used by this packet
            self._kept_chars -= 2 * len(kept.pop(key))

    def _payload(self, r: EioPacketRecord) -> str | bytes:
        return r.packet.data if r.stored is None else self.payloads.get(r.stored)

    def _write(self, r: EioPacketRecord) -> str | bytes:
        data = self._payload(r)
        self.eio.begin()
        _eio_parts(r, self.eio, self._hexes, data)
        if isinstance(data, bytes) and id(data) in self._hexes:
            self._kept[id(data)] = data
            self._kept_chars += 2 * len(data)
            while self._kept_chars > self.HEX_BUDGET and len(self._kept) > 1:
                key, old = self._kept.popitem(last=False)
                self._kept_chars -= 2 * len(old)
                self._hexes.pop(key, None)
        return data


def eio_packet_json(r: EioPacketRecord) -> str:
    """`dumps(r.to_dict())`."""
    out: list[str] = []
    _eio_parts(r, out, {}, r.packet.data)
    return "".join(out)


def sio_packet_json(r: SioPacketRecord) -> str:
    """`dumps(r.to_dict())`."""
    out: list[str] = []
    _sio_parts(r, out, {})
    return "".join(out)


def _copy(spill: JsonSpill, out: PieceSink) -> None:
    if isinstance(out, JsonSpill):
        out.append_spill(spill)  # file to file, no decoding
    else:
        for piece in spill.pieces():
            out.append(piece)


def session_parts(s: EngineIOSession, out: PieceSink) -> None:
    """Append the pieces of `dumps(s.to_dict())` to `out`, the packets written by the templates."""
    hexes: dict[int, str] = {}
    out.append(dumps(s.head_dict())[:-1] + ',"packets":[')
    if s.spilled_packets is not None:  # written while the session was analysed
        _copy(s.spilled_packets, out)
    for i, r in enumerate(s.packets if s.spilled_packets is None else ()):
        if i:
            out.append(",")
        _eio_parts(r, out, hexes, r.packet.data)
    sio = s.socketio
    if sio is None:
        out.append('],"socketio":null,')
    else:
        out.append('],"socketio":' + dumps(sio.head_dict())[:-1] + ',"packets":[')
        if sio.spilled_packets is not None:  # written while the session was analysed
            _copy(sio.spilled_packets, out)
        for i, q in enumerate(sio.packets):
            if i:
                out.append(",")
            _sio_parts(q, out, hexes)
        out.append("]," + dumps(sio.tail_dict())[1:] + ",")
    out.append(dumps(s.tail_dict())[1:])


def session_json(s: EngineIOSession) -> str:
    """`dumps(s.to_dict())`."""
    out: list[str] = []
    session_parts(s, out)
    return "".join(out)
