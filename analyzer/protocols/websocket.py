"""WebSocket framing (RFC 6455 §5) and messages for one direction of a connection, sans-IO.

`WsDecoder(sender_is_client)` takes that direction's stream bytes (`feed`), lost
byte counts (`gap`) and the end of the stream (`eof`), and returns events in stream
order: for each frame its anomalies, then the `WsFrame`; when a text or binary
message completes, its anomalies, then the `WsMessage`.

How the stream is read:

- A frame header is only consumed once it is whole (commit/rollback as in wsproto);
  at most one partial header (< 14 bytes) is held between feeds. Payload bytes are
  streamed: each piece is unmasked once (big-integer XOR, C speed), and only as far
  as the frame's kept payload or the message still needs, so a frame is never
  re-buffered and its size does not bound memory (`keep_payload_bytes`,
  `max_message_bytes` and `max_inflate_bytes` do).
- Events never depend on how the stream was split into feeds (property-tested).
- Every complete message is emitted, rule-breaking ones included (RSV1 without an
  extension: payload as on the wire; data after Close; invalid UTF-8 with text None).
- Interleaving (§5.4): a new text/binary frame while a fragmented message is open
  raises ws.interleaved-message. If the new frame is a whole message (FIN = 1) it is
  emitted and the open message stays open, so a sender that slips a complete
  message between two fragments of another is still decoded; if the new frame
  starts a fragmented message itself (or both are compressed, sharing one inflater)
  the open message is abandoned: it is never emitted (its frames are), and later
  continuations belong to the new message. Incomplete messages are never emitted:
  abandoned, cut by a gap, or open at the end of the stream.
- Lost bytes (`gap`, ws.stream-gap): inside a frame's payload the frame still ends
  where its header said (payload kept up to the gap, `payload_truncated`), its
  message is dropped, and decoding goes on at the next header without guessing.
  Anywhere else the decoder resynchronises: it skips to the first offset where a
  plausible header starts (known opcode, RSV bits only as negotiated, FIN on
  control frames, MASK as the sender must set it, minimal length no larger than
  the message bound, not an empty continuation, which zero padding imitates) and,
  for frames up to RESYNC_WINDOW bytes, waits for the header after it to be
  plausible too; ws.resync reports the skipped bytes. Frames of a message whose
  start was lost are listed but raise no ws.orphan-continuation. A 64-bit length
  with the top bit set cannot be followed either: ws.non-minimal-length, then
  resynchronisation. `resync=True` starts that way (capture began mid-stream).

Anomaly offsets: the frame's first byte for frame rules, the message's first byte
for message rules (ws.invalid-utf8, ws.inflate-failed, ws.message-too-big).
"""

from __future__ import annotations

import codecs
import functools
import re
import struct
from dataclasses import dataclass
from enum import IntEnum

from analyzer.model.codes import websocket as codes
from analyzer.model.common import ParserAnomaly
from analyzer.protocols.deflate import DeflateParams, Inflater

__all__ = [
    "RESYNC_WINDOW",
    "Opcode",
    "WsDecoder",
    "WsEvent",
    "WsFrame",
    "WsMessage",
    "is_valid_close_code",
    "parse_close",
    "unmask",
]


