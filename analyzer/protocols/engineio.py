"""Engine.IO v3 and v4: request queries, packets and WebSocket messages (sans-IO); the polling
payloads are in engineio_polling.py.

Everything here takes bytes or text that came off the wire and returns packets plus
`ParserAnomaly` records; nothing raises on bad input. Offsets are byte offsets into
the polling body (or 0 for a single packet / WebSocket message).

Grammar (engine.io-protocol v4 main, v3 branch; engine.io-parser 5.2.2 and 2.2.1):

    packet      = type-digit [data]              ; "0".."6", data is UTF-8 text
                / "b" base64                     ; v4: binary message, type implied
                / "b" type-digit base64          ; v3: binary packet of that type
    v4 payload  = packet *( %x1E packet )
    v3 payload  = 1*( utf16-length ":" packet )  ; length in UTF-16 code units
    v3 XHR2     = 1*( (%x00 / %x01) 1*digit-byte %xFF bytes )   ; digits are bytes 0-9
    JSONP       = "___eio[" j "](" js-string ");"  /  form "d=" payload
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from analyzer.model.codes import engineio as codes
from analyzer.model.common import ParserAnomaly
from analyzer.model.engineio import EioPacket, EioPacketType

__all__ = [
    "PACKET_TYPES",
    "EioOpen",
    "EioQuery",
    "decode_packet_text",
    "decode_ws_message",
    "parse_engineio_query",
    "parse_open_packet",
]

_MAX_QUERY = 8192
_MAX_FIELDS = 64
# An origin-form target (RFC 9112 §3.2.1) of printable ASCII without %, + or #, not "//...".
_PLAIN_TARGET = re.compile(r"/(?!/)[!-\"$&-*,-~]*")


@dataclass(frozen=True, slots=True)
class EioQuery:
    """The Engine.IO parameters of a request target (EIO v4 'Transports')."""

    path: str
    eio: int | None  # the EIO parameter as an integer, None if absent or not a number
    eio_raw: str | None
    transport: str | None
    sid: str | None
    t: str | None
    b64: bool
    jsonp: str | None  # the j parameter (v3 JSONP polling)

    @property
    def version(self) -> int:
        """The protocol version spoken: JS servers treat a missing EIO as 3 (server.ts)."""
        if self.eio is None:
            return 3
        return 3 if self.eio <= 3 else 4


@dataclass(frozen=True, slots=True)
class EioOpen:
    """The open packet's JSON (EIO v4 'Handshake')."""

    sid: str
    upgrades: tuple[str, ...]
    ping_interval_ms: int | None
    ping_timeout_ms: int | None
    max_payload: int | None
    keys: tuple[str, ...]


_TYPE_CHARS = "0123456"
PACKET_TYPES = tuple(EioPacketType)  # by number: a tuple index costs less than EioPacketType(n)
_PING_PONG = (EioPacketType.PING, EioPacketType.PONG)
_MESSAGE = EioPacketType.MESSAGE  # a class attribute lookup on an Enum costs more than a global


# --- query --------------------------------------------------------------------------------------------
def parse_engineio_query(target: str) -> EioQuery | None:
    """Engine.IO parameters of a request target, or None when it is not an Engine.IO request.

    A request is Engine.IO when its query has `EIO`, or a `transport` of polling/websocket
    on a path ending in `/engine.io/` or `/socket.io/` (whatever the mount path).
    """
    if len(target) > _MAX_QUERY:
        target = target[:_MAX_QUERY]
    params: dict[str, str] = {}
    if _PLAIN_TARGET.fullmatch(target) is not None:
        # The usual origin-form target: nothing for urlsplit / unquote to undo, so split it here
        # exactly as they would (RFC 3986 §3.4; parse_qs with keep_blank_values).
        path, _, query = target.partition("?")
        fields = query.split("&")
        if len(fields) > _MAX_FIELDS:
            return None
        for name_value in fields:
            if name_value:
                name, _, value = name_value.partition("=")
                params.setdefault(name, value)
    else:
        try:
            parts = urlsplit(target)
            parsed = parse_qs(parts.query, keep_blank_values=True, max_num_fields=_MAX_FIELDS)
        except ValueError:
            return None
        path = parts.path
        params = {name: values[0] for name, values in parsed.items() if values}
    path = path or "/"

    def first(name: str) -> str | None:
        return params.get(name)

    eio_raw = first("EIO")
    transport = first("transport")
    known_path = path.rstrip("/").endswith(("/engine.io", "/socket.io"))
    if eio_raw is None and not (known_path and transport in ("polling", "websocket")):
        return None
    # at most 7 digits: any real version, and far from int()'s digit limit (a ValueError)
    digits = eio_raw is not None and len(eio_raw) <= 7 and eio_raw.isascii() and eio_raw.isdigit()
    eio = int(eio_raw) if digits and eio_raw is not None else None
    if eio is not None and eio > 1_000_000:
        eio = None
    sid = first("sid")
    return EioQuery(
        path=path,
        eio=eio,
        eio_raw=eio_raw,
        transport=transport,
        sid=sid if sid else None,
        t=first("t"),
        b64=first("b64") not in (None, "", "0", "false"),
        jsonp=first("j"),
    )


# --- single packets -----------------------------------------------------------------------------------
def _b64decode(text: str) -> tuple[bytes, bool]:
    """Base64 as browsers and Node decode it: strict first, then leniently. Returns (bytes, strict_ok)."""
    try:
        return base64.b64decode(text, validate=True), True
    except (binascii.Error, ValueError):
        pass
    cleaned = re.sub(r"[^A-Za-z0-9+/]", "", text.replace("-", "+").replace("_", "/"))
    cleaned = cleaned[: len(cleaned) - (len(cleaned) % 4 == 1)]
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4)), False
    except (binascii.Error, ValueError):
        return b"", False


