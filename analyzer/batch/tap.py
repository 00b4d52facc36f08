"""WebSocket frames and messages, Engine.IO and Socket.IO packets into rows, from the records.

The batch task runs the pipeline with `Options.record_tap = RowTap(files)`: each frame and
message record becomes a row of `ws_frames` / `ws_messages` when the connection decodes it, and
each packet of a session a row of `eio_packets` / `sio_packets` when the session is analysed
(session/spill.py hands them over where it would write their JSON); then they are dropped
(RecordList.tapped). Nothing of it is written as JSON and read back, and no payload is
hex-encoded and decoded again. The rows are the ones rows.py makes from the records' JSON (the
document's one serializer: model/websocket.py, model/records.py, model/session_json.py);
tests/batch check both, row for row. A row is a tuple in the table's column order (without
`capture_id`): no dict per row.

Row order: a table's rows come in the order the records were decoded (connections interleaved),
not connection after connection; a table's order carries no meaning (a split capture's shares
write theirs in parts anyway).
"""

from __future__ import annotations

import json
from typing import Any

from analyzer.batch.rows import micros, text
from analyzer.batch.sink import TableFiles
from analyzer.model.common import Direction
from analyzer.model.records import WsMessageRecord
from analyzer.model.session import EioPacketRecord, SioPacketRecord
from analyzer.model.session_json import sio_args_data
from analyzer.model.socketio import SioPacketType
from analyzer.model.spill import dumps
from analyzer.model.websocket import WsFrameRecord

__all__ = [
    "EIO_COLUMNS",
    "FRAME_COLUMNS",
    "MESSAGE_COLUMNS",
    "SIO_COLUMNS",
    "RowTap",
    "eio_values",
    "sio_values",
    "ws_frame_values",
    "ws_message_values",
]

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

EIO_COLUMNS = (
    "frame",
    "ts",
    "sid",
    "connection_id",
    "direction",
    "transport",
    "type",
    "binary",
    "payload",
    "size",
)
SIO_COLUMNS = (
    "frame",
    "ts",
    "sid",
    "connection_id",
    "direction",
    "transport",
    "type",
    "nsp",
    "ack_id",
    "event",
    "args",
    "data",
    "attachments",
    "packets",
)

_C2S = Direction.C2S
_SIO_NAMES = tuple(t.name for t in SioPacketType)  # by number, as model/session_json.py writes them


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


def eio_values(sid: str, r: EioPacketRecord, data: str | bytes) -> tuple[object, ...]:
    """The `eio_packets` row of a packet (EIO_COLUMNS), `data` its payload, as rows.eio_row of
    its JSON (model/session_json.py eio_packet_parts: bytes as hex, empty text as null)."""
    binary = isinstance(data, bytes)
    if isinstance(data, bytes):
        payload: bytes | None = data
    else:
        payload = data.encode("utf-8", "surrogatepass") if data else None
    return (
        r.frame,
        micros(float(r.ts)),
        text(sid),
        r.connection,
        "c2s" if r.direction is _C2S else "s2c",
        r.transport,
        r.packet.type.wire_name,
        binary,
        payload,
        r.size,
    )


def _json_column(raw: str) -> str | None:
    return None if raw == "null" else text(raw)


def sio_values(sid: str, r: SioPacketRecord) -> tuple[Any, ...]:
    """The `sio_packets` row of a packet (SIO_COLUMNS), as rows.sio_row of its JSON (args and
    data: the JSON text model/session_json.py writes)."""
    p = r.packet
    args, data = sio_args_data(p)
    ack = p.ack_id
    return (
        r.frame,
        micros(float(r.ts)),
        text(sid),
        r.connection,
        "c2s" if r.direction is _C2S else "s2c",
        r.transport,
        _SIO_NAMES[p.type],
        text(p.nsp),
        ack if ack is None or type(ack) is int else json.loads(dumps(ack)),
        text(p.event),
        _json_column(args),
        _json_column(data),
        p.attachments,
        list(r.frames),
    )


class RowTap:
    """Options.record_tap (pipeline/options.py RecordTap): each record into its table's rows.
    `sessions=False`: the session tables are not this task's (a share of a split capture)."""

    def __init__(self, files: TableFiles, *, sessions: bool = True) -> None:
        self.add = files.add_values
        self.sessions = sessions

    # each row's payload size goes with it: the rows held are bounded in bytes (sink.FLUSH_BYTES)
    def ws_frame(self, connection: int, record: WsFrameRecord) -> None:
        self.add("ws_frames", ws_frame_values(connection, record), len(record.payload))

    def ws_message(self, record: WsMessageRecord) -> None:
        self.add("ws_messages", ws_message_values(record), len(record.data))

    def eio_packet(self, sid: str, record: EioPacketRecord, data: str | bytes) -> None:
        if self.sessions:
            self.add("eio_packets", eio_values(sid, record, data), len(data))

    def sio_packet(self, sid: str, record: SioPacketRecord) -> None:
        if self.sessions:
            row = sio_values(sid, record)
            self.add("sio_packets", row, len(row[10] or "") + len(row[11] or ""))  # args, data
