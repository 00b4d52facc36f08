"""Socket.IO v4 and v5 packets: default (text) parser, msgpack parser, binary attachments (sans-IO).

Grammar of the default parser (socket.io-protocol "Format"; socket.io-parser 4.2.4 decodeString):

    packet  = type [attachments "-"] [nsp ","] [ack-id] [json]
    type    = "0".."6"        ; CONNECT DISCONNECT EVENT ACK CONNECT_ERROR BINARY_EVENT BINARY_ACK
    nsp     = "/" *(not ",")  ; only when not "/"; runs to the first "," or the end
    ack-id  = 1*DIGIT         ; capped at 100 digits, as python-socketio does
    json    = JSON text       ; its shape depends on the type (isPayloadValid)

A BINARY_* packet is followed by `attachments` binary Engine.IO messages that replace the
`{"_placeholder":true,"num":N}` objects, depth first. The msgpack parser sends each packet
as one binary message holding a map {type, nsp, data?, id?} (socket.io-msgpack-parser).

Nothing here raises on wire input: bad packets come back as `ParserAnomaly` records.
Walks over decoded values are iterative and depth-bounded, so hostile nesting cannot
exhaust the stack here or later in a JSON exporter.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import msgpack

from analyzer.model.codes import socketio as codes
from analyzer.model.common import Direction, ParserAnomaly
from analyzer.model.socketio import SioPacket, SioPacketType
from analyzer.model.values import MAX_DEPTH, map_tree, to_jsonable
from analyzer.protocols.json_bounded import loads_bounded

__all__ = [
    "DEFAULT_MAX_ATTACHMENTS",
    "MAX_DEPTH",
    "MAX_JSON_CHARS",
    "MAX_REPEATED_ATTACHMENT_BYTES",
    "REF_ATTACHMENT",
    "RESERVED_EVENTS",
    "SioEvent",
    "SioPacket",
    "SioPacketType",
    "SioStreamDecoder",
    "decode_sio_msgpack",
    "decode_sio_text",
    "to_jsonable",
]

MAX_JSON_CHARS = 8 * 1024 * 1024  # a bigger payload is not JSON-decoded
MAX_NSP = 1024
MAX_ACK_DIGITS = 100  # python-socketio's cap
MAX_ATTACHMENT_DIGITS = 10  # python-socketio's cap
DEFAULT_MAX_ATTACHMENTS = 1000
# bytes of attachments a packet's repeated placeholders may copy; past it a repeat is written as
# {"$ref_attachment": N} (docs/bounds.md, docs/analysis-json.md)
MAX_REPEATED_ATTACHMENT_BYTES = 1 << 20
REF_ATTACHMENT = "$ref_attachment"

# socket.io-parser 4.2.4 RESERVED_EVENTS: names an EVENT may not carry
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)
_DIGITS = re.compile(r"[0-9]+")
_BAD_ACK_PREFIX = re.compile(r"[^\[\{\"\s]{1,100}(?=[\[\{\"])")


_NAMES = {t: t.name for t in SioPacketType}
_PTYPES = tuple(SioPacketType)  # by number: a tuple index costs less than SioPacketType(n)
_BINARY_TYPES = (SioPacketType.BINARY_EVENT, SioPacketType.BINARY_ACK)
_EVENT_TYPES = (SioPacketType.EVENT, SioPacketType.BINARY_EVENT)
_ACK_TYPES = (SioPacketType.ACK, SioPacketType.BINARY_ACK)
# enum members as module constants: a class attribute lookup on an Enum costs more than the test
_CONNECT = SioPacketType.CONNECT
_DISCONNECT = SioPacketType.DISCONNECT
_CONNECT_ERROR = SioPacketType.CONNECT_ERROR


@dataclass(slots=True)  # not frozen: one per packet, and a frozen __init__ costs several times more
class SioEvent:
    """What the stream decoder hands out: a packet (or None) and the tags of its Engine.IO messages."""

    packet: SioPacket | None
    anomalies: tuple[ParserAnomaly, ...] = ()
    tags: tuple[int, ...] = ()  # the feed tags, header message first, then its attachments
    complete: bool = True  # False: attachments missing


def _keep(node: Any) -> tuple[bool, Any]:
    return False, None


# --- JSON ---------------------------------------------------------------------------------------------
def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # JSON.parse rejects NaN / Infinity


_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def _loads(text: str) -> tuple[bool, Any, bool]:
    """(ok, value, depth_cut): JSON.parse semantics, nesting bounded."""
    try:
        value = _JSON.decode(text)
    except RecursionError:
        # valid JSON may nest deeper than the decoder recurses: read it without recursion,
        # keeping the head (event name, ack data) and cutting below MAX_DEPTH
        return loads_bounded(text)
    except ValueError:
        return False, None, False
    if _deeper_than(text, MAX_DEPTH):
        value, cut = map_tree(value, _keep)
        return True, value, cut
    return True, value, False


# a JSON string (RFC 8259 §7): what the depth count skips; everything but brackets after that
_JSON_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_ONE_KIND = str.maketrans("{}", "[]")
_ONE_KIND_BYTES = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKET_OR_QUOTE = bytes(b for b in range(256) if b not in b'[]{}"')  # UTF-8's multi-byte parts too


def _deeper_than(text: str, limit: int) -> bool:
    """Whether the valid JSON `text` nests containers more than `limit` levels deep, at C speed
    (the decoded value is not walked: a tree of 64 KiB took ~10 ms to rebuild).

    Counting brackets is a first bound. Past it, the brackets outside strings are kept, as one
    kind (the text decoded, so they match), and each pass of `replace("[]", "")` removes exactly
    the innermost containers (str.replace does not rescan what it wrote): the text empties after
    as many passes as it nests levels. Without an escape, every other '"' opens a string: the
    brackets and quotes are kept by one bytes.translate (2.7x faster than cutting the strings out
    of the whole text first, on the state benchmark's arguments), then the strings are cut."""
    if text.count("[") + text.count("{") <= limit:
        return False
    if "\\" in text:
        outside = _JSON_STRING.sub("", text)
        brackets = _NOT_BRACKET.sub("", outside).translate(_ONE_KIND).encode("ascii")
    else:
        kept = text.encode("utf-8", "surrogatepass").translate(_ONE_KIND_BYTES, _NOT_BRACKET_OR_QUOTE)
        brackets = b"".join(kept.split(b'"')[0::2])
    for _ in range(limit):
        if not brackets:
            return False
        brackets = brackets.replace(b"[]", b"")
    return bool(brackets)


# --- payload shapes (SIO v5 'Sending and receiving data'; socket.io-parser isPayloadValid) -------------
def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_payload(ptype: SioPacketType, data: Any, has_data: bool, version: int) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    name = _NAMES[ptype]
    if ptype is _CONNECT:
        if has_data and version >= 5 and not isinstance(data, dict):
            found.append((codes.BAD_PAYLOAD, "CONNECT payload must be an object (S2)"))
        elif has_data and version < 5:
            found.append((codes.BAD_PAYLOAD, "v4 CONNECT carries no payload (S2)"))
    elif ptype is _DISCONNECT:
        if has_data:
            found.append((codes.BAD_PAYLOAD, "DISCONNECT carries no payload (S2)"))
    elif ptype is _CONNECT_ERROR:
        if not has_data:
            pass
        elif isinstance(data, str) and version >= 5:
            msg = "v5 CONNECT_ERROR with a string payload (the v4 ERROR form) (S7)"
            found.append((codes.ERROR_PAYLOAD_VERSION_MIXUP, msg))
        elif isinstance(data, dict) and version < 5:
            msg = "v4 ERROR with an object payload (the v5 CONNECT_ERROR form) (S7)"
            found.append((codes.ERROR_PAYLOAD_VERSION_MIXUP, msg))
        elif not isinstance(data, str | dict):
            found.append((codes.BAD_PAYLOAD, f"{name} payload must be a string or an object (S2)"))
    elif ptype in _EVENT_TYPES:
        if not has_data or not isinstance(data, list) or not data:
            found.append((codes.BAD_PAYLOAD, f"{name} payload must be a non-empty array (S2)"))
        elif not isinstance(data[0], str) and not _is_number(data[0]):
            found.append((codes.BAD_PAYLOAD, f"{name} name must be a string or a number (S2)"))
        elif version >= 5 and isinstance(data[0], str) and data[0] in RESERVED_EVENTS:
            found.append((codes.BAD_PAYLOAD, f"{name} uses the reserved name {data[0]!r} (S2)"))
    elif not has_data or not isinstance(data, list):
        found.append((codes.BAD_PAYLOAD, f"{name} payload must be an array (S2)"))
    return found


def _split_nsp(raw: str, anomalies: list[ParserAnomaly]) -> tuple[str, str | None]:
    if len(raw) > MAX_NSP:
        msg = f"namespace of {len(raw)} characters cut to {MAX_NSP}"
        anomalies.append(ParserAnomaly(codes.LIMIT_EXCEEDED, msg, 0))
        raw = raw[:MAX_NSP]
    # SIO v4 clients put a query in the namespace: 40/admin?token=1234, (python strips it too)
    q = raw.find("?")
    if q >= 0:
        return raw[:q] or "/", raw[q + 1 :]
    return raw, None


# --- default parser -----------------------------------------------------------------------------------
def decode_sio_text(
    text: str, version: int = 5, *, max_json_chars: int = MAX_JSON_CHARS
) -> tuple[SioPacket | None, list[ParserAnomaly]]:
    """Decode one default-parser packet (the text of an Engine.IO message after its '4').

    `version` is the Socket.IO protocol: 5 over EIO4, 4 over EIO3. Returns None (with an
    anomaly) only when the header cannot be read: the type, or the attachment count.
    """
    anomalies: list[ParserAnomaly] = []
    if not text:
        return None, [ParserAnomaly(codes.BAD_PACKET_TYPE, "empty Socket.IO packet", 0)]
    first = text[0]
    if first not in "0123456":
        shown = text[:8].encode("unicode_escape").decode("ascii")
        msg = f"unknown Socket.IO packet type {first!r} (packet starts {shown!r}) (S1)"
        return None, [ParserAnomaly(codes.BAD_PACKET_TYPE, msg, 0)]
    ptype = _PTYPES[ord(first) - 48]
    i = 1
    attachments = 0
    if ptype in _BINARY_TYPES:
        # "<n>-" (socket.io-parser: 'Illegal attachments' when not digits followed by '-')
        dash = text.find("-", 1, 2 + MAX_ATTACHMENT_DIGITS)
        digits = text[1:dash] if dash > 0 else ""
        if not digits or not digits.isascii() or not digits.isdigit():
            shown = text[1:12].encode("unicode_escape").decode("ascii")
            msg = f"{ptype.name} without a '<digits>-' attachment count (got {shown!r}) (S1)"
            return None, [ParserAnomaly(codes.BAD_ATTACHMENT_COUNT, msg, 1)]
        attachments = int(digits)
        i = dash + 1
    nsp, query = "/", None
    if text.startswith("/", i):
        comma = text.find(",", i)
        end = len(text) if comma < 0 else comma
        nsp, query = _split_nsp(text[i:end], anomalies)
        i = end + 1 if comma >= 0 else end
    ack_id: int | None = None
    m_id = _DIGITS.match(text, i)
    if m_id is not None:
        if m_id.end() - i > MAX_ACK_DIGITS:
            msg = f"ack id of more than {MAX_ACK_DIGITS} digits (S3)"
            anomalies.append(ParserAnomaly(codes.BAD_ACK_ID, msg, i))
        else:
            ack_id = int(m_id.group(0))
        i = m_id.end()
    rest = text[i:]
    data: Any = None
    has_data = bool(rest)
    if rest:
        if len(rest) > max_json_chars:
            msg = f"payload of {len(rest)} characters not decoded (bound {max_json_chars})"
            anomalies.append(ParserAnomaly(codes.LIMIT_EXCEEDED, msg, i))
            return SioPacket(ptype, nsp, ack_id, None, True, attachments, query), anomalies
        ok, data, cut = _loads(rest)
        if not ok:
            m = _BAD_ACK_PREFIX.match(rest)
            ok2, data2, cut2 = _loads(rest[m.end() :]) if m is not None else (False, None, False)
            if m is not None and ok2:
                # S3: "42abc[...]", a non-numeric ack id (socket.io-protocol test suite)
                msg = f"non-numeric ack id {m.group(0)[:20]!r} (S3)"
                anomalies.append(ParserAnomaly(codes.BAD_ACK_ID, msg, i))
                data, cut = data2, cut2
            else:
                shown = rest[:24].encode("unicode_escape").decode("ascii")
                msg = f"{ptype.name} payload is not JSON: {shown!r} (S2)"
                anomalies.append(ParserAnomaly(codes.BAD_PAYLOAD, msg, i))
                return SioPacket(ptype, nsp, ack_id, None, True, attachments, query), anomalies
        if cut:
            msg = f"payload nested deeper than {MAX_DEPTH} levels; deeper parts cut"
            anomalies.append(ParserAnomaly(codes.LIMIT_EXCEEDED, msg, i))
    for code, msg in _check_payload(ptype, data, has_data, version):
        anomalies.append(ParserAnomaly(code, msg, i))
    return SioPacket(ptype, nsp, ack_id, data, has_data, attachments, query), anomalies


# --- msgpack parser -----------------------------------------------------------------------------------
def _ext_hook(code: int, data: bytes) -> Any:
    # notepack.io before 3.0 wrote `undefined` as fixext 1 [0, 0] (notepack README)
    if code == 0 and data == b"\x00":
        return None
    return msgpack.ExtType(code, data)


def _unpack(data: bytes) -> tuple[bool, Any]:
    """msgpack.unpackb with every size bounded by the input, its exceptions kept inside."""
    n = len(data)
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=False,
            unicode_errors="replace",
            ext_hook=_ext_hook,
            max_str_len=n,
            max_bin_len=n,
            max_array_len=n,
            max_map_len=n,
            max_ext_len=n,
        )
    except Exception:  # msgpack raises ValueError, TypeError (unhashable keys), its own errors...
        return False, None
    return True, value


