"""What a caller can choose about one run of the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analyzer.protocols.tls.keylog import KeyLog

__all__ = ["Options"]


@dataclass(slots=True)
class Options:
    decode_as: dict[int, str] = field(default_factory=dict)  # server port -> "websocket" | "http"
    keep_frames: bool = True  # keep every WebSocket frame record (the UI and tests want them)
    keep_payload_bytes: int = 1 << 20  # per frame/message, for display
    max_message_bytes: int = 16 << 20
    # live printing: an object with on_connection_open(conn), on_http_exchange(ex),
    # on_websocket_open(connection, request, response), on_ws_message(msg), on_anomaly(a)
    # (analyzer/export/text/live.py); None costs nothing
    observer: Any = None
    # False: connection records are handed to on_connection and then dropped (streaming output,
    # memory follows open connections only); Analysis.connections stays empty
    retain_connections: bool = True
    # True: WebSocket frames and messages are written to temporary files as JSON as they are
    # decoded (JsonSpill) instead of being held as records; for streaming output of big captures
    spill_records: bool = False
    # TLS secrets (NSS key log: --keylog files, pcapng Decryption Secrets Blocks); held in memory
    # only, never printed (KeyLog's repr gives counts)
    keylog: KeyLog | None = None
