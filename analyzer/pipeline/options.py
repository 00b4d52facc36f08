"""What a caller can choose about one run of the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from analyzer.model.records import WsMessageRecord
from analyzer.model.spill import RecordList
from analyzer.model.websocket import WebSocketRecord, WsFrameRecord
from analyzer.pipeline.frame_cap import MAX_FRAME_RECORDS
from analyzer.pipeline.observer import LiveObserver
from analyzer.protocols.deflate import INFLATE_CAPTURE_BUDGET
from analyzer.session.packettap import PacketTap

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from analyzer.model.records import WsMessageRecord
    from analyzer.protocols.tls.keylog import KeyLog

__all__ = ["Options", "RecordTap", "websocket_record"]


class RecordTap(PacketTap, Protocol):
    """Takes each WebSocket frame and message record as it is decoded, and each packet of a
    session as it would be written (session/packettap.py), instead of their JSON (Options.record_tap)."""

    def ws_frame(self, connection: int, record: WsFrameRecord) -> None: ...

    def ws_message(self, record: WsMessageRecord) -> None: ...


@dataclass(slots=True)
class Options:
    decode_as: dict[int, str] = field(default_factory=dict)  # server port -> "websocket" | "http"
    keep_frames: bool = True  # keep every WebSocket frame record (the UI and tests want them)
    keep_payload_bytes: int = 1 << 20  # per frame/message, for display
    max_message_bytes: int = 16 << 20
    # told what is decoded as it is decoded (pipeline/observer.py; the live printer,
    # export/text/live.py); None costs nothing
    observer: LiveObserver | None = None
    # True: WebSocket frames and messages, and the packets of sessions, are written to temporary
    # files as JSON as they are decoded (JsonSpill) instead of being held as records; for sinks
    # that write as they go (memory follows open connections); not for a CollectingSink
    spill_records: bool = False
    # with spill_records, False: no sink reads the packets of sessions (the text summary without
    # --events), so they are not written at all; the Socket.IO packets are only counted by
    # (namespace, event name) for the summary (model/spill.py TalliedSpill)
    spill_session_packets: bool = True
    # with spill_records, False: no sink reads the WebSocket frames and messages (the text summary
    # without --messages), so their records are counted, not serialized (RecordList(counted=True));
    # also set when every sink says so (`reads_ws_records = False`, pipeline/sink.py)
    spill_ws_records: bool = True
    # with spill_records, False: no sink reads the WebSocket frames (CSV, JSON Lines, HAR and
    # pcapng exports read messages only), so the frames are counted, not serialized; set when
    # every sink says so (`reads_ws_frames = False`, pipeline/sink.py)
    spill_ws_frames: bool = True
    # TLS secrets (NSS key log: --keylog files, pcapng Decryption Secrets Blocks); held in memory
    # only, never printed (KeyLog's repr gives counts)
    keylog: KeyLog | None = None
    # the connection table (docs/bounds.md): past it, the oldest finished connections are closed
    # early and idle ones without data evicted; None: analyzer/tcp/tracker.py MAX_CONNECTIONS (16384)
    max_connections: int | None = None
    # inflated bytes kept (WebSocket permessage-deflate messages, gzip/deflate HTTP bodies), each
    # budget plus INFLATE_RATIO (32) bytes per compressed byte; past it payloads are dropped, lengths
    # kept (analyzer/protocols/deflate.py, docs/bounds.md). Per capture, and per connection (None: a
    # sixteenth of the capture's, 16 MiB by default)
    inflate_budget_bytes: int = INFLATE_CAPTURE_BUDGET
    inflate_connection_budget_bytes: int | None = None
    # WebSocket frame records listed per connection, and per capture (None: ten times as many);
    # past them frames are decoded, counted and assembled, not listed (pipeline/frame_cap.py)
    max_frame_records: int = MAX_FRAME_RECORDS
    max_frame_records_capture: int | None = None
    # split a capture across runs (pipeline/split.py, `socketscope batch`): (k, n) decodes only the
    # connections whose flow hash is k modulo n (every connection is still tracked, ids unchanged)
    flow_share: tuple[int, int] | None = None
    # with it, True: the share is chosen by the client's IP address (split.client_hash, `--jobs`)
    share_by_client: bool = False
    # with it, the session layer's input goes to this callable (pipeline/split.SessionCall) instead
    # of being stitched into sessions: the caller merges the shares' calls into one SessionBuilder
    session_tap: Callable[[tuple[str, tuple[Any, ...], int, float]], None] | None = None
    # WebSocket frame and message records go to this tap as they are decoded, and the packets of
    # sessions as they are analysed (with spill_records), and are neither held nor spilled: their
    # lists keep only a count (RecordList.tapped). For the one sink that wants the records
    # themselves (`socketscope batch` makes its rows from them, batch/tap.py); the others read
    # the lists' JSON, which a tapped list has not
    record_tap: RecordTap | None = None


def websocket_record(options: Options, connection: int) -> WebSocketRecord:
    """A connection's WebSocket record with its frame and message lists as `options` wants them:
    held, spilled as JSON, or handed to the record tap (one WebSocket a connection: later RFC 8441
    tunnels are exchanges only, so a tap never sees records the document leaves out)."""
    tap = options.record_tap
    if tap is None:
        spill = options.spill_records
        counted = spill and not options.spill_ws_records  # no sink reads them: not serialized
        no_frames = counted or (spill and not options.spill_ws_frames)
        frames: RecordList[WsFrameRecord] = RecordList(spill=spill, counted=no_frames)
        return WebSocketRecord(
            handshake=None, frames=frames, messages=RecordList(spill=spill, counted=counted)
        )
    return WebSocketRecord(
        handshake=None,
        frames=RecordList.tapped(lambda r: tap.ws_frame(connection, r)),
        messages=RecordList.tapped(tap.ws_message),
    )
