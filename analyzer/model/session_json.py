"""The JSON of the session records (ANALYSIS_JSON.md "EngineIOSession"): their only serializer.

Engine.IO and Socket.IO packets are written with templates, piece by piece: big payloads are
copied once, when the pieces are joined, and a JsonSpill sink sends them to disk as they come.
Captured text goes through the C escaper of the json module (`encode_basestring`, what
json.dumps itself uses), and an event's arguments are encoded once for both "args" and "data".
The fields of a session besides its packets come from `head_dict()` / `tail_dict()` of its
record. The records' `to_json()` / `to_dict()` (model/session.py) are these pieces joined.
"""

from __future__ import annotations

import json
import math
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any, cast

from analyzer.model.common import Direction
from analyzer.model.socketio import SioPacket, SioPacketType
from analyzer.model.spill import PieceSink, dumps
from analyzer.model.values import MAX_DEPTH, to_jsonable

if TYPE_CHECKING:  # model/session.py imports this module: the records are only annotations here
    from analyzer.model.session import EioPacketRecord, EngineIOSession, SioPacketRecord, SocketIOSession

__all__ = [
    "SIO_ARGS_KEY",
    "SIO_DATA_KEY",
    "PieceSink",
    "eio_packet_parts",
    "session_parts",
    "sio_args_data",
    "sio_packet_fields",
    "sio_packet_parts",
    "sio_packet_pieces",
    "socketio_parts",
]

_EVENT_TYPES = (SioPacketType.EVENT, SioPacketType.BINARY_EVENT)
SIO_ARGS_KEY = ',"args":'  # a Socket.IO packet's JSON: head, SIO_ARGS_KEY, args, SIO_DATA_KEY, data, tail
SIO_DATA_KEY = ',"data":'


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
def eio_packet_parts(r: EioPacketRecord, out: PieceSink, hexes: dict[int, str], data: str | bytes) -> None:
    """An Engine.IO packet (`engineio_sessions[].packets[]`); `data` is its payload (the record's
    own, or read back from where the streaming writer parked it)."""
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


_strict_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def _encode(v: Any, depth: int, hexes: dict[int, str]) -> str:
    out: list[str] = []
    _value(v, out, depth, hexes)
    return "".join(out)


def _data_json(p: SioPacket, event: bool, hexes: dict[int, str]) -> tuple[str, str]:
    """(args, data) of the packet: its decoded values as `dumps(to_jsonable(...))` writes them.
    The fallback does not trust `binary_values`: a default-parser number such as 1e999 decodes to
    Infinity (JSON.parse does the same), which only to_jsonable makes JSON ({"$float": "inf"})."""
    data = p.data
    if not p.binary_values:
        # decoded from JSON text: no bytes, str keys, nesting already cut at MAX_DEPTH; the C
        # encoder writes it as _value would, in one pass (Infinity from 1e999 raises: fallback)
        try:
            if event and isinstance(data, list) and data:
                parts = [_strict_dumps(x) for x in data]
                return "[" + ",".join(parts[1:]) + "]", "[" + ",".join(parts) + "]"
            return "null", _strict_dumps(data)
        except (ValueError, TypeError, RecursionError):
            pass
    try:
        if event and isinstance(data, list) and data:
            parts = [_encode(x, 1, hexes) for x in data]
            return "[" + ",".join(parts[1:]) + "]", "[" + ",".join(parts) + "]"
        return "null", _encode(data, 0, hexes)
    except (_Fallback, RecursionError):
        safe = to_jsonable(data)
        if event and isinstance(safe, list) and safe:
            parts = [dumps(x) for x in safe]
            return "[" + ",".join(parts[1:]) + "]", "[" + ",".join(parts) + "]"
        return "null", dumps(safe)


def sio_args_data(p: SioPacket) -> tuple[str, str]:
    """The JSON text of a Socket.IO packet's "args" and "data", as sio_packet_parts writes them
    (`socketscope batch` keeps them as text columns)."""
    return _data_json(p, p.type in _EVENT_TYPES, {})


def sio_packet_pieces(r: SioPacketRecord, hexes: dict[int, str]) -> tuple[str, str, str, str]:
    """A Socket.IO packet's JSON text in four pieces: the fields before "args" (up to and with
    `,"args":`), the JSON of "args", of "data" (SIO_DATA_KEY between the two), and the fields
    after. A spill that keeps the pieces' lengths (model/spill.py TalliedSpill) gives "args" and
    "data" back as text, so that an output writes them again without decoding them."""
    p = r.packet
    args, data = _data_json(p, p.type in _EVENT_TYPES, hexes)
    head = (
        _where(r.direction, r.ts, r.frame, r.transport, r.connection)
        + ',"type":'
        + _SIO_NAMES[p.type]
        + ',"nsp":'
        + encode_basestring(p.nsp)
        + ',"ack_id":'
        + (str(p.ack_id) if type(p.ack_id) is int else dumps(p.ack_id))
        + ',"event":'
        + ("null" if p.event is None else encode_basestring(p.event))
        + SIO_ARGS_KEY
    )
    tail = (
        ',"attachments":'
        + str(p.attachments)
        + ',"frames":['
        + ",".join(map(str, r.frames))
        + "]"
        + ("" if p.query is None else ',"query":' + dumps(p.query))
        + ("" if r.complete else ',"complete":false')
        + "}"
    )
    return head, args, data, tail


def sio_packet_parts(r: SioPacketRecord, out: PieceSink, hexes: dict[int, str]) -> None:
    """A Socket.IO packet (`socketio.packets[]`)."""
    head, args, data, tail = sio_packet_pieces(r, hexes)
    out.append(head)
    out.append(args)
    out.append(SIO_DATA_KEY)
    out.append(data)
    out.append(tail)


def sio_packet_fields(head: str, tail: str) -> dict[str, Any]:
    """The fields of a Socket.IO packet but "args" and "data", from the first and last pieces of
    its JSON text (sio_packet_pieces): a few short values decoded, the arguments not at all."""
    return cast(dict[str, Any], json.loads(head[: -len(SIO_ARGS_KEY)] + tail))


def socketio_parts(sio: SocketIOSession, out: PieceSink, hexes: dict[int, str]) -> None:
    """The Socket.IO part of a session (`engineio_sessions[].socketio`)."""
    out.append(dumps(sio.head_dict())[:-1] + ',"packets":[')
    sio.packets.write_to(out, lambda q, o: sio_packet_parts(q, o, hexes))
    out.append("]," + dumps(sio.tail_dict())[1:])


def session_parts(s: EngineIOSession, out: PieceSink) -> None:
    """An Engine.IO session (`engineio_sessions[]`)."""
    hexes: dict[int, str] = {}
    out.append(dumps(s.head_dict())[:-1] + ',"packets":[')
    s.packets.write_to(out, lambda r, o: eio_packet_parts(r, o, hexes, r.packet.data))
    out.append('],"socketio":')
    if s.socketio is None:
        out.append("null")
    else:
        socketio_parts(s.socketio, out, hexes)
    out.append("," + dumps(s.tail_dict())[1:])
