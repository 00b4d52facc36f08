"""WebSocket frames and messages into rows as they are decoded, from the records themselves.

The batch task runs the pipeline with `Options.record_tap = RowTap(files)`: each frame and
message record becomes a row of `ws_frames` / `ws_messages` when the connection decodes it, and is
then dropped (RecordList.tapped). Nothing of it is written as JSON and read back, and its
payload is not hex-encoded and decoded again. The rows are the ones rows.ws_frame_row and
rows.ws_message_row make from the record's JSON (`to_json()` in model/websocket.py and
model/records.py, the document's one serializer); tests/batch check both, row for row. A row
is a tuple in the table's column order (without `capture_id`): no dict per row.

Row order: a table's rows come in the order the records were decoded (connections interleaved),
not connection after connection; a table's order carries no meaning (a split capture's shares
write theirs in parts anyway).
"""

from __future__ import annotations

from analyzer.batch.rows import micros, text
from analyzer.batch.sink import TableFiles
from analyzer.model.common import Direction
from analyzer.model.records import WsMessageRecord
from analyzer.model.websocket import WsFrameRecord

__all__ = ["FRAME_COLUMNS", "MESSAGE_COLUMNS", "RowTap", "ws_frame_values", "ws_message_values"]

FRAME_COLUMNS = (
    "frame",
    "ts",
    "connection_id",
    "direction",
    "fin",
    "rsv1",
    "rsv2",
    "rsv3",
    "opcode",
    "masked",
    "mask_key",
    "payload_length",
    "length_form",
    "payload",
    "payload_in_message",
    "payload_truncated",
    "close_code",
    "close_reason",
    "stream_offset",
    "packets",
)
MESSAGE_COLUMNS = (
    "frame",
    "ts",
    "connection_id",
    "direction",
    "opcode",
    "compressed",
    "frames",
    "length",
    "payload",
    "truncated",
    "packets",
)

_C2S = Direction.C2S


def ws_frame_values(cid: int, f: WsFrameRecord) -> tuple[object, ...]:
    """The `ws_frames` row of a frame record (FRAME_COLUMNS), as rows.ws_frame_row of its JSON."""
    in_message = f.in_message
    key = f.mask_key
    return (
        f.frame,
        micros(float(f.ts)),
        cid,
        "c2s" if f.direction is _C2S else "s2c",
        bool(f.fin),
        bool(f.rsv1),
        bool(f.rsv2),
        bool(f.rsv3),
        f.opcode,
        bool(f.masked),
        None if key is None else key.hex(),
        f.payload_length,
        f.length_form,
        # RFC 6455 §5.6: a whole uncompressed data frame's bytes are its message's (ws_messages)
        None if in_message or f.payload is None else bytes(f.payload),
        in_message,
        bool(f.payload_truncated),
        f.close_code,
        text(f.close_reason),
        f.offset,
        list(f.packets),
    )


def _message_payload(m: WsMessageRecord) -> bytes:
    """The document's text/data_hex pair as bytes (WsMessageRecord.text_and_hex): the data,
    except a cut text message, whose text is its valid UTF-8 (a character cut at the end dropped)."""
    if m.opcode == "text" and m.truncated:
        return m.data.decode("utf-8", "ignore").encode("utf-8") if m.data else b""
    return bytes(m.data)  # whole text (valid UTF-8 or, as hex, not) and binary: the bytes


def ws_message_values(m: WsMessageRecord) -> tuple[object, ...]:
    """The `ws_messages` row of a message record (MESSAGE_COLUMNS), as rows.ws_message_row of its JSON."""
    return (
        m.frame,
        micros(float(m.ts)),
        m.connection,
        "c2s" if m.direction is _C2S else "s2c",
        m.opcode,
        bool(m.compressed),
        m.nframes,
        m.length,
        _message_payload(m),
        bool(m.truncated),
        list(m.frames),
    )


class RowTap:
    """Options.record_tap (pipeline/options.py RecordTap): each record into its table's rows."""

    def __init__(self, files: TableFiles) -> None:
        self.add = files.add_values

    def ws_frame(self, connection: int, record: WsFrameRecord) -> None:
        self.add("ws_frames", ws_frame_values(connection, record))

    def ws_message(self, record: WsMessageRecord) -> None:
        self.add("ws_messages", ws_message_values(record))
