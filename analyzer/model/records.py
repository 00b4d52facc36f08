"""Application-layer records of the model, as the pipeline hands them upward.

These are the inputs of the Engine.IO session builder and the rows the UI and
exports read. Every record carries `frame` (the 1-based packet that carried its
last byte) and `frames` (every packet that carried a byte of it) so that any
record can be followed down to its TCP segments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.model.common import Direction
from analyzer.model.jsontext import JsonText, boolean, int_list, opt_str
from analyzer.model.jsontypes import JsonObject

__all__ = [
    "BODY_PREVIEW",
    "Headers",
    "HttpExchange",
    "HttpRequest",
    "HttpResponse",
    "WsMessageRecord",
    "body_preview",
    "header_value",
]

BODY_PREVIEW = 4096  # bytes of an HTTP body shown in the analysis document

Headers = tuple[tuple[str, str], ...]


def header_value(headers: Headers, name: str) -> str | None:
    """First value of a header, matched case-insensitively (RFC 9110 §5.1); None if absent."""
    lname = name.lower()
    for k, v in headers:
        if k.lower() == lname:
            return v
    return None


def body_preview(body: bytes) -> JsonObject:
    """A bounded, JSON-safe view of an HTTP body: text when it is UTF-8, hex otherwise."""
    cut = body[:BODY_PREVIEW]
    try:
        return {"length": len(body), "text": cut.decode("utf-8"), "hex": None, "cut": len(body) > len(cut)}
    except UnicodeDecodeError:
        return {"length": len(body), "text": None, "hex": cut.hex(), "cut": len(body) > len(cut)}


@dataclass(slots=True)  # not frozen: built per frame/message, where frozen __init__ is 5x slower
class HttpRequest:
    frame: int
    ts: float
    method: str
    target: str
    version: str
    headers: Headers
    body: bytes = b""  # after transfer-coding and content-coding are undone, bounded
    body_truncated: bool = False
    frames: tuple[int, ...] = ()
    stream_id: int | None = None  # HTTP/2: the stream of the exchange (None for HTTP/1.x)
    ts_ns: int | None = None  # `ts` in integer nanoseconds: durations are computed from it

    def to_dict(self) -> JsonObject:
        start: JsonObject = {"method": self.method, "target": self.target, "version": self.version}
        return message_dict(self, start)


@dataclass(slots=True)  # not frozen: built per frame/message, where frozen __init__ is 5x slower
class HttpResponse:
    frame: int
    ts: float
    version: str
    status: int
    reason: str
    headers: Headers
    body: bytes = b""
    body_truncated: bool = False
    frames: tuple[int, ...] = ()
    stream_id: int | None = None  # HTTP/2: the stream of the exchange (None for HTTP/1.x)
    ts_ns: int | None = None  # `ts` in integer nanoseconds: durations are computed from it

    def to_dict(self) -> JsonObject:
        start: JsonObject = {"version": self.version, "status": self.status, "reason": self.reason}
        return message_dict(self, start)


def message_dict(msg: HttpRequest | HttpResponse, start: JsonObject) -> JsonObject:
    """A request or response in the analysis document: `frame`, `ts`, its start line's fields
    (`start`), then what both kinds carry; `stream_id` only for HTTP/2."""
    out: JsonObject = {"frame": msg.frame, "ts": msg.ts}
    out.update(start)
    out["headers"] = [list(h) for h in msg.headers]
    out["body"] = body_preview(msg.body)
    out["body_truncated"] = msg.body_truncated
    out["frames"] = list(msg.frames)
    if msg.stream_id is not None:  # additive: HTTP/1.x exchanges are unchanged
        out["stream_id"] = msg.stream_id
    return out


@dataclass(slots=True)  # not frozen: built per frame/message, where frozen __init__ is 5x slower
class HttpExchange:
    connection: int
    index: int  # position of the exchange on its connection, from 0
    request: HttpRequest | None
    response: HttpResponse | None
    # interim (1xx) responses to the request before its final one (RFC 9110 §15.2), e.g. a
    # 100 Continue answering `Expect: 100-continue` (§10.1.1); 101 is final, never listed here
    interim: tuple[HttpResponse, ...] = ()

    def to_dict(self) -> JsonObject:
        """The exchange in the analysis document (ANALYSIS_JSON.md "HTTP exchange")."""
        return {
            "request": self.request.to_dict() if self.request else None,
            "response": self.response.to_dict() if self.response else None,
            "interim": [
                {
                    "status": r.status,
                    "reason": r.reason,
                    "frame": r.frame,
                    "ts": r.ts,
                    "headers": [list(h) for h in r.headers],
                }
                for r in self.interim
            ],
        }


@dataclass(slots=True)  # not frozen: built per frame/message, where frozen __init__ is 5x slower
class WsMessageRecord(JsonText):
    """A complete WebSocket text or binary message (control frames are not messages)."""

    connection: int
    direction: Direction
    ts: float
    frame: int
    opcode: str  # "text" | "binary"
    compressed: bool
    nframes: int
    data: bytes  # unmasked and inflated
    length: int  # inflated length (data may be cut at the display bound)
    truncated: bool = False
    frames: tuple[int, ...] = field(default=())
    ts_ns: int | None = None  # `ts` in integer nanoseconds: durations are computed from it

    def text_and_hex(self) -> tuple[str | None, str | None]:
        """(text, data_hex): text when the message is valid UTF-8 text, else the bytes as hex."""
        text: str | None = None
        if self.opcode == "text" and not self.truncated:
            try:
                text = self.data.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        elif self.opcode == "text":
            text = self.data.decode("utf-8", "ignore") if self.data else ""
        return text, (None if text is not None else self.data.hex())

    def to_json(self) -> str:
        """The message in the analysis document (`websocket.messages[]`): its only serializer."""
        text, data_hex = self.text_and_hex()
        return (
            f'{{"direction":"{self.direction.value}","ts":{float(self.ts)!r},"frame":{self.frame},'
            f'"opcode":"{self.opcode}","compressed":{boolean(self.compressed)},"frames":{self.nframes},'
            f'"length":{self.length},"text":{opt_str(text)},'
            f'"data_hex":{"null" if data_hex is None else chr(34) + data_hex + chr(34)},'
            f'"truncated":{boolean(self.truncated)},"packets":{int_list(self.frames)}}}'
        )