class Opcode(IntEnum):
    """RFC 6455 §5.2 / §11.8; 3-7 and 11-15 are reserved."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


_KNOWN_OPCODES = frozenset(int(op) for op in Opcode)
_LENGTH_FORMS = ("7-bit", "16-bit", "64-bit")
_U16 = struct.Struct("!H")
_U64 = struct.Struct("!Q")
# Control frames carry at most 125 bytes (§5.5); the kept payload never goes below that
# so Close bodies can always be parsed.
_MIN_KEEP = 125
# Resync: a candidate frame up to this size is confirmed by the header that follows it.
RESYNC_WINDOW = 1 << 16


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
    code = _U16.unpack_from(payload)[0]
    issues: list[tuple[str, str]] = []
    if not is_valid_close_code(code):
        issues.append((codes.INVALID_CLOSE_CODE, f"close code {code} may not be sent"))
    reason = _utf8(payload[2:], cut)
    if reason is None:
        # §5.5.1, §8.1: the reason is UTF-8. Flagged, and kept as text all the same, with
        # U+FFFD for the bytes that do not decode (what tshark shows); the bytes are in the payload.
        issues.append((codes.INVALID_UTF8, "close reason is not valid UTF-8"))
        reason = codecs.getincrementaldecoder("utf-8")("replace").decode(payload[2:], final=not cut)
    return code, reason, issues


def _utf8(data: bytes, cut: bool) -> str | None:
    """Strict UTF-8 (RFC 3629 via Python's codec); a cut buffer may end inside a character."""
    try:
        if cut:
            return codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


class _Msg:
    """A text/binary message being assembled."""

    __slots__ = ("chunks", "compressed", "damaged", "kept", "length", "nframes", "opcode", "start")

    def __init__(self, start: int, opcode: int, compressed: bool) -> None:
        self.start = start
        self.opcode = opcode
        self.compressed = compressed
        self.nframes = 0
        self.chunks: list[bytes] = []
        self.kept = 0
        self.length = 0
        self.damaged = False  # lost bytes: dropped silently when it ends


_HEADER, _PAYLOAD, _RESYNC, _DONE = range(4)
_REJECT, _ACCEPT, _WAIT = range(3)


@functools.lru_cache(maxsize=16)
def _plausible(client: bool, allowed_rsv: int, deflate: bool) -> tuple[frozenset[int], re.Pattern[bytes]]:
    """First bytes a sane header can start with, and a regex matching the first two bytes of one.

    `search(buf, i)` finds the next candidate at or after i (no lookahead: a plain
    two-byte pattern lets `re` skip on its first-byte set at C speed).
    """
    first: set[int] = set()
    for b0 in range(256):
        op, rsv, fin = b0 & 0x0F, b0 & 0x70, b0 & 0x80
        if op not in _KNOWN_OPCODES or rsv & ~allowed_rsv:
            continue
        if op >= 8 and not fin:  # §5.5: control frames are not fragmented
            continue
        if deflate and rsv & 0x40 and op not in (1, 2):  # RFC 7692 §6.1
            continue
        first.add(b0)
    mask = 0x80 if client else 0x00  # §5.1

    def cls(values: list[int]) -> bytes:
        return b"[" + b"".join(re.escape(bytes([v])) for v in values) + b"]"

    cont_first = sorted(b for b in first if b & 0x0F == 0)
    data_first = sorted(b for b in first if 0 < b & 0x0F < 8)
    ctrl_first = sorted(b for b in first if b & 0x0F >= 8)
    any_second = list(range(mask, mask + 128))
    cont_second = any_second[1:]  # no empty continuations (see _header_at): zero runs are common
    ctrl_second = any_second[:126]  # §5.5: control payload <= 125
    pattern = (
        b"(?:"
        + cls(cont_first)
        + cls(cont_second)
        + b"|"
        + cls(data_first)
        + cls(any_second)
        + b"|"
        + cls(ctrl_first)
        + cls(ctrl_second)
        + b")"
    )
    return frozenset(first), re.compile(pattern, re.DOTALL)


class WsDecoder:
    """Frames and messages of one direction; see the module docstring."""

    __slots__ = (
        "_after_gap",
        "_allowed_rsv",
        "_cand",
        "_client",
        "_close_sent",
        "_deflate",
        "_f_anoms",
        "_f_b0",
        "_f_done",
        "_f_end",
        "_f_form",
        "_f_keep",
        "_f_kept",
        "_f_left",
        "_f_len",
        "_f_lost",
        "_f_mask",
        "_f_msg",
        "_f_start",
        "_first_ok",
        "_inflater",
        "_keep",
        "_max_msg",
        "_mbit",
        "_open",
        "_pending",
        "_phase",
        "_pos",
        "_rbuf",
        "_sane",
        "_skipped",
    )

    def __init__(
        self,
        sender_is_client: bool,
        deflate: DeflateParams | None = None,
        *,
        extensions_negotiated: bool = False,
        resync: bool = False,
        keep_payload_bytes: int = 1 << 20,
        max_message_bytes: int = 16 << 20,
        max_inflate_bytes: int = 16 << 20,
    ) -> None:
        self._client = sender_is_client
        self._mbit = 0x80 if sender_is_client else 0  # §5.1: the MASK bit this sender must set
        self._deflate = deflate
        # RFC 6455 §5.2: RSV bits only as an extension defines them. permessage-deflate
        # defines RSV1 (RFC 7692 §6); an unknown extension may define any of them.
        if deflate is not None:
            self._allowed_rsv = 0x40
        elif extensions_negotiated:
            self._allowed_rsv = 0x70
        else:
            self._allowed_rsv = 0
        self._keep = max(keep_payload_bytes, _MIN_KEEP)
        self._max_msg = max(max_message_bytes, 0)
        self._sane = max(self._max_msg, self._keep)
        self._inflater = (
            Inflater(
                deflate.no_context_takeover(sender_is_client),
                max_output=max_inflate_bytes,
                max_keep=max_message_bytes,
            )
            if deflate is not None
            else None
        )
        self._first_ok, self._cand = _plausible(sender_is_client, self._allowed_rsv, deflate is not None)
        self._pos = 0  # stream offset of the first byte not consumed (start of _pending / _rbuf)
        self._pending = b""  # a partial frame header
        self._phase = _RESYNC if resync else _HEADER
        self._rbuf = bytearray()  # resync: bytes not judged yet
        self._skipped = 0
        self._open: _Msg | None = None
        self._after_gap = resync
        self._close_sent = False
        self._clear_frame()

    def _clear_frame(self) -> None:
        self._f_start = 0
        self._f_end = 0
        self._f_b0 = 0
        self._f_mask: bytes | None = None
        self._f_len = 0
        self._f_form = 0
        self._f_left = 0
        self._f_done = 0
        self._f_keep: list[bytes] = []
        self._f_kept = 0
        self._f_lost = False
        self._f_anoms: list[ParserAnomaly] = []
        self._f_msg: _Msg | None = None

    # --- public API -------------------------------------------------------------------------------

    def feed(self, data: bytes) -> list[WsEvent]:
        """The next bytes of this direction's stream."""
        out: list[WsEvent] = []
        phase = self._phase
        if phase == _DONE or not data:
            return out
        if not isinstance(data, bytes):
            data = bytes(data)
        if phase == _PAYLOAD:
            n = len(data)
            if n < self._f_left:
                # The usual segment of a big frame: all of it payload, nothing ends here.
                msg = self._f_msg
                f_kept = self._f_kept + n
                if (
                    msg is not None
                    and not msg.compressed
                    and not msg.damaged
                    and not self._f_lost
                    and f_kept <= self._keep
                    and msg.kept + n <= self._max_msg
                ):
                    # What _payload does when the frame and its message keep all of it.
                    done = self._f_done
                    mask = self._f_mask
                    chunk = data if mask is None else unmask(data, mask, done)  # §5.3
                    self._f_left -= n
                    self._f_done = done + n
                    self._f_keep.append(chunk)
                    self._f_kept = f_kept
                    msg.length += n
                    msg.chunks.append(chunk)
                    msg.kept += n
                else:
                    self._payload(data, 0, n)
                self._pos += n
                return out
        self._process(data, out, final=False)
        return out

    def gap(self, length: int) -> list[WsEvent]:
        """`length` bytes of the stream were lost (never captured)."""
        out: list[WsEvent] = []
        if self._phase == _DONE or length <= 0:
            return out
        where = self._pos + len(self._pending) + len(self._rbuf)
        if self._phase == _PAYLOAD:
            out.append(
                ParserAnomaly(
                    codes.STREAM_GAP,
                    f"{length} bytes lost inside the payload of the frame at offset {self._f_start}"
                    + ("; its message is dropped" if self._f_msg is not None else ""),
                    where,
                )
            )
            self._f_lost = True
            if self._f_msg is not None:
                self._damage(self._f_msg)
            left = self._f_left
            if length <= left:
                # The frame's end is known, so decoding goes on there without resync.
                self._f_left -= length
                self._f_done += length
                self._pos += length
                if self._f_left == 0:
                    self._end_frame(out)
                return out
            self._pos += left
            self._f_left = 0
            self._end_frame(out)
            length -= left
        else:
            out.append(ParserAnomaly(codes.STREAM_GAP, f"{length} bytes lost between frames", where))
            # A partial header or unjudged bytes before the gap cannot be completed.
            dropped = len(self._pending) + len(self._rbuf)
            self._skipped += dropped
            self._pos += dropped
            self._pending = b""
            self._rbuf = bytearray()
        self._pos += length
        if self._open is not None:
            self._damage(self._open)
        self._after_gap = True
        self._phase = _RESYNC
        return out

    def eof(self) -> list[WsEvent]:
        """The stream ended (FIN, RST or end of capture)."""
        out: list[WsEvent] = []
        if self._phase == _DONE:
            return out
        if self._phase == _RESYNC:
            self._process(b"", out, final=True)
        if self._phase == _PAYLOAD:
            out.append(
                ParserAnomaly(
                    codes.TRUNCATED_FRAME,
                    f"stream ends {self._f_left} bytes before the end of a frame "
                    f"(opcode {self._f_b0 & 0x0F}, payload length {self._f_len})",
                    self._f_start,
                )
            )
        elif self._pending:
            out.append(
                ParserAnomaly(
                    codes.TRUNCATED_FRAME,
                    f"stream ends inside a frame header ({len(self._pending)} bytes)",
                    self._pos,
                )
            )
        if self._open is not None and not self._open.damaged:
            out.append(
                ParserAnomaly(
                    codes.UNFINISHED_MESSAGE,
                    f"stream ends with a fragmented message open ({self._open.nframes} frames)",
                    self._open.start,
                )
            )
        self._phase = _DONE
        self._pending = b""
        self._rbuf = bytearray()
        self._open = None
        self._clear_frame()
        return out

    # --- driving ----------------------------------------------------------------------------------

    def _process(self, data: bytes, out: list[WsEvent], final: bool) -> None:
        rest: bytes | None = data
        while rest is not None:
            if self._phase == _RESYNC:
                rest = self._resync(rest, out, final)
                if rest is None:
                    return
            rest = self._decode(rest, out)

    def _decode(self, data: bytes, out: list[WsEvent]) -> bytes | None:
        """Frames from `data`; returns the bytes left over if the decoder switched to resync."""
        if self._pending:
            data = self._pending + data
            self._pending = b""
        base = self._pos
        n = len(data)
        pos = 0
        mbit = self._mbit
        while True:
            if self._phase == _PAYLOAD:
                left = self._f_left
                if left:
                    take = n - pos
                    if take <= 0:
                        break
                    if take > left:
                        take = left
                    self._payload(data, pos, take)
                    pos += take
                    self._pos = base + pos
                    if self._f_left:
                        break
                self._end_frame(out)
                continue
            # --- a header: §5.2, only consumed once whole ---
            avail = n - pos
            if avail < 2:
                break
            b0 = data[pos]
            b1 = data[pos + 1]
            len7 = b1 & 0x7F
            hlen = 2 if len7 < 126 else (4 if len7 == 126 else 10)
            if b1 & 0x80:
                hlen += 4
            if avail < hlen:
                break
            if len7 < 126:
                plen, form, minimal = len7, 0, True
            elif len7 == 126:
                plen = _U16.unpack_from(data, pos + 2)[0]
                form, minimal = 1, plen >= 126
            else:
                plen = _U64.unpack_from(data, pos + 2)[0]
                form, minimal = 2, plen >= 0x10000
                if plen >> 63:
                    # §5.2: "the most significant bit MUST be 0". No frame can be followed
                    # past such a length, so look for the next plausible header instead.
                    out.append(
                        ParserAnomaly(
                            codes.NON_MINIMAL_LENGTH,
                            "64-bit payload length with the top bit set; resynchronising",
                            base + pos,
                        )
                    )
                    self._pos = base + pos + 1
                    self._skipped += 1
                    self._enter_resync()
                    return data[pos + 1 :]
            mask_key = data[pos + hlen - 4 : pos + hlen] if b1 & 0x80 else None
            end = pos + hlen + plen
            if end <= n and (b1 & 0x80) == mbit and minimal and b0 & 0x80:
                # Fast path: a whole unfragmented frame masked as its sender must (§5.1, §5.2),
                # with RSV1 only for permessage-deflate, that breaks no rule and needs no
                # state: emitted at once.
                op = b0 & 0x0F
                rsv = b0 & 0x70
                if (
                    (op == 1 or op == 2)
                    and (not rsv or (rsv == 0x40 and self._inflater is not None))
                    and self._open is None
                    and not self._close_sent
                    and plen <= self._keep
                    and (rsv or plen <= self._max_msg)
                ):
                    self._whole_message(data, base, pos, hlen, end, op, mask_key, form, rsv != 0, out)
                    pos = end
                    continue
                if (op == 9 or op == 10) and not rsv and plen <= 125:  # §5.5.2, §5.5.3
                    payload = (
                        data[pos + hlen : end]
                        if mask_key is None
                        else unmask(data[pos + hlen : end], mask_key)
                    )
                    out.append(
                        WsFrame(
                            base + pos,
                            base + end,
                            True,
                            False,
                            False,
                            False,
                            op,
                            mask_key is not None,
                            mask_key,
                            plen,
                            "7-bit",
                            payload,
                            False,
                            None,
                            None,
                        )
                    )
                    pos = end
                    continue
            self._begin_frame(base + pos, b0, mask_key, plen, form, hlen, minimal)
            pos += hlen
            self._pos = base + pos
        self._pos = base + pos
        if pos < n:
            self._pending = data[pos:]
        return None

    def _whole_message(
        self,
        data: bytes,
        base: int,
        pos: int,
        hlen: int,
        end: int,
        op: int,
        mask_key: bytes | None,
        form: int,
        compressed: bool,
        out: list[WsEvent],
    ) -> None:
        """A whole text/binary message in one frame at data[pos:end] (what _begin_frame, _payload,
        _end_frame and _finish_message make of it when no rule is broken and nothing is cut)."""
        self._after_gap = False
        start = base + pos
        plen = end - pos - hlen
        if mask_key is None:
            payload = data[pos + hlen : end]
        elif plen < 4096:
            payload = unmask(data[pos + hlen : end], mask_key)  # §5.3
        else:
            payload = unmask(memoryview(data)[pos + hlen : end], mask_key)
        out.append(
            WsFrame(
                start,
                base + end,
                True,
                compressed,
                False,
                False,
                op,
                mask_key is not None,
                mask_key,
                plen,
                _LENGTH_FORMS[form],
                payload,
                False,
                None,
                None,
            )
        )
        if compressed:
            # RFC 7692 §6.1: RSV1 on the first frame marks a compressed message.
            assert self._inflater is not None
            self._inflater.feed(payload)
            msg = _Msg(start, op, True)
            msg.nframes = 1
            self._finish_message(msg, base + end, out)
            return
        text: str | None = None
        if op == 1:
            # §5.6, §8.1: a text message is UTF-8.
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError:
                out.append(ParserAnomaly(codes.INVALID_UTF8, "text message is not valid UTF-8", start))
        out.append(WsMessage(start, base + end, op, False, 1, payload, plen, False, text))

    def _enter_resync(self) -> None:
        if self._open is not None:
            self._damage(self._open)
        self._after_gap = True
        self._phase = _RESYNC

    # --- frames -----------------------------------------------------------------------------------

    def _begin_frame(
        self, start: int, b0: int, mask_key: bytes | None, plen: int, form: int, hlen: int, minimal: bool
    ) -> None:
        self._f_start = start
        self._f_end = start + hlen + plen
        self._f_b0 = b0
        self._f_mask = mask_key
        self._f_len = plen
        self._f_form = form
        self._f_left = plen
        self._f_done = 0
        self._f_keep = []
        self._f_kept = 0
        self._f_lost = False
        self._phase = _PAYLOAD
        anoms: list[ParserAnomaly] = []
        self._f_anoms = anoms
        fin = b0 & 0x80
        op = b0 & 0x0F
        rsv = b0 & 0x70
        control = op >= 8
        # §5.1: the client masks every frame, the server none.
        if self._client and mask_key is None:
            anoms.append(ParserAnomaly(codes.CLIENT_FRAME_UNMASKED, "client frame without MASK", start))
        elif not self._client and mask_key is not None:
            anoms.append(ParserAnomaly(codes.SERVER_FRAME_MASKED, "server frame with MASK", start))
        if not minimal:
            # §5.2: "the minimal number of bytes MUST be used to encode the length".
            anoms.append(
                ParserAnomaly(
                    codes.NON_MINIMAL_LENGTH,
                    f"payload length {plen} sent in the {_LENGTH_FORMS[form]} form",
                    start,
                )
            )
        if op not in _KNOWN_OPCODES:
            # §5.2: opcodes 3-7 and 11-15 are reserved.
            anoms.append(ParserAnomaly(codes.RESERVED_OPCODE, f"reserved opcode {op}", start))
        if control:
            # §5.5: control frames have at most 125 bytes of payload and are not fragmented.
            if plen > 125:
                anoms.append(
                    ParserAnomaly(codes.CONTROL_FRAME_TOO_LONG, f"control frame of {plen} bytes", start)
                )
            if not fin:
                anoms.append(
                    ParserAnomaly(codes.CONTROL_FRAME_FRAGMENTED, "control frame with FIN = 0", start)
                )
        compressed = False
        if rsv:
            bad = rsv & ~self._allowed_rsv
            if bad:
                # RFC 6455 §5.2 (and RFC 7692 §6: permessage-deflate defines RSV1 only).
                names = "/".join(
                    n for bit, n in ((0x40, "RSV1"), (0x20, "RSV2"), (0x10, "RSV3")) if bad & bit
                )
                anoms.append(
                    ParserAnomaly(
                        codes.RSV_WITHOUT_EXTENSION, f"{names} set with no extension defining it", start
                    )
                )
            if rsv & 0x40 and self._deflate is not None:
                # RFC 7692 §6.1: RSV1 marks the first frame of a compressed message only.
                if op == 0:
                    anoms.append(
                        ParserAnomaly(codes.RSV1_ON_CONTINUATION, "RSV1 on a continuation frame", start)
                    )
                elif control:
                    anoms.append(ParserAnomaly(codes.RSV1_ON_CONTROL, "RSV1 on a control frame", start))
                elif op in (1, 2):
                    compressed = True
        # --- which message the payload belongs to (§5.4) ---
        msg: _Msg | None = None
        if op in (1, 2):
            if self._close_sent:
                anoms.append(
                    ParserAnomaly(codes.DATA_AFTER_CLOSE, "data frame after this side's Close", start)
                )
            self._after_gap = False
            cur = self._open
            if cur is not None:
                if cur.damaged:
                    self._drop(cur)
                    self._open = None
                else:
                    abandon = not fin or (cur.compressed and compressed)
                    anoms.append(
                        ParserAnomaly(
                            codes.INTERLEAVED_MESSAGE,
                            f"new message while the fragmented message at offset {cur.start} is open"
                            + ("; that message is abandoned" if abandon else ""),
                            start,
                        )
                    )
                    if abandon:
                        self._drop(cur)
                        self._open = None
            msg = _Msg(start, op, compressed)
            if not fin:
                self._open = msg
        elif op == 0:
            if self._close_sent:
                anoms.append(
                    ParserAnomaly(codes.DATA_AFTER_CLOSE, "data frame after this side's Close", start)
                )
            msg = self._open
            if msg is None:
                # After lost bytes, continuations of the message whose start was lost are expected.
                if not self._after_gap:
                    anoms.append(
                        ParserAnomaly(
                            codes.ORPHAN_CONTINUATION, "continuation frame with no message open", start
                        )
                    )
                elif fin:
                    self._after_gap = False
        if msg is not None:
            msg.nframes += 1
        self._f_msg = msg

    def _payload(self, data: bytes, pos: int, take: int) -> None:
        """`take` payload bytes at data[pos:]: unmask only as many as the frame or message keeps."""
        done = self._f_done
        self._f_left -= take
        self._f_done = done + take
        frame_room = 0 if self._f_lost else self._keep - self._f_kept
        msg = self._f_msg
        if msg is not None and msg.damaged:
            msg = None
        if msg is None:
            need = frame_room
        elif msg.compressed:
            need = take
        else:
            msg.length += take
            need = max(frame_room, self._max_msg - msg.kept)
        if need <= 0:
            return
        if need > take:
            need = take
        mask = self._f_mask
        if need == len(data):
            chunk = data if mask is None else unmask(data, mask, done)  # §5.3
        elif mask is None:
            chunk = data[pos : pos + need]
        else:
            chunk = unmask(memoryview(data)[pos : pos + need], mask, done)
        if frame_room > 0:
            piece = chunk if need <= frame_room else chunk[:frame_room]
            self._f_keep.append(piece)
            self._f_kept += len(piece)
        if msg is None:
            return
        if msg.compressed:
            if self._inflater is not None:
                self._inflater.feed(chunk)
            return
        room = self._max_msg - msg.kept
        if room > 0:
            piece = chunk if need <= room else chunk[:room]
            msg.chunks.append(piece)
            msg.kept += len(piece)

    def _end_frame(self, out: list[WsEvent]) -> None:
        b0 = self._f_b0
        op = b0 & 0x0F
        fin = bool(b0 & 0x80)
        keep = self._f_keep
        payload = keep[0] if len(keep) == 1 else b"".join(keep)
        truncated = self._f_lost or len(payload) < self._f_len
        code: int | None = None
        reason: str | None = None
        anoms = self._f_anoms
        if op == 8:  # Opcode.CLOSE (an int compare: Enum attribute lookups are slow)
            if not self._f_lost:
                code, reason, issues = parse_close(payload, cut=truncated)
                anoms.extend(ParserAnomaly(c, m, self._f_start) for c, m in issues)
            self._close_sent = True
        out.extend(anoms)
        out.append(
            WsFrame(
                self._f_start,
                self._f_end,
                fin,
                bool(b0 & 0x40),
                bool(b0 & 0x20),
                bool(b0 & 0x10),
                op,
                self._f_mask is not None,
                self._f_mask,
                self._f_len,
                _LENGTH_FORMS[self._f_form],
                payload,
                truncated,
                code,
                reason,
            )
        )
        msg = self._f_msg
        end = self._f_end
        self._phase = _HEADER  # the next _begin_frame overwrites the frame fields
        if msg is not None and fin:
            if msg is self._open:
                self._open = None
            if msg.damaged:
                self._drop(msg)
            else:
                if (
                    msg.nframes == 1
                    and not msg.compressed
                    and len(msg.chunks) > 1
                    and msg.kept == len(payload)
                ):
                    # Both lists hold the same prefix of this one frame's payload: join it once.
                    msg.chunks = [payload]
                self._finish_message(msg, end, out)

    # --- messages ---------------------------------------------------------------------------------

    def _damage(self, msg: _Msg) -> None:
        if not msg.damaged:
            msg.damaged = True
            msg.chunks = []
            if msg.compressed and self._inflater is not None:
                self._inflater.reset()

    def _drop(self, msg: _Msg) -> None:
        """Forget an incomplete message (its frames were emitted)."""
        msg.chunks = []
        if msg.compressed and not msg.damaged and self._inflater is not None:
            self._inflater.reset()
        msg.damaged = True

    def _finish_message(self, msg: _Msg, end: int, out: list[WsEvent]) -> None:
        failed = False
        if msg.compressed and self._inflater is not None:
            result = self._inflater.finish()
            data, length, truncated = result.data, result.length, result.truncated
            if result.error is not None:
                failed = True
                # RFC 7692 §7.2.2 (H5).
                out.append(ParserAnomaly(codes.INFLATE_FAILED, result.error, msg.start))
            elif truncated:
                out.append(
                    ParserAnomaly(
                        codes.MESSAGE_TOO_BIG,
                        f"message of {length} bytes inflated; {len(data)} kept",
                        msg.start,
                    )
                )
        else:
            chunks = msg.chunks
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            length = msg.length
            truncated = length > len(data)
            if truncated:
                out.append(
                    ParserAnomaly(
                        codes.MESSAGE_TOO_BIG, f"message of {length} bytes; {len(data)} kept", msg.start
                    )
                )
        text: str | None = None
        if msg.opcode == 1 and not (msg.compressed and failed):  # Opcode.TEXT
            # §5.6, §8.1: text is UTF-8 once reassembled (and inflated); a cut message is
            # checked up to the cut; one that did not inflate has no text to check.
            text = _utf8(data, truncated)
            if text is None:
                out.append(ParserAnomaly(codes.INVALID_UTF8, "text message is not valid UTF-8", msg.start))
        out.append(
            WsMessage(msg.start, end, msg.opcode, msg.compressed, msg.nframes, data, length, truncated, text)
        )

    # --- resynchronisation ------------------------------------------------------------------------

    def _header_at(self, buf: bytearray, j: int) -> tuple[int, int] | int:
        """(header length, payload length) of a plausible header at j, or _REJECT / _WAIT."""
        n = len(buf)
        if n - j < 2:
            return _WAIT
        b0 = buf[j]
        b1 = buf[j + 1]
        if b0 not in self._first_ok or bool(b1 & 0x80) != self._client:
            return _REJECT
        len7 = b1 & 0x7F
        if b0 & 0x0F >= 8 and len7 > 125:
            return _REJECT
        hlen = 2 if len7 < 126 else (4 if len7 == 126 else 10)
        if b1 & 0x80:
            hlen += 4
        if n - j < hlen:
            return _WAIT
        if len7 < 126:
            plen = len7
        elif len7 == 126:
            plen = _U16.unpack_from(buf, j + 2)[0]
            if plen < 126:
                return _REJECT
        else:
            plen = _U64.unpack_from(buf, j + 2)[0]
            if plen < 0x10000:
                return _REJECT
        if plen > self._sane:
            return _REJECT
        if plen == 0 and b0 & 0x0F == 0:
            # Empty continuations are legal but rare, and runs of zero bytes look just like them.
            return _REJECT
        return hlen, plen

    def _judge(self, buf: bytearray, j: int, final: bool) -> int:
        head = self._header_at(buf, j)
        if isinstance(head, int):
            return _REJECT if final else head
        hlen, plen = head
        if hlen + plen > RESYNC_WINDOW:
            return _ACCEPT  # too long to wait for its successor: the header alone decides
        nxt = self._header_at(buf, j + hlen + plen)
        if nxt == _REJECT:
            return _REJECT
        if nxt == _WAIT and not final:
            return _WAIT
        return _ACCEPT

    def _resync(self, data: bytes, out: list[WsEvent], final: bool) -> bytes | None:
        """Look for the next frame; returns the bytes from it on, or None while still looking."""
        buf = self._rbuf
        buf += data
        i = 0
        found = -1
        while True:
            m = self._cand.search(buf, i)
            if m is None:
                # Nothing starts in buf[i:] (the last byte may still start a header).
                i = len(buf) if final else max(i, len(buf) - 1)
                break
            j = m.start()
            verdict = self._judge(buf, j, final)
            if verdict == _ACCEPT:
                found = j
                break
            if verdict == _WAIT:
                i = j
                break
            i = j + 1
        if found < 0:
            del buf[:i]
            self._skipped += i
            self._pos += i
            if final:
                if self._skipped:
                    out.append(
                        ParserAnomaly(
                            codes.RESYNC,
                            f"no frame header found; {self._skipped} bytes skipped",
                            self._pos - self._skipped,
                        )
                    )
                self._skipped = 0
                self._rbuf = bytearray()
            return None
        self._skipped += found
        self._pos += found
        if self._skipped:
            out.append(
                ParserAnomaly(
                    codes.RESYNC,
                    f"resynchronised after skipping {self._skipped} bytes",
                    self._pos,
                )
            )
        self._skipped = 0
        rest = bytes(buf[found:])
        self._rbuf = bytearray()
        self._phase = _HEADER
        return rest