def _is_msgpack_packet(value: Any) -> bool:
    return isinstance(value, dict) and "type" in value and "nsp" in value


def _packet_from_map(
    obj: dict[Any, Any], version: int, *, text_form: bool = False
) -> tuple[SioPacket | None, list[ParserAnomaly]]:
    """A packet from a msgpack-parser map (socket.io-msgpack-parser checkPacket)."""
    anomalies: list[ParserAnomaly] = []
    ptype_raw = obj.get("type")
    # parser 3.x (SIO v5) knows types 0-4; 2.x (SIO v4) passes 5 and 6 through
    top = 4 if version >= 5 else 6
    if isinstance(ptype_raw, bool) or not isinstance(ptype_raw, int) or not 0 <= ptype_raw <= top:
        msg = f"msgpack packet type {str(ptype_raw)[:20]!r} is not an integer 0-{top} (S8)"
        return None, [ParserAnomaly(codes.MSGPACK_BAD_PACKET, msg, 0)]
    ptype = _PTYPES[ptype_raw]
    nsp_raw = obj.get("nsp")
    if not isinstance(nsp_raw, str):
        msg = f"msgpack packet nsp {str(nsp_raw)[:20]!r} is not a string (S8)"
        return None, [ParserAnomaly(codes.MSGPACK_BAD_PACKET, msg, 0)]
    nsp, query = _split_nsp(nsp_raw, anomalies)
    ack_raw = obj.get("id")
    ack_id: int | None = None
    if ack_raw is not None:
        if isinstance(ack_raw, bool) or not isinstance(ack_raw, int):
            msg = f"msgpack packet id {str(ack_raw)[:20]!r} is not an integer (S8)"
            anomalies.append(ParserAnomaly(codes.MSGPACK_BAD_PACKET, msg, 0))
        else:
            ack_id = ack_raw
    raw_data = obj.get("data")
    has_data = raw_data is not None  # msgpack nil and notepack's undefined both mean "absent"
    data, cut = map_tree(raw_data, _keep) if has_data else (None, False)
    if cut:
        msg = f"payload nested deeper than {MAX_DEPTH} levels; deeper parts cut"
        anomalies.append(ParserAnomaly(codes.LIMIT_EXCEEDED, msg, 0))
    for code, msg in _check_payload(ptype, data, has_data, version):
        anomalies.append(ParserAnomaly(code, msg, 0))
    packet = SioPacket(ptype, nsp, ack_id, data, has_data, 0, query, "msgpack", binary_values=not text_form)
    return packet, anomalies


