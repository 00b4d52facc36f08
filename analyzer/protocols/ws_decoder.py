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
  where its header said (payload kept up to the gap, `payload_truncated`), its message
  is dropped, and decoding goes on at the next header. Anywhere else the decoder
  resynchronises (analyzer/protocols/ws_resync.py; ws.resync reports the skipped bytes);
  frames of a message whose start was lost raise no ws.orphan-continuation. `resync=True`
  starts that way (capture began mid-stream).

Anomaly offsets: the frame's first byte for frame rules, the message's first byte
for message rules (ws.invalid-utf8, ws.inflate-failed, ws.message-too-big).
"""

from __future__ import annotations

from analyzer.model.codes import websocket as codes
from analyzer.model.common import ParserAnomaly
from analyzer.protocols.deflate import DeflateParams, InflateBudget, Inflater
from analyzer.protocols.ws_frame import (
    LENGTH_FORMS,
    MIN_KEEP,
    U16,
    U64,
    WsEvent,
    WsFrame,
    parse_close,
    unmask,
)
from analyzer.protocols.ws_message import Messages, Msg
from analyzer.protocols.ws_resync import HeaderJudge
from analyzer.protocols.ws_rules import header_rules

__all__ = ["WsDecoder"]


_HEADER, _PAYLOAD, _RESYNC, _DONE = range(4)


class WsDecoder:
    """Frames and messages of one direction; see the module docstring."""

    __slots__ = (
        "_after_gap", "_allowed_rsv", "_client", "_close_sent", "_deflate", "_f_anoms", "_f_b0",
        "_f_done", "_f_end", "_f_form", "_f_keep", "_f_kept", "_f_left", "_f_len", "_f_lost",
        "_f_mask", "_f_msg", "_f_start", "_headers", "_inflater", "_keep", "_max_msg", "_mbit",
        "_msgs", "_open", "_pending", "_phase", "_pos", "_rbuf", "_sane", "_skipped",
    )  # fmt: skip

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
        handshake_unknown: bool = False,
        inflate_budget: InflateBudget | None = None,
    ) -> None:
        """`handshake_unknown`: the stream is decoded without its handshake (`resync` too),
        so the extensions are not known: RSV1 data frames are taken as permessage-deflate with
        an unknown context (analyzer/protocols/ws_message.py)."""
        self._client = sender_is_client
        self._mbit = 0x80 if sender_is_client else 0  # §5.1: the MASK bit this sender must set
        assumed = handshake_unknown and deflate is None and not extensions_negotiated
        if assumed:
            deflate = DeflateParams()  # RFC 7692 §7.1: the defaults, context takeover both ways
        self._deflate = deflate
        # RFC 6455 §5.2: RSV bits only as an extension defines them. permessage-deflate
        # defines RSV1 (RFC 7692 §6); an unknown extension may define any of them.
        if deflate is not None:
            self._allowed_rsv = 0x40
        elif extensions_negotiated:
            self._allowed_rsv = 0x70
        else:
            self._allowed_rsv = 0
        self._keep = max(keep_payload_bytes, MIN_KEEP)
        self._max_msg = max(max_message_bytes, 0)
        self._sane = max(self._max_msg, self._keep)
        no_ctx = deflate is not None and deflate.no_context_takeover(sender_is_client)
        self._inflater = (
            Inflater(no_ctx, max_output=max_inflate_bytes, max_keep=max_message_bytes, budget=inflate_budget)
            if deflate is not None
            else None
        )
        self._msgs = Messages(self._inflater, self._max_msg, assumed)
        self._headers = HeaderJudge(sender_is_client, self._allowed_rsv, deflate is not None, self._sane)
        self._pos = 0  # stream offset of the first byte not consumed (start of _pending / _rbuf)
        self._pending = b""  # a partial frame header
        self._phase = _RESYNC if resync else _HEADER
        self._rbuf = bytearray()  # resync: bytes not judged yet
        self._skipped = 0
        self._open: Msg | None = None
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
        self._f_msg: Msg | None = None

    # --- public API -------------------------------------------------------------------------------

    @property
    def holding(self) -> bool:
        """Bytes held to judge a resync candidate (ws_resync.py): their frames end before what comes next."""
        return self._phase == _RESYNC and bool(self._rbuf)

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
                self._msgs.damage(self._f_msg)
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
            self._msgs.damage(self._open)
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
                plen = U16.unpack_from(data, pos + 2)[0]
                form, minimal = 1, plen >= 126
            else:
                plen = U64.unpack_from(data, pos + 2)[0]
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
            if (
                end <= n
                and (b1 & 0x80) == mbit
                and minimal
                and b0 & 0x80
                and self._whole_frame(data, base, pos, hlen, end, b0, plen, form, mask_key, out)
            ):
                pos = end
                continue
            self._begin_frame(base + pos, b0, mask_key, plen, form, hlen, minimal)
            pos += hlen
            self._pos = base + pos
        self._pos = base + pos
        if pos < n:
            self._pending = data[pos:]
        return None

    def _whole_frame(
        self,
        data: bytes,
        base: int,
        pos: int,
        hlen: int,
        end: int,
        b0: int,
        plen: int,
        form: int,
        mask_key: bytes | None,
        out: list[WsEvent],
    ) -> bool:
        """Fast path: a whole unfragmented frame masked as its sender must (§5.1, §5.2), RSV1 only
        for permessage-deflate, breaking no rule: emitted at once (False: the general path)."""
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
            self._after_gap = False
            self._msgs.whole(data, base, pos, hlen, end, op, mask_key, form, rsv != 0, out)
            return True
        if (op == 9 or op == 10) and not rsv and plen <= 125:  # §5.5.2, §5.5.3
            payload = data[pos + hlen : end] if mask_key is None else unmask(data[pos + hlen : end], mask_key)
            ctrl = WsFrame(
                base + pos, base + end, True, False, False, False, op, mask_key is not None,
                mask_key, plen, "7-bit", payload, False, None, None,
            )  # fmt: skip
            out.append(ctrl)
            return True
        return False

    def _enter_resync(self) -> None:
        if self._open is not None:
            self._msgs.damage(self._open)
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
        anoms, compressed = header_rules(
            start, b0, mask_key is not None, self._client, plen, form, minimal, self._allowed_rsv,
            self._deflate is not None,
        )  # fmt: skip
        self._f_anoms = anoms
        fin = b0 & 0x80
        op = b0 & 0x0F
        # --- which message the payload belongs to (§5.4) ---
        msg: Msg | None = None
        if op in (1, 2):
            if self._close_sent:
                anoms.append(
                    ParserAnomaly(codes.DATA_AFTER_CLOSE, "data frame after this side's Close", start)
                )
            self._after_gap = False
            cur = self._open
            if cur is not None:
                if cur.damaged:
                    self._msgs.drop(cur)
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
                        self._msgs.drop(cur)
                        self._open = None
            msg = Msg(start, op, compressed)
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
        frame = WsFrame(
            self._f_start, self._f_end, fin, bool(b0 & 0x40), bool(b0 & 0x20), bool(b0 & 0x10), op,
            self._f_mask is not None, self._f_mask, self._f_len, LENGTH_FORMS[self._f_form], payload,
            truncated, code, reason,
        )  # fmt: skip
        out.append(frame)
        msg = self._f_msg
        end = self._f_end
        self._phase = _HEADER  # the next _begin_frame overwrites the frame fields
        if msg is not None and fin:
            if msg is self._open:
                self._open = None
            if msg.damaged:
                self._msgs.drop(msg)
            else:
                if (
                    msg.nframes == 1
                    and not msg.compressed
                    and len(msg.chunks) > 1
                    and msg.kept == len(payload)
                ):
                    # Both lists hold the same prefix of this one frame's payload: join it once.
                    msg.chunks = [payload]
                self._msgs.finish(msg, end, out)

    # --- resynchronisation ------------------------------------------------------------------------

    def _resync(self, data: bytes, out: list[WsEvent], final: bool) -> bytes | None:
        """Look for the next frame; returns the bytes from it on, or None while still looking."""
        buf = self._rbuf
        buf += data
        found, i = self._headers.find(buf, final)
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
