"""WebSocket frames and messages as the decoder hands them out (RFC 6455 §5), and the pure
functions over their bytes: unmasking (§5.3) and Close bodies (§5.5.1, §7.4)."""

from __future__ import annotations

import codecs
import functools
import struct
from dataclasses import dataclass
from enum import IntEnum

from analyzer.model.codes import websocket as codes
from analyzer.model.common import ParserAnomaly

__all__ = [
    "KNOWN_OPCODES",
    "LENGTH_FORMS",
    "MIN_KEEP",
    "U16",
    "U64",
    "Opcode",
    "WsEvent",
    "WsFrame",
    "WsMessage",
    "is_valid_close_code",
    "parse_close",
    "unmask",
    "utf8",
]


class Opcode(IntEnum):
    """RFC 6455 §5.2 / §11.8; 3-7 and 11-15 are reserved."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


KNOWN_OPCODES = frozenset(int(op) for op in Opcode)
LENGTH_FORMS = ("7-bit", "16-bit", "64-bit")
U16 = struct.Struct("!H")
U64 = struct.Struct("!Q")
# Control frames carry at most 125 bytes (§5.5); the kept payload never goes below that
# so Close bodies can always be parsed.
MIN_KEEP = 125


# Not frozen: one is built per frame / message, and a frozen __init__ (object.__setattr__ per
# field) costs several times a plain one. Treat them as read-only all the same.
@dataclass(slots=True)
class WsFrame:
    """One frame as on the wire (RFC 6455 §5.2)."""

    start: int  # stream offsets [start, end) of the whole frame
    end: int
    fin: bool
    rsv1: bool
    rsv2: bool
    rsv3: bool
    opcode: int
    masked: bool
    mask_key: bytes | None
    payload_length: int  # the wire length field
    length_form: str  # "7-bit" | "16-bit" | "64-bit"
    payload: bytes  # unmasked, not inflated, cut at keep_payload_bytes
    payload_truncated: bool
    close_code: int | None  # Close frames only; None when the body is empty or 1 byte
    close_reason: str | None  # "" with a code and no reason; lossy (U+FFFD) if not UTF-8


@dataclass(slots=True)
class WsMessage:
    """A complete text or binary message (§5.4, §5.6), unmasked and inflated."""

    start: int  # first byte of the first frame
    end: int  # end of the last frame
    opcode: int  # 1 text / 2 binary (the first frame's opcode)
    compressed: bool
    nframes: int
    data: bytes  # cut at max_message_bytes
    length: int  # inflated length even if data was cut (a lower limit if inflating hit its bound)
    truncated: bool
    text: str | None  # strict UTF-8 decode of text messages, else None


WsEvent = WsFrame | WsMessage | ParserAnomaly


@functools.lru_cache(maxsize=32)
def _key_int(key: bytes, n: int) -> int:
    """The key repeated over n bytes, as a little-endian integer. The segments of a big frame
    mostly have one size and phase, so within a frame this is computed a few times, not per piece."""
    return int.from_bytes((key * ((n + 3) >> 2))[:n], "little")


def unmask(data: bytes | bytearray | memoryview, key: bytes, phase: int = 0) -> bytes:
    """XOR `data` with the 4-byte masking key (§5.3), `phase` bytes into the frame's payload."""
    n = len(data)
    if n == 0:
        return b""
    p = phase & 3
    if p:
        key = key[p:] + key[:p]
    k = _key_int(key, n) if n >= 256 else int.from_bytes((key * ((n + 3) >> 2))[:n], "little")
    return (int.from_bytes(data, "little") ^ k).to_bytes(n, "little")


def is_valid_close_code(code: int) -> bool:
    """May this status code appear in a Close frame? (§7.4.1, §7.4.2, IANA registry)."""
    # 1004 is reserved; 1005, 1006, 1015 MUST NOT be sent (§7.1.5, §7.4.1); 1012-1014 were
    # added by IANA; 1016-2999 are unassigned; 3000-4999 are for libraries and applications.
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def parse_close(payload: bytes, cut: bool = False) -> tuple[int | None, str | None, list[tuple[str, str]]]:
    """Close body (§5.5.1) -> (code, reason, [(anomaly code, message)]); `cut`: payload is partial."""
    if not payload:
        return None, None, []
    if len(payload) == 1:
        return None, None, [(codes.INVALID_CLOSE_PAYLOAD, "Close body of 1 byte (a code needs 2)")]
    code = U16.unpack_from(payload)[0]
    issues: list[tuple[str, str]] = []
    if not is_valid_close_code(code):
        issues.append((codes.INVALID_CLOSE_CODE, f"close code {code} may not be sent"))
    reason = utf8(payload[2:], cut)
    if reason is None:
        # §5.5.1, §8.1: the reason is UTF-8. Flagged, and kept as text all the same, with
        # U+FFFD for the bytes that do not decode (what tshark shows); the bytes are in the payload.
        issues.append((codes.INVALID_UTF8, "close reason is not valid UTF-8"))
        reason = codecs.getincrementaldecoder("utf-8")("replace").decode(payload[2:], final=not cut)
    return code, reason, issues


def utf8(data: bytes, cut: bool) -> str | None:
    """Strict UTF-8 (RFC 3629 via Python's codec); a cut buffer may end inside a character."""
    try:
        if cut:
            return codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
