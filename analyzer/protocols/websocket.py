"""WebSocket (RFC 6455, RFC 7692) for one direction of a connection, sans-IO: the public names.

The decoder is in ws_decoder.py (see its docstring for how a stream is read), the frame and
message records and the pure functions over their bytes in ws_frame.py, the rules a header
keeps by itself in ws_rules.py, the search for headers after lost framing in ws_resync.py.
"""

from __future__ import annotations

from analyzer.protocols.ws_decoder import WsDecoder
from analyzer.protocols.ws_frame import (
    Opcode,
    WsEvent,
    WsFrame,
    WsMessage,
    is_valid_close_code,
    parse_close,
    unmask,
)
from analyzer.protocols.ws_resync import RESYNC_WINDOW

__all__ = [
    "RESYNC_WINDOW",
    "Opcode",
    "WsDecoder",
    "WsEvent",
    "WsFrame",
    "WsMessage",
    "is_valid_close_code",
    "parse_close",
    "unmask",
]