def decode_sio_msgpack(data: bytes, version: int = 5) -> tuple[SioPacket | None, list[ParserAnomaly]]:
    """Decode one msgpack-parser packet (a binary Engine.IO message); bin values stay bytes."""
    ok, value = _unpack(bytes(data))
    if not ok:
        return None, [ParserAnomaly(codes.MSGPACK_BAD_PACKET, "binary message is not valid msgpack (S8)", 0)]
    if not isinstance(value, dict):
        msg = f"msgpack value is a {type(value).__name__}, not a map (S8)"
        return None, [ParserAnomaly(codes.MSGPACK_BAD_PACKET, msg, 0)]
    return _packet_from_map(value, version)


# --- attachments --------------------------------------------------------------------------------------
@dataclass(slots=True)
class _Fill:
    """What putting the attachments back found: the attachments used, bad placeholder nums, and
    the placeholders that named an attachment already put in place (`repeats`, per attachment)."""

    used: set[int] = field(default_factory=set)
    bad: list[str] = field(default_factory=list)
    repeats: dict[int, int] = field(default_factory=dict)
    refs: int = 0  # repeats past the bound, written {"$ref_attachment": N}


def _fill_placeholders(
    data: Any, buffers: list[bytes], declared: int, max_repeat_bytes: int = MAX_REPEATED_ATTACHMENT_BYTES
) -> tuple[Any, _Fill]:
    """Attachments in place of {"_placeholder": true, "num": N} (socket.io-parser reconstructPacket).

    socket.io-parser's deconstructPacket writes one placeholder per attachment; a hostile sender
    may name one attachment many times, and every copy would be written out (as hex) again. The
    first placeholder of each attachment gets its bytes; a repeat gets them too while the
    packet's repeats hold at most `max_repeat_bytes`, and is {"$ref_attachment": N} beyond."""
    fill = _Fill()
    used, bad, repeats = fill.used, fill.bad, fill.repeats
    budget = max_repeat_bytes

    def visit(node: Any) -> tuple[bool, Any]:
        nonlocal budget
        if isinstance(node, dict) and node.get("_placeholder") is True:
            num = node.get("num")
            valid = isinstance(num, int) and not isinstance(num, bool) and 0 <= num < declared
            if valid and isinstance(num, int) and num < len(buffers):
                if num not in used:
                    used.add(num)
                    return True, buffers[num]
                repeats[num] = repeats.get(num, 0) + 1
                size = len(buffers[num])
                if size <= budget:
                    budget -= size
                    return True, buffers[num]
                fill.refs += 1
                return True, {REF_ATTACHMENT: num}
            if not valid and len(bad) < 5:
                bad.append(str(num)[:20])
            return True, node  # left as it was on the wire
        return False, None

    new, _ = map_tree(data, visit)
    return new, fill


