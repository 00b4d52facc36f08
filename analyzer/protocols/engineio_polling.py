"""Engine.IO long-polling payloads, v3 and v4 (sans-IO): one body in, packets out.

    v4 payload  = packet *( %x1E packet )
    v3 payload  = 1*( utf16-length ":" packet )  ; length in UTF-16 code units
    v3 XHR2     = 1*( (%x00 / %x01) 1*digit-byte %xFF bytes )   ; digits are bytes 0-9
    JSONP       = "___eio[" j "](" js-string ");"  /  form "d=" payload

Bodies that came off the wire are decoded incrementally, bounded (packets per payload, bytes
buffered), and never raise: bad input becomes `ParserAnomaly` records.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable
from urllib.parse import parse_qs

from analyzer.model.codes import engineio as codes
from analyzer.model.common import ParserAnomaly
from analyzer.model.engineio import EioPacket
from analyzer.protocols.engineio import PACKET_TYPES, decode_packet_text

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_PACKETS",
    "PayloadEvent",
    "PollingPayloadDecoder",
    "decode_polling_payload",
]

DEFAULT_MAX_PACKETS = 10_000  # packets per polling payload (python-engineio accepts 16 per POST)
DEFAULT_MAX_BODY = 64 * 1024 * 1024  # bytes a streaming payload decoder buffers
_MAX_V3_DIGITS = 10  # a v3 length prefix of more digits is a bound breach (JS allows ~310)
_MAX_XHR2_DIGITS = 10

PayloadEvent = EioPacket | ParserAnomaly


# --- polling payloads ---------------------------------------------------------------------------------
_V3_HEADER = re.compile(rf"([0-9]{{1,{_MAX_V3_DIGITS}}}):")
_V3_HEADER_PREFIX = re.compile(rf"[0-9]{{0,{_MAX_V3_DIGITS}}}\Z")
_ESCAPED = re.compile(f"[{chr(0xDC80)}-{chr(0xDCFF)}]")  # lone surrogates (mypyc takes no literal)
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_NOT_DIGIT_BYTES = bytes(range(10, 256))
_DIGIT_BYTES_TO_ASCII = bytes.maketrans(bytes(range(10)), b"0123456789")
_JSONP_PREFIX = b"___eio["
_JSONP_RESPONSE = re.compile(r"\s*___eio\[([0-9]*)\]\((.*)\)\s*;?\s*\Z", re.S)
_JS_ESCAPE = re.compile(r"\\(u\{[0-9a-fA-F]{1,6}\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|\r\n|.)", re.S)
_JS_SIMPLE = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "0": "\0",
    "\n": "",
    "\r\n": "",
}
_FORM_NEWLINE = re.compile(r"(\\)?\\n")


def _utf16_end(s: str, start: int, units: int) -> int | None:
    """Index in `s` where `units` UTF-16 code units starting at `start` end.

    None when `s` is too short yet; -1 when the count ends inside a surrogate pair.
    An astral character (above U+FFFF) is 2 code units, everything else 1.
    """
    seg = s[start : start + units]
    if _ASTRAL.search(seg) is None:
        return start + units if len(seg) == units else None
    extra = 0
    for m in _ASTRAL.finditer(seg):
        before = m.start() + extra  # code units before this astral character
        if before >= units:
            break
        if before == units - 1:
            return -1
        extra += 1
    end = units - extra
    return start + end if end <= len(seg) else None


def _utf8_end(s: str, start: int, nbytes: int) -> int | None:
    """Index in `s` where `nbytes` UTF-8 bytes from `start` end (None: too short; -1: mid-character)."""
    encoded = s[start : start + nbytes].encode("utf-8", "surrogateescape")
    if len(encoded) < nbytes:
        return None
    prefix = encoded[:nbytes].decode("utf-8", "surrogateescape")
    return start + len(prefix) if s.startswith(prefix, start) else -1


_V3_LENGTH_UNITS: tuple[tuple[str, Callable[[str, int, int], int | None]], ...] = (
    ("UTF-16 code units", _utf16_end),  # EIO v3 'Payload': the JS string length
    ("code points", lambda s, start, n: start + n),  # e.g. Python's len(str)
    ("UTF-8 bytes", _utf8_end),
)


def _js_unescape(literal: str) -> str:
    """The value of a JavaScript string literal body (what a browser evaluates for JSONP)."""

    def repl(m: re.Match[str]) -> str:
        esc = m.group(1)
        if esc in _JS_SIMPLE:
            return _JS_SIMPLE[esc]
        if esc.startswith("u{"):
            cp = int(esc[2:-1], 16)
            return chr(cp) if cp <= 0x10FFFF else "\ufffd"
        if esc[0] in "ux" and len(esc) > 1:
            return chr(int(esc[1:], 16))
        return esc

    return _JS_ESCAPE.sub(repl, literal)


class PollingPayloadDecoder:
    """Streaming decoder of one polling body (v3 or v4, text, XHR2 binary or JSONP).

    `feed()` returns the packets and anomalies complete so far; `eof()` the rest. Fed
    whole or in pieces, the result is the same. A v3 text record is handed out once the
    next length prefix (or the end) confirms where it ends, so that a wrong length can be
    told apart and recovered from (servers that count code points or UTF-8 bytes).
    """

    def __init__(
        self,
        version: int,
        content_type: str | None = None,
        *,
        max_packets: int = DEFAULT_MAX_PACKETS,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self.version = 4 if version >= 4 else 3
        self.content_type = (content_type or "").split(";")[0].strip().lower()
        self.max_packets = max_packets
        self.max_body = max_body
        self.mode: str | None = None  # "v4" | "v3" | "xhr2" | "jsonp" | "form"
        self._buf = bytearray()
        self._pos = 0  # consumed bytes of _buf (v4, xhr2)
        self._base = 0  # body offset of _buf[0]
        self._text = ""  # v3 text mode: decoded text not yet consumed
        self._text_base = 0  # body offset (approximate, in characters) of _text[0]
        self._utf8 = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._bad_utf8_reported = False
        self._count = 0
        self._seen = 0
        self._dead = False
        self._done = False

    # -- public ---------------------------------------------------------------------------------------
    def feed(self, data: bytes) -> list[PayloadEvent]:
        if self._done or self._dead or not data:
            self._seen += len(data)
            return []
        self._seen += len(data)
        out: list[PayloadEvent] = []
        if self.mode == "v3":
            self._text += self._decode_utf8(bytes(data), False, out)
        else:
            self._buf += data
        if self.mode is None and not self._choose_mode(False, out):
            self._check_bound(out)
            return out
        self._run(False, out)
        self._check_bound(out)
        return out

    def eof(self) -> list[PayloadEvent]:
        if self._done:
            return []
        out: list[PayloadEvent] = []
        if not self._dead:
            if self._seen == 0:
                # engine.io-parser: decodePayload('') is a parser error
                out.append(ParserAnomaly(codes.EMPTY_PAYLOAD, "empty polling body", 0))
            else:
                if self.mode is None:
                    self._choose_mode(True, out)
                if self.mode == "v3":
                    self._text += self._decode_utf8(b"", True, out)
                self._run(True, out)
        self._done = True
        self._buf = bytearray()
        self._text = ""
        return out

    # -- mode -----------------------------------------------------------------------------------------
    def _choose_mode(self, final: bool, out: list[PayloadEvent]) -> bool:
        buf = self._buf
        ct = self.content_type
        if ct == "application/x-www-form-urlencoded" or buf.startswith(b"d="):
            self.mode = "form"  # JSONP POST (engine.io polling-jsonp; python-engineio accepts it too)
        elif buf.startswith(_JSONP_PREFIX):
            self.mode = "jsonp"
        elif not final and (_JSONP_PREFIX.startswith(bytes(buf)) or bytes(buf) == b"d"):
            return False  # too short to tell
        elif "javascript" in ct:
            self.mode = "jsonp"
        elif self.version == 3 and (
            bytes(buf[:1]) in (b"\x00", b"\x01")
            or (ct == "application/octet-stream" and not buf[:1].isdigit())
        ):
            self.mode = "xhr2"  # EIO v3 'Payload': binary encoding
            if ct != "application/octet-stream":
                msg = f"binary (XHR2) payload with Content-Type {ct or 'none'!r}"
                out.append(ParserAnomaly(codes.BINARY_CONTENT_TYPE, msg, 0))
        else:
            self.mode = "v4" if self.version >= 4 else "v3"
            if ct == "application/octet-stream":
                msg = "text payload sent as application/octet-stream"
                out.append(ParserAnomaly(codes.BINARY_CONTENT_TYPE, msg, 0))
            if self.mode == "v3":
                self._text = self._decode_utf8(bytes(buf), False, out)
                self._text_base = self._base
                self._buf = bytearray()
        return True

    def _run(self, final: bool, out: list[PayloadEvent]) -> None:
        if self.mode == "v4":
            self._run_v4(final, out)
        elif self.mode == "v3":
            self._run_v3(final, out)
        elif self.mode == "xhr2":
            self._run_xhr2(final, out)
        elif final and self.mode in ("jsonp", "form"):
            self._run_jsonp(out)

    def _check_bound(self, out: list[PayloadEvent]) -> None:
        if not self._dead and len(self._buf) + len(self._text) > self.max_body:
            msg = f"polling body buffered past {self.max_body} bytes; rest not decoded"
            self._die(out, codes.LIMIT_EXCEEDED, msg, self._base + self._pos)

    def _die(self, out: list[PayloadEvent], code: str, message: str, offset: int) -> None:
        out.append(ParserAnomaly(code, message, offset))
        self._dead = True
        self._buf = bytearray()
        self._text = ""

    def _emit(self, out: list[PayloadEvent], text_or_packet: str | EioPacket, offset: int) -> bool:
        """Hand out one record; False once the packet bound is reached."""
        if self._count >= self.max_packets:
            msg = f"more than {self.max_packets} packets in one payload; rest dropped"
            self._die(out, codes.LIMIT_EXCEEDED, msg, offset)
            return False
        self._count += 1
        if isinstance(text_or_packet, EioPacket):
            out.append(text_or_packet)
            return True
        packet, anomalies = decode_packet_text(text_or_packet, self.version, offset)
        out.extend(anomalies)
        if packet is not None:
            out.append(packet)
        return True

    def _decode_utf8(self, data: bytes, final: bool, out: list[PayloadEvent]) -> str:
        # bytes that are not UTF-8 become lone surrogates here; _clean() reports them per record
        return self._utf8.decode(data, final)

    def _clean(self, text: str, offset: int, out: list[PayloadEvent]) -> str:
        """Undo surrogateescape: what a browser shows for bytes that are not UTF-8."""
        if _ESCAPED.search(text) is None:
            return text
        if not self._bad_utf8_reported:
            self._bad_utf8_reported = True
            out.append(ParserAnomaly(codes.BAD_ENCODING, "polling body is not valid UTF-8", offset))
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")

    def _record_text(self, raw: bytes, offset: int, out: list[PayloadEvent]) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            out.append(ParserAnomaly(codes.BAD_ENCODING, "payload record is not valid UTF-8", offset))
            return raw.decode("utf-8", "replace")

    def _compact(self) -> None:
        if self._pos > 65536 and self._pos * 2 > len(self._buf):
            del self._buf[: self._pos]
            self._base += self._pos
            self._pos = 0

    # -- v4: records separated by 0x1e (EIO v4 'Payload') -----------------------------------------------
    def _run_v4(self, final: bool, out: list[PayloadEvent]) -> None:
        buf = self._buf
        while not self._dead:
            sep = buf.find(b"\x1e", self._pos)
            if sep < 0:
                break
            start = self._pos
            self._pos = sep + 1
            offset = self._base + start
            if not self._emit(out, self._record_text(bytes(buf[start:sep]), offset, out), offset):
                return
        if final and not self._dead:
            start = self._pos
            self._pos = len(buf)
            # a trailing separator leaves an empty last record: a parser error in JS too
            self._emit(
                out, self._record_text(bytes(buf[start:]), self._base + start, out), self._base + start
            )
        self._compact()

    # -- v3 text: <utf16 length>:<packet> (EIO v3 'Payload') --------------------------------------------
    def _boundary(self, end: int | None, final: bool) -> str:
        """Is `end` a plausible record end? 'ok', 'more' (need more data) or 'bad'."""
        s = self._text
        if end is None:
            return "bad" if final else "more"
        if end < 0 or end > len(s):
            return "bad" if end < 0 or final else "more"
        if end == len(s):
            return "ok" if final else "more"
        if _V3_HEADER.match(s, end):
            return "ok"
        if not final and _V3_HEADER_PREFIX.match(s, end):
            return "more"
        return "bad"

    def _run_v3(self, final: bool, out: list[PayloadEvent]) -> None:
        pos = 0
        s = self._text
        while not self._dead and pos < len(s):
            offset = self._text_base + pos
            m = _V3_HEADER.match(s, pos)
            if m is None:
                if not final and _V3_HEADER_PREFIX.match(s, pos):
                    break
                shown = s[pos].encode("unicode_escape").decode("ascii")
                msg = f"expected '<length>:' but found {shown!r}; rest of the payload not decoded"
                self._die(out, codes.BAD_LENGTH_PREFIX, msg, offset)
                return
            n, start = int(m.group(1)), m.end()
            chosen: tuple[str, int] | None = None
            wait = False
            # the spec's count first; then the miscounts seen in non-JS servers, to resynchronise
            for label, measure in _V3_LENGTH_UNITS:
                end = measure(s, start, n)
                verdict = self._boundary(end, final)
                if verdict == "more":
                    wait = True
                    break
                if verdict == "ok" and end is not None:
                    chosen = (label, end)
                    break
            if wait:
                break
            if chosen is None:
                msg = f"length prefix {n} does not match the record (in UTF-16 code units or otherwise)"
                self._die(out, codes.BAD_LENGTH_PREFIX, msg, offset)
                return
            label, end = chosen
            if label != "UTF-16 code units":
                msg = f"length prefix {n} counts {label}, not UTF-16 code units"
                out.append(ParserAnomaly(codes.BAD_LENGTH_PREFIX, msg, offset))
            pos = end
            if end > start and not self._emit(out, self._clean(s[start:end], offset, out), offset):
                return
        if not self._dead:
            self._text = s[pos:]
            self._text_base += pos

    # -- v3 XHR2 binary: kind, digit bytes, 0xff, packet (EIO v3 'Payload') -----------------------------
    def _run_xhr2(self, final: bool, out: list[PayloadEvent]) -> None:
        buf = self._buf
        while not self._dead and self._pos < len(buf):
            pos = self._pos
            offset = self._base + pos
            kind = buf[pos]
            if kind > 1:
                msg = f"XHR2 record kind byte 0x{kind:02x} (not 00 string / 01 binary); rest not decoded"
                self._die(out, codes.BAD_XHR2_RECORD, msg, offset)
                return
            ff = buf.find(b"\xff", pos + 1, pos + 2 + _MAX_XHR2_DIGITS)
            digits = bytes(buf[pos + 1 : ff if ff >= 0 else pos + 2 + _MAX_XHR2_DIGITS])
            if digits.translate(None, _NOT_DIGIT_BYTES) != digits:
                msg = "XHR2 length digit above 9; rest not decoded"
                self._die(out, codes.BAD_XHR2_RECORD, msg, offset)
                return
            if ff < 0:
                if not final and len(buf) - pos - 1 <= _MAX_XHR2_DIGITS:
                    break
                self._die(out, codes.BAD_XHR2_RECORD, "XHR2 length without 0xff terminator", offset)
                return
            if not digits:
                self._die(out, codes.BAD_XHR2_RECORD, "XHR2 record with no length digits", offset)
                return
            n = int(digits.translate(_DIGIT_BYTES_TO_ASCII))
            start = ff + 1
            if len(buf) < start + n:
                if not final:
                    break
                msg = f"XHR2 record declares {n} bytes, {len(buf) - start} left"
                self._die(out, codes.BAD_XHR2_RECORD, msg, offset)
                return
            self._pos = start + n
            if kind == 0:
                # a string record holds the UTF-8 bytes of "<type><data>"; its length counts bytes
                text = self._record_text(bytes(buf[start : start + n]), offset, out)
                if not self._emit(out, text, offset):
                    return
                continue
            if n == 0 or buf[start] > 6:
                what = "no type byte" if n == 0 else f"type byte 0x{buf[start]:02x}"
                out.append(ParserAnomaly(codes.BAD_PACKET_TYPE, f"XHR2 binary record with {what}", offset))
                continue
            packet = EioPacket(PACKET_TYPES[buf[start]], bytes(buf[start + 1 : start + n]))
            if not self._emit(out, packet, offset):
                return
        self._compact()

    # -- JSONP (EIO v3 'Transports'; engine.io polling-jsonp) -------------------------------------------
    def _run_jsonp(self, out: list[PayloadEvent]) -> None:
        raw = bytes(self._buf)
        inner: str | None = None
        if self.mode == "form":
            # the client posts d=<payload>, with newlines escaped as \n (engine.io polling-jsonp)
            try:
                form = parse_qs(raw.decode("ascii", "replace"), keep_blank_values=True, max_num_fields=16)
            except ValueError:
                form = {}
            values = form.get("d")
            if values:
                # escaped newlines arrive as \\n and newlines as \n (engine.io polling-jsonp onData)
                inner = _FORM_NEWLINE.sub(lambda m: m.group(0) if m.group(1) else "\n", values[0])
                inner = inner.replace("\\\\n", "\\n")
        else:
            m = _JSONP_RESPONSE.match(self._record_text(raw, self._base, out))
            if m is not None:
                literal = m.group(2).strip()
                try:
                    value = json.loads(literal)
                    inner = value if isinstance(value, str) else None
                except (ValueError, RecursionError):
                    if len(literal) >= 2 and literal[0] == literal[-1] and literal[0] in "\"'":
                        inner = _js_unescape(literal[1:-1])
        if inner is None:
            what = "form POST without d=" if self.mode == "form" else 'not ___eio[j]("...");'
            self._die(out, codes.BAD_JSONP, f"JSONP body {what}", self._base)
            return
        sub = PollingPayloadDecoder(
            self.version, "text/plain", max_packets=self.max_packets - self._count, max_body=self.max_body
        )
        events = sub.feed(inner.encode("utf-8", "surrogatepass")) + sub.eof()
        out.extend(events)
        self._count += sum(1 for e in events if isinstance(e, EioPacket))


def decode_polling_payload(
    body: bytes,
    version: int,
    content_type: str | None = None,
    *,
    max_packets: int = DEFAULT_MAX_PACKETS,
) -> tuple[list[EioPacket], list[ParserAnomaly]]:
    """Every packet of a whole polling body (GET response = server to client, POST = client to server)."""
    decoder = PollingPayloadDecoder(
        version, content_type, max_packets=max_packets, max_body=max(len(body), 1)
    )
    events = decoder.feed(body) + decoder.eof()
    packets = [e for e in events if isinstance(e, EioPacket)]
    anomalies = [e for e in events if isinstance(e, ParserAnomaly)]
    return packets, anomalies
