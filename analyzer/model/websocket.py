"""WebSocket part of a connection record (ANALYSIS_JSON.md `websocket`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any

from analyzer.model.common import Direction
from analyzer.model.records import WsMessageRecord
from analyzer.model.spill import JsonSpill

__all__ = ["WebSocketRecord", "WsFrameRecord", "frame_json", "message_dict", "message_json"]

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


def message_dict_fields(m: WsMessageRecord) -> tuple[str | None, str | None]:
    """(text, data_hex) of a message: text when it is valid UTF-8 text, else the bytes as hex."""
    text: str | None = None
    if m.opcode == "text" and not m.truncated:
        try:
            text = m.data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    elif m.opcode == "text":
        text = m.data.decode("utf-8", "ignore") if m.data else ""
    return text, (None if text is not None else m.data.hex())


def message_dict(m: WsMessageRecord) -> dict[str, Any]:
    text, data_hex = message_dict_fields(m)
    return {
        "direction": m.direction.value,
        "ts": m.ts,
        "frame": m.frame,
        "opcode": m.opcode,
        "compressed": m.compressed,
        "frames": m.nframes,
        "length": m.length,
        "text": text,
        "data_hex": data_hex,
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
    # complete messages per direction (not in the document: its `messages` list has them), for
    # summaries of records whose messages went to disk
    message_counts: dict[str, int] = field(default_factory=lambda: {"c2s": 0, "s2c": 0})
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


# --- fast JSON for the streaming writer -----------------------------------------------------------
# json.dumps on a 100 KB hex string costs ~500 µs; an f-string ~3 µs. Frames and messages are
# written with templates; captured text goes through the json module's C escaper (what
# json.dumps itself uses). tests/model/test_fast_json.py keeps these equal to json.dumps(to_dict()).
def _str(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _opt_int(value: int | None) -> str:
    return "null" if value is None else str(value)


def frame_json(f: WsFrameRecord) -> str:
    """`json.dumps(f.to_dict(), ensure_ascii=False, separators=(",", ":"))`, fast."""
    in_message = f.in_message
    return (
        f'{{"direction":"{f.direction.value}","frame":{f.frame},"ts":{float(f.ts)!r},'
        f'"fin":{_bool(f.fin)},"rsv1":{_bool(f.rsv1)},"rsv2":{_bool(f.rsv2)},"rsv3":{_bool(f.rsv3)},'
        f'"opcode":{f.opcode},"masked":{_bool(f.masked)},'
        f'"mask_key":{"null" if f.mask_key is None else chr(34) + f.mask_key.hex() + chr(34)},'
        f'"payload_length":{f.payload_length},"length_form":"{f.length_form}",'
        f'"payload_hex":{"null" if in_message else chr(34) + f.payload.hex() + chr(34)},'
        f'"payload_in_message":{_bool(in_message)},"payload_truncated":{_bool(f.payload_truncated)},'
        f'"close_code":{_opt_int(f.close_code)},"close_reason":{_str(f.close_reason)},'
        f'"packets":[{",".join(map(str, f.packets))}],"stream_offset":{f.offset}}}'
    )


def message_json(m: WsMessageRecord) -> str:
    """`json.dumps(message_dict(m), ensure_ascii=False, separators=(",", ":"))`, fast."""
    text, data_hex = message_dict_fields(m)
    return (
        f'{{"direction":"{m.direction.value}","ts":{float(m.ts)!r},"frame":{m.frame},'
        f'"opcode":"{m.opcode}","compressed":{_bool(m.compressed)},"frames":{m.nframes},'
        f'"length":{m.length},"text":{_str(text)},'
        f'"data_hex":{"null" if data_hex is None else chr(34) + data_hex + chr(34)},'
        f'"truncated":{_bool(m.truncated)},"packets":[{",".join(map(str, m.frames))}]}}'
    )
