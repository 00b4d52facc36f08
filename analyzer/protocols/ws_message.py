"""WebSocket messages being assembled from frames (RFC 6455 §5.4, §5.6), inflated when
compressed (RFC 7692 §6.2), and finished: the message half of the decoder
(analyzer/protocols/ws_decoder.py), sans-IO.

A stream decoded without its handshake (`--decode-as PORT=websocket`) does not say whether
permessage-deflate was agreed. Data frames with RSV1 are then taken as compressed messages
(tshark reads them so too) and inflated as RFC 7692 §7.2.3 would with context takeover, the
default: that works when no message refers to text sent before the capture began, or when
the peers agreed on no_context_takeover. ws.deflate-assumed says once per direction that
the context is unknown; a message that cannot be inflated is reported once
(ws.inflate-failed), not each time, since every later one may fail for the same reason.
"""

from __future__ import annotations

from analyzer.model.codes import websocket as codes
from analyzer.model.common import ParserAnomaly
from analyzer.protocols.deflate import Inflater
from analyzer.protocols.ws_frame import LENGTH_FORMS, WsEvent, WsFrame, WsMessage, unmask, utf8

__all__ = ["Messages", "Msg"]


class Msg:
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


class Messages:
    """The inflater and message bound of one direction; finishes, damages and drops messages."""

    __slots__ = ("_assumed_noted", "_context_unknown", "_failed_noted", "inflater", "max_msg")

    def __init__(self, inflater: Inflater | None, max_msg: int, context_unknown: bool = False) -> None:
        self.inflater = inflater
        self.max_msg = max_msg
        self._context_unknown = context_unknown  # no handshake: deflate assumed (module docstring)
        self._assumed_noted = False
        self._failed_noted = False

    def damage(self, msg: Msg) -> None:
        if not msg.damaged:
            msg.damaged = True
            msg.chunks = []
            if msg.compressed and self.inflater is not None:
                self.inflater.reset()

    def drop(self, msg: Msg) -> None:
        """Forget an incomplete message (its frames were emitted)."""
        msg.chunks = []
        if msg.compressed and not msg.damaged and self.inflater is not None:
            self.inflater.reset()
        msg.damaged = True

    def _inflated(self, msg: Msg, out: list[WsEvent]) -> tuple[bytes, int, bool, bool]:
        assert self.inflater is not None
        result = self.inflater.finish()
        data, length, truncated = result.data, result.length, result.truncated
        budget = self.inflater.budget
        if result.dropped is not None and budget is not None and budget.first(codes.INFLATE_BUDGET_EXCEEDED):
            # docs/bounds.md: the inflated bytes do not fit the budget; frames and length are kept
            why = (
                f"message of {length} inflated bytes dropped: past the {result.dropped}'s inflate budget "
                f"({budget.describe(result.dropped)}); frames and lengths are kept, later payloads past "
                "it are dropped without another record"
            )
            out.append(ParserAnomaly(codes.INFLATE_BUDGET_EXCEEDED, why, msg.start))
        if self._context_unknown and not self._assumed_noted:
            self._assumed_noted = True
            why = "RSV1 data frames without a handshake: taken as permessage-deflate, context unknown"
            out.append(ParserAnomaly(codes.DEFLATE_ASSUMED, why, msg.start))
        if result.error is not None:
            if not (self._context_unknown and self._failed_noted):
                self._failed_noted = True
                why = result.error
                if self._context_unknown:
                    why += (
                        "; the compression context may have begun before the capture (RFC 7692 "
                        "§7.2.3 context takeover): later failures of this direction are not reported"
                    )
                out.append(ParserAnomaly(codes.INFLATE_FAILED, why, msg.start))  # RFC 7692 §7.2.2 (H5)
            return data, length, truncated, True
        if truncated and result.dropped is None:
            why = f"message of {length} bytes inflated; {len(data)} kept"
            out.append(ParserAnomaly(codes.MESSAGE_TOO_BIG, why, msg.start))
        return data, length, truncated, False

    def finish(self, msg: Msg, end: int, out: list[WsEvent]) -> None:
        failed = False
        if msg.compressed and self.inflater is not None:
            data, length, truncated, failed = self._inflated(msg, out)
        else:
            chunks = msg.chunks
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            length = msg.length
            truncated = length > len(data)
            if truncated:
                why = f"message of {length} bytes; {len(data)} kept"
                out.append(ParserAnomaly(codes.MESSAGE_TOO_BIG, why, msg.start))
        text: str | None = None
        if msg.opcode == 1 and not (msg.compressed and failed):  # Opcode.TEXT
            # §5.6, §8.1: text is UTF-8 once reassembled (and inflated); a cut message is
            # checked up to the cut; one that did not inflate has no text to check.
            text = utf8(data, truncated)
            if text is None:
                out.append(ParserAnomaly(codes.INVALID_UTF8, "text message is not valid UTF-8", msg.start))
        out.append(
            WsMessage(msg.start, end, msg.opcode, msg.compressed, msg.nframes, data, length, truncated, text)
        )

    def whole(
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
        """A whole text/binary message in one frame at data[pos:end]: what the decoder's
        _begin_frame, _payload, _end_frame and `finish` make of it when no rule is broken and
        nothing is cut."""
        start = base + pos
        plen = end - pos - hlen
        if mask_key is None:
            payload = data[pos + hlen : end]
        elif plen < 4096:
            payload = unmask(data[pos + hlen : end], mask_key)  # §5.3
        else:
            payload = unmask(memoryview(data)[pos + hlen : end], mask_key)
        frame = WsFrame(
            start, base + end, True, compressed, False, False, op, mask_key is not None, mask_key, plen,
            LENGTH_FORMS[form], payload, False, None, None,
        )  # fmt: skip
        out.append(frame)
        if compressed:
            # RFC 7692 §6.1: RSV1 on the first frame marks a compressed message.
            assert self.inflater is not None
            self.inflater.feed(payload)
            msg = Msg(start, op, True)
            msg.nframes = 1
            self.finish(msg, base + end, out)
            return
        text: str | None = None
        if op == 1:
            # §5.6, §8.1: a text message is UTF-8.
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError:
                out.append(ParserAnomaly(codes.INVALID_UTF8, "text message is not valid UTF-8", start))
        out.append(WsMessage(start, base + end, op, False, 1, payload, plen, False, text))
