"""WebSocket part of a connection record (ANALYSIS_JSON.md `websocket`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analyzer.model.common import Direction
from analyzer.model.facts import WsClose, WsConversationFacts, WsHandshake
from analyzer.model.jsontext import JsonText, boolean, int_list, opt_hex, opt_int, opt_str
from analyzer.model.records import WsMessageRecord
from analyzer.model.spill import RecordList

__all__ = ["WebSocketRecord", "WsFrameRecord"]

LENGTH_FORMS = {"7-bit", "16-bit", "64-bit"}


@dataclass(slots=True)  # not frozen: built per frame/message, where frozen __init__ is 5x slower
class WsFrameRecord(JsonText):
    direction: Direction
    frame: int  # packet with the frame's last byte
    ts: float
    fin: bool
    rsv1: bool
    rsv2: bool
    rsv3: bool
    opcode: int
    masked: bool
    mask_key: bytes | None
    payload_length: int
    length_form: str
    payload: bytes  # unmasked, as on the wire (not inflated), cut at the display bound
    payload_truncated: bool
    close_code: int | None
    close_reason: str | None
    packets: tuple[int, ...]
    offset: int  # stream offset of the frame's first byte in its direction

    @property
    def in_message(self) -> bool:
        return (
            self.opcode in (1, 2)
            and self.fin
            and not (self.rsv1 or self.rsv2 or self.rsv3)
            and not self.payload_truncated
        )

    def to_json(self) -> str:
        """The frame in the analysis document (`websocket.frames[]`): its only serializer."""
        in_message = self.in_message
        return (
            f'{{"direction":"{self.direction.value}","frame":{self.frame},"ts":{float(self.ts)!r},'
            f'"fin":{boolean(self.fin)},"rsv1":{boolean(self.rsv1)},"rsv2":{boolean(self.rsv2)},'
            f'"rsv3":{boolean(self.rsv3)},"opcode":{self.opcode},"masked":{boolean(self.masked)},'
            f'"mask_key":{opt_hex(self.mask_key)},'
            f'"payload_length":{self.payload_length},"length_form":"{self.length_form}",'
            # a data frame that is a whole uncompressed message carries the same bytes as the
            # message: written once, in `messages` (ANALYSIS_JSON.md requires payload_hex for
            # control frames only)
            f'"payload_hex":{"null" if in_message else opt_hex(self.payload)},'
            f'"payload_in_message":{boolean(in_message)},'
            f'"payload_truncated":{boolean(self.payload_truncated)},'
            f'"close_code":{opt_int(self.close_code)},"close_reason":{opt_str(self.close_reason)},'
            f'"packets":{int_list(self.packets)},"stream_offset":{self.offset}}}'
        )


@dataclass(slots=True)
class WebSocketRecord:
    handshake: WsHandshake | None
    frames: RecordList[WsFrameRecord] = field(default_factory=RecordList)
    messages: RecordList[WsMessageRecord] = field(default_factory=RecordList)
    close: WsClose = field(default_factory=lambda: WsClose(c2s=None, s2c=None))
    conversation: WsConversationFacts | None = None  # close handshake, pings (extras)
    url: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    frames_dropped: int = 0  # frames not kept because of Options.keep_frames
    frames_not_listed: int = 0  # frames past Options.max_frame_records (docs/bounds.md)
    # complete messages per direction (not in the document: its `messages` list has them), for
    # summaries of records whose messages went to disk
    message_counts: dict[str, int] = field(default_factory=lambda: {"c2s": 0, "s2c": 0})

    def to_dict(self, *, lists: bool = True) -> dict[str, Any]:  # holds fact TypedDicts
        """`lists=False`: frames and messages as empty lists (a writer that copies them itself)."""
        out: dict[str, Any] = {
            "handshake": self.handshake,
            "url": self.url,
            "frames": self.frames.to_list() if lists else [],
            "messages": self.messages.to_list() if lists else [],
            "close": self.close,
            "counts": self.counts,
        }
        if self.frames_not_listed:  # only past the bound: documents of ordinary captures keep their shape
            out["frames_not_listed"] = self.frames_not_listed
        if self.conversation is not None:
            out.update(self.conversation)
        return out