def decode_packet_text(
    text: str, version: int, offset: int = 0
) -> tuple[EioPacket | None, list[ParserAnomaly]]:
    """Decode one text-encoded packet (a polling record or a WebSocket text message)."""
    if not text:
        # G1: engine.io-parser returns a "parser error" packet for ''
        return None, [ParserAnomaly(codes.BAD_PACKET_TYPE, "empty Engine.IO packet", offset)]
    first = text[0]
    if first == "b":
        # EIO v4 'Packet encoding': "b" + base64, message type implied; v3: "b" + type + base64
        if version >= 4:
            ptype, body = _MESSAGE, text[1:]
        else:
            tchar = text[1:2]
            if not tchar or tchar not in _TYPE_CHARS:
                msg = f"v3 binary packet 'b{tchar}' has no valid type character"
                return None, [ParserAnomaly(codes.BAD_PACKET_TYPE, msg, offset)]
            ptype, body = PACKET_TYPES[int(tchar)], text[2:]
        data, strict = _b64decode(body)
        anomalies = []
        if not strict:
            anomalies.append(ParserAnomaly(codes.BAD_BASE64, "binary packet with invalid base64", offset))
        return EioPacket(ptype, data, b64=True), anomalies
    if first not in _TYPE_CHARS:
        # G1: JS returns a parser error; python-engineio even accepts 7-9 (PROTOCOLS.md §2.4)
        shown = text[:8].encode("unicode_escape").decode("ascii")
        msg = f"Engine.IO packet type {first!r} is not 0-6 (packet starts {shown!r})"
        return None, [ParserAnomaly(codes.BAD_PACKET_TYPE, msg, offset)]
    return EioPacket(PACKET_TYPES[ord(first) - 48], text[1:]), []


def decode_ws_message(
    data: bytes, binary: bool, version: int
) -> tuple[EioPacket | None, list[ParserAnomaly]]:
    """One Engine.IO packet from one WebSocket message; the opcode decides text or binary (§2.4)."""
    if binary:
        if version >= 4:
            # EIO v4 'WebSocket': a binary frame is a message packet, no type byte
            return EioPacket(_MESSAGE, bytes(data)), []
        # EIO v3: a binary frame starts with the type byte (test suite: 04 01 02 03 04)
        if not data:
            return None, [ParserAnomaly(codes.BAD_PACKET_TYPE, "empty binary Engine.IO v3 message", 0)]
        if data[0] > 6:
            msg = f"binary Engine.IO v3 message with type byte 0x{data[0]:02x} (not 0-6)"
            return None, [ParserAnomaly(codes.BAD_PACKET_TYPE, msg, 0)]
        return EioPacket(PACKET_TYPES[data[0]], bytes(data[1:])), []
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        # the WebSocket layer reports ws.invalid-utf8; decode what a browser would show
        text = bytes(data).decode("utf-8", "replace")
        packet, more = decode_packet_text(text, version)
        return packet, [ParserAnomaly(codes.BAD_ENCODING, "text message is not valid UTF-8", 0), *more]
    return decode_packet_text(text, version)


# --- the open packet ----------------------------------------------------------------------------------
def _int_field(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    return int(value)


def parse_open_packet(packet: EioPacket, version: int) -> tuple[EioOpen | None, list[ParserAnomaly]]:
    """The open packet's parameters; None when it has no usable sid."""
    if packet.type is not EioPacketType.OPEN or not isinstance(packet.data, str):
        return None, [ParserAnomaly(codes.BAD_OPEN_PACKET, "open packet is not a text packet", 0)]
    try:
        obj = json.loads(packet.data) if len(packet.data) <= 65536 else None
    except (ValueError, RecursionError):
        obj = None
    if not isinstance(obj, dict):
        return None, [ParserAnomaly(codes.BAD_OPEN_PACKET, "open packet data is not a JSON object", 0)]
    anomalies: list[ParserAnomaly] = []
    # EIO v4 'Handshake': sid, upgrades, pingInterval, pingTimeout, maxPayload (v4 only)
    required = ["sid", "upgrades", "pingInterval", "pingTimeout"] + (["maxPayload"] if version >= 4 else [])
    missing = [k for k in required if k not in obj]
    if missing:
        msg = f"open packet (v{version}) lacks {', '.join(missing)}"
        anomalies.append(ParserAnomaly(codes.OPEN_MISSING_KEYS, msg, 0))
    bad: list[str] = []
    sid = obj.get("sid")
    if "sid" in obj and (not isinstance(sid, str) or not sid):
        bad.append("sid")
    upgrades_raw = obj.get("upgrades", [])
    if not isinstance(upgrades_raw, list) or not all(isinstance(u, str) for u in upgrades_raw):
        bad.append("upgrades")
        upgrades_raw = []
    values: dict[str, int | None] = {}
    for key in ("pingInterval", "pingTimeout", "maxPayload"):
        values[key] = _int_field(obj[key]) if key in obj else None
        if key in obj and (values[key] is None or (values[key] or 0) < 0):
            bad.append(key)
            values[key] = None
    if bad:
        msg = f"open packet keys of the wrong type: {', '.join(bad)}"
        anomalies.append(ParserAnomaly(codes.BAD_OPEN_PACKET, msg, 0))
    if not isinstance(sid, str) or not sid:
        return None, anomalies
    info = EioOpen(
        sid=sid[:256],
        upgrades=tuple(str(u)[:64] for u in upgrades_raw[:16]),
        ping_interval_ms=values["pingInterval"],
        ping_timeout_ms=values["pingTimeout"],
        max_payload=values["maxPayload"],
        keys=tuple(str(k)[:64] for k in list(obj)[:32]),
    )
    return info, anomalies