@dataclass(slots=True)
class _Pending:
    packet: SioPacket
    tags: list[int]
    anomalies: list[ParserAnomaly]
    buffers: list[bytes] = field(default_factory=list)


class SioStreamDecoder:
    """Socket.IO packets from the Engine.IO messages of one session, both directions, in order.

    Feed every Engine.IO *message* packet: `feed_text()` for text, `feed_binary()` for binary
    (whatever the transport). The parser (default or msgpack) is found from the traffic unless
    given. Binary attachments are gathered per direction and put back in place.
    """

    def __init__(
        self,
        version: int = 5,
        *,
        parser: str | None = None,
        max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
        max_json_chars: int = MAX_JSON_CHARS,
    ) -> None:
        self.version = 5 if version >= 5 else 4
        self.parser = parser
        self.max_attachments = max_attachments
        self.max_json_chars = max_json_chars
        self._pending: dict[Direction, _Pending] = {}

    def feed_text(self, direction: Direction, text: str, tag: int = 0) -> list[SioEvent]:
        out: list[SioEvent] = []
        pending = self._pending.pop(direction, None) if self._pending else None
        if pending is not None:
            # socket.io-parser: "got plaintext data when reconstructing a packet" (S6)
            have, want = len(pending.buffers), pending.packet.attachments
            out.append(self._finish(pending, f"text message after {have} of {want} attachments (S6)"))
        if self.parser == "msgpack" or (self.parser is None and text.startswith("{")):
            ok, value, _ = _loads(text) if len(text) <= self.max_json_chars else (False, None, False)
            if ok and isinstance(value, dict) and _is_msgpack_packet(value):
                # msgpack-parser 2.x sends CONNECT/DISCONNECT/ERROR as JSON text
                self.parser = "msgpack"
                packet, anomalies = _packet_from_map(value, self.version, text_form=True)
                out.append(SioEvent(packet, tuple(anomalies), (tag,)))
                return out
            if self.parser == "msgpack":
                msg = "text message that is not a msgpack-parser JSON packet (S8)"
                out.append(SioEvent(None, (ParserAnomaly(codes.MSGPACK_BAD_PACKET, msg, 0),), (tag,)))
                return out
        packet, anomalies = decode_sio_text(text, self.version, max_json_chars=self.max_json_chars)
        if packet is not None and self.parser is None:
            self.parser = "default"
        if packet is not None and packet.type in _BINARY_TYPES:
            if packet.attachments > self.max_attachments:
                msg = f"{packet.attachments} attachments declared, over the bound {self.max_attachments}"
                anomalies.append(ParserAnomaly(codes.LIMIT_EXCEEDED, msg, 0))
                out.append(SioEvent(packet, tuple(anomalies), (tag,), complete=False))
            elif packet.attachments > 0:
                self._pending[direction] = _Pending(packet, [tag], anomalies)
            else:
                out.append(self._finish(_Pending(packet, [tag], anomalies), None))  # "5" + "0-" at once
            return out
        out.append(SioEvent(packet, tuple(anomalies), (tag,)))
        return out

    def feed_binary(self, direction: Direction, data: bytes, tag: int = 0) -> list[SioEvent]:
        pending = self._pending.get(direction) if self._pending else None
        if pending is not None:
            pending.buffers.append(bytes(data))
            pending.tags.append(tag)
            if len(pending.buffers) < pending.packet.attachments:
                return []
            del self._pending[direction]
            return [self._finish(pending, None)]
        if self.parser in (None, "msgpack"):
            ok, value = _unpack(bytes(data))
            if ok and (self.parser == "msgpack" or _is_msgpack_packet(value)):
                self.parser = "msgpack"
                if not isinstance(value, dict):
                    msg = f"msgpack value is a {type(value).__name__}, not a map (S8)"
                    anomaly = ParserAnomaly(codes.MSGPACK_BAD_PACKET, msg, 0)
                    return [SioEvent(None, (anomaly,), (tag,))]
                packet, anomalies = _packet_from_map(value, self.version)
                return [SioEvent(packet, tuple(anomalies), (tag,))]
            if self.parser == "msgpack":
                msg = "binary message is not valid msgpack (S8)"
                return [SioEvent(None, (ParserAnomaly(codes.MSGPACK_BAD_PACKET, msg, 0),), (tag,))]
        # socket.io-parser: "got binary data when not reconstructing a packet" (S6)
        msg = "binary message with no attachment expected (S6)"
        return [SioEvent(None, (ParserAnomaly(codes.ATTACHMENT_MISMATCH, msg, 0),), (tag,))]

    def pending_tag(self) -> int | None:
        """The smallest feed tag of a packet still waiting for attachments (None: none waits):
        every packet whose header came before it has been handed out."""
        if not self._pending:
            return None
        return min(p.tags[0] for p in self._pending.values())

    def eof(self) -> list[SioEvent]:
        """Packets still waiting for attachments when the traffic ended."""
        out = []
        for direction in list(self._pending):
            pending = self._pending.pop(direction)
            have, want = len(pending.buffers), pending.packet.attachments
            out.append(self._finish(pending, f"traffic ended after {have} of {want} attachments (S6)"))
        return out

    def _finish(self, pending: _Pending, problem: str | None) -> SioEvent:
        packet = pending.packet
        anomalies = list(pending.anomalies)
        if problem is not None:
            anomalies.append(ParserAnomaly(codes.ATTACHMENT_MISMATCH, problem, 0))
        data, fill = _fill_placeholders(packet.data, pending.buffers, packet.attachments)
        if fill.bad:
            # socket.io-parser reconstructPacket: "illegal attachments" (S6)
            nums = ", ".join(fill.bad)
            msg = f"placeholder num {nums} out of range for {packet.attachments} attachments (S6)"
            anomalies.append(ParserAnomaly(codes.ATTACHMENT_MISMATCH, msg, 0))
        elif problem is None and len(fill.used) != len(pending.buffers):
            unused = len(pending.buffers) - len(fill.used)
            msg = f"{unused} of {len(pending.buffers)} attachments not referenced by a placeholder (S6)"
            anomalies.append(ParserAnomaly(codes.ATTACHMENT_MISMATCH, msg, 0))
        if fill.repeats:
            num, times = max(fill.repeats.items(), key=lambda kv: kv[1])
            msg = (
                f"{sum(fill.repeats.values())} placeholders name an attachment already in place "
                f"(attachment {num}: {times + 1} times)"
            )
            if fill.refs:
                msg += (
                    f"; {fill.refs} past the bound of {MAX_REPEATED_ATTACHMENT_BYTES} repeated bytes"
                    f' written as {{"{REF_ATTACHMENT}": N}}'
                )
            anomalies.append(ParserAnomaly(codes.PLACEHOLDER_REPEATED, msg, 0))
        filled = SioPacket(
            packet.type,
            packet.nsp,
            packet.ack_id,
            data,
            packet.has_data,
            packet.attachments,
            packet.query,
            packet.parser,
            True,
        )
        return SioEvent(filled, tuple(anomalies), tuple(pending.tags), complete=problem is None)
