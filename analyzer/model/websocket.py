"""WebSocket part of a connection record (ANALYSIS_JSON.md `websocket`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analyzer.model.common import Direction
from analyzer.model.records import WsMessageRecord
from analyzer.model.spill import JsonSpill

__all__ = ["WebSocketRecord", "WsFrameRecord", "message_dict"]

LENGTH_FORMS = {"7-bit", "16-bit", "64-bit"}


@dataclass(slots=True)  # not frozen: built per frame/message, where frozen __init__ is 5x slower
class WsFrameRecord:
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction.value,
            "frame": self.frame,
            "ts": self.ts,
            "fin": self.fin,
            "rsv1": self.rsv1,
            "rsv2": self.rsv2,
            "rsv3": self.rsv3,
            "opcode": self.opcode,
            "masked": self.masked,
            "mask_key": self.mask_key.hex() if self.mask_key is not None else None,
            "payload_length": self.payload_length,
            "length_form": self.length_form,
            # a data frame that is a whole uncompressed message carries the same bytes as the message:
            # written once, in `messages` (ANALYSIS_JSON.md requires payload_hex for control frames only)
            "payload_hex": None if self.in_message else self.payload.hex(),
            "payload_in_message": self.in_message,
            "payload_truncated": self.payload_truncated,
            "close_code": self.close_code,
            "close_reason": self.close_reason,
            "packets": list(self.packets),
            "stream_offset": self.offset,
        }


def message_dict(m: WsMessageRecord) -> dict[str, Any]:
    text: str | None = None
    if m.opcode == "text" and not m.truncated:
        try:
            text = m.data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    elif m.opcode == "text":
        text = m.data.decode("utf-8", "ignore") if m.data else ""
    return {
        "direction": m.direction.value,
        "ts": m.ts,
        "frame": m.frame,
        "opcode": m.opcode,
        "compressed": m.compressed,
        "frames": m.nframes,
        "length": m.length,
        "text": text,
        "data_hex": None if text is not None else m.data.hex(),
        "truncated": m.truncated,
        "packets": list(m.frames),
    }


@dataclass(slots=True)
class WebSocketRecord:
    handshake: dict[str, Any] | None
    frames: list[WsFrameRecord] = field(default_factory=list)
    messages: list[WsMessageRecord] = field(default_factory=list)
    close: dict[str, Any] = field(default_factory=lambda: {"c2s": None, "s2c": None})
    conversation: dict[str, Any] = field(default_factory=dict)  # close handshake, pings (extras)
    url: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    frames_dropped: int = 0  # frames not kept because of Options.keep_frames
    # Options.spill_records: frames and messages went to disk as JSON instead of the lists above
    spilled_frames: JsonSpill | None = None
    spilled_messages: JsonSpill | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "handshake": self.handshake,
            "url": self.url,
            "frames": self.spilled_frames.load()
            if self.spilled_frames is not None
            else [f.to_dict() for f in self.frames],
            "messages": self.spilled_messages.load()
            if self.spilled_messages is not None
            else [message_dict(m) for m in self.messages],
            "close": self.close,
            "counts": self.counts,
        }
        out.update(self.conversation)
        return out
