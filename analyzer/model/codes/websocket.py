"""Anomaly codes of the WebSocket layer (PROTOCOLS.md checklist W1-W15, H1-H5).

The first fifteen names are fixed by ANALYSIS_JSON.md; the others are ours.
Offsets of per-frame codes are the frame's first byte, of per-message codes the
message's first byte.
"""

from __future__ import annotations

from analyzer.model.codes.define import register
from analyzer.model.common import Layer, Severity

__all__ = [
    "BAD_ACCEPT",
    "CLIENT_CLOSED_TCP_FIRST",
    "CLIENT_FRAME_UNMASKED",
    "CLOSE_NOT_ANSWERED",
    "CONTROL_FRAME_FRAGMENTED",
    "CONTROL_FRAME_TOO_LONG",
    "DATA_AFTER_CLOSE",
    "DEFLATE_ASSUMED",
    "FRAME_RECORDS_CAPPED",
    "HANDSHAKE_BAD_DEFLATE",
    "HANDSHAKE_BAD_KEY",
    "HANDSHAKE_BAD_REQUEST",
    "HANDSHAKE_BAD_SUBPROTOCOL",
    "HANDSHAKE_BAD_VERSION",
    "HANDSHAKE_EARLY_DATA",
    "HANDSHAKE_MISSING_HEADER",
    "HANDSHAKE_NOT_101",
    "HANDSHAKE_UNOFFERED_EXTENSION",
    "INFLATE_BUDGET_EXCEEDED",
    "INFLATE_FAILED",
    "INTERLEAVED_MESSAGE",
    "INVALID_CLOSE_CODE",
    "INVALID_CLOSE_PAYLOAD",
    "INVALID_UTF8",
    "MESSAGE_TOO_BIG",
    "NON_MINIMAL_LENGTH",
    "NO_CLOSE",
    "ORPHAN_CONTINUATION",
    "PING_UNANSWERED",
    "PONG_MISMATCH",
    "REPEATED_MASK_KEY",
    "RESERVED_OPCODE",
    "RESYNC",
    "RSV1_ON_CONTINUATION",
    "RSV1_ON_CONTROL",
    "RSV_WITHOUT_EXTENSION",
    "SERVER_FRAME_MASKED",
    "STREAM_GAP",
    "TRUNCATED_FRAME",
    "UNFINISHED_MESSAGE",
    "ZERO_MASK_KEY",
]

_E = Severity.ERROR
_W = Severity.WARN
_N = Severity.NOTE
_L = Layer.WEBSOCKET

# --- frames (per direction) --------------------------------------------------------------------------
CLIENT_FRAME_UNMASKED = register(
    "ws.client-frame-unmasked", _E, _L, "client frame without MASK", "RFC 6455 §5.1, §5.3 (W1)"
)
SERVER_FRAME_MASKED = register(
    "ws.server-frame-masked", _E, _L, "server frame with MASK", "RFC 6455 §5.1 (W2)"
)
CONTROL_FRAME_TOO_LONG = register(
    "ws.control-frame-too-long", _E, _L, "control frame payload over 125 bytes", "RFC 6455 §5.5 (W6)"
)
CONTROL_FRAME_FRAGMENTED = register(
    "ws.control-frame-fragmented", _E, _L, "control frame with FIN = 0", "RFC 6455 §5.5 (W6)"
)
RESERVED_OPCODE = register("ws.reserved-opcode", _E, _L, "opcode 3-7 or 11-15", "RFC 6455 §5.2 (W5)")
RSV_WITHOUT_EXTENSION = register(
    "ws.rsv-without-extension",
    _E,
    _L,
    "RSV bit set that no negotiated extension defines",
    "RFC 6455 §5.2, RFC 7692 §6.1 (W3)",
)
RSV1_ON_CONTINUATION = register(
    "ws.rsv1-on-continuation",
    _E,
    _L,
    "permessage-deflate: RSV1 (Per-Message Compressed) on a continuation frame",
    "RFC 7692 §6.1 (W4)",
)
RSV1_ON_CONTROL = register(
    "ws.rsv1-on-control",
    _E,
    _L,
    "permessage-deflate: RSV1 (Per-Message Compressed) on a control frame",
    "RFC 7692 §6.1 (W4)",
)
ORPHAN_CONTINUATION = register(
    "ws.orphan-continuation", _E, _L, "continuation frame with no message open", "RFC 6455 §5.4 (W7)"
)
INTERLEAVED_MESSAGE = register(
    "ws.interleaved-message",
    _E,
    _L,
    "new text/binary frame while a fragmented message is open",
    "RFC 6455 §5.4 (W7)",
)
NON_MINIMAL_LENGTH = register(
    "ws.non-minimal-length",
    _E,
    _L,
    "payload length not in its shortest form, or 64-bit length with the top bit set",
    "RFC 6455 §5.2 (W8)",
)
INVALID_CLOSE_CODE = register(
    "ws.invalid-close-code", _E, _L, "close code not allowed on the wire", "RFC 6455 §7.4, §7.1.5 (W9)"
)
INVALID_CLOSE_PAYLOAD = register(
    "ws.invalid-close-payload", _E, _L, "close payload of exactly 1 byte", "RFC 6455 §5.5.1 (W9)"
)
INVALID_UTF8 = register(
    "ws.invalid-utf8",
    _E,
    _L,
    "text message or close reason that is not valid UTF-8",
    "RFC 6455 §5.6, §8.1 (W10)",
)
DATA_AFTER_CLOSE = register(
    "ws.data-after-close", _E, _L, "data frame after that side sent Close", "RFC 6455 §5.5.1 (W11)"
)
INFLATE_FAILED = register(
    "ws.inflate-failed",
    _E,
    _L,
    "permessage-deflate data that does not inflate, or inflates past the bound",
    "RFC 7692 §7.2.2 (H5)",
)
DEFLATE_ASSUMED = register(
    "ws.deflate-assumed",
    _N,
    _L,
    "a stream decoded without its handshake sends data frames with RSV1: they are taken as "
    "permessage-deflate and inflated with a context that may have begun before the capture",
    "RFC 7692 §6, §7.2.3",
)
INFLATE_BUDGET_EXCEEDED = register(
    "ws.inflate-budget-exceeded",
    _W,
    _L,
    "inflated messages past the inflate budget of the connection or the capture (docs/bounds.md) had"
    " their data dropped (frames and lengths kept); one record per connection, at the first",
    "socketscope bound (docs/bounds.md; house rule: bound everything the peer controls)",
)
FRAME_RECORDS_CAPPED = register(
    "ws.frame-records-capped",
    _W,
    _L,
    "frames past the bound on frame records of the connection or the capture (docs/bounds.md) were"
    " decoded, counted and assembled into messages but not listed; one record per connection",
    "socketscope bound (docs/bounds.md; house rule: bound everything the peer controls)",
)
MESSAGE_TOO_BIG = register(
    "ws.message-too-big",
    _W,
    _L,
    "message longer than the analyzer keeps; its data was cut (length still counts every byte)",
    "analyzer bound (house rule: bound everything the peer controls)",
)
TRUNCATED_FRAME = register("ws.truncated-frame", _W, _L, "the stream ends inside a frame", "RFC 6455 §5.2")
UNFINISHED_MESSAGE = register(
    "ws.unfinished-message",
    _W,
    _L,
    "the stream ends while a fragmented message is still open (its last fragment never came)",
    "RFC 6455 §5.4",
)
STREAM_GAP = register(
    "ws.stream-gap",
    _W,
    _L,
    "bytes of the stream were lost; the message they belonged to is dropped",
    "RFC 6455 §5.2 (framing cannot be followed across lost bytes)",
)
RESYNC = register(
    "ws.resync",
    _N,
    _L,
    "bytes skipped to find the next plausible frame header (after a gap or a mid-stream start)",
    "RFC 6455 §5.2",
)

# --- conversation (both directions) --------------------------------------------------------------------
ZERO_MASK_KEY = register(
    "ws.zero-mask-key", _W, _L, "client frame masked with the key 00000000", "RFC 6455 §5.3 (W15)"
)
REPEATED_MASK_KEY = register(
    "ws.repeated-mask-key",
    _W,
    _L,
    "client reused a masking key of one of its recent frames (keys must be fresh and unpredictable)",
    "RFC 6455 §5.3 (W15)",
)
CLOSE_NOT_ANSWERED = register(
    "ws.close-not-answered",
    _W,
    _L,
    "one side sent Close and the other never answered with Close before TCP ended",
    "RFC 6455 §5.5.1 (W12)",
)
NO_CLOSE = register(
    "ws.no-close",
    _W,
    _L,
    "TCP ended with no Close frame in either direction (close code 1006)",
    "RFC 6455 §7.1.5 (W12)",
)
PING_UNANSWERED = register(
    "ws.ping-unanswered", _W, _L, "Ping never answered by a Pong", "RFC 6455 §5.5.2 (W14)"
)
PONG_MISMATCH = register(
    "ws.pong-mismatch",
    _W,
    _L,
    "Pong whose application data matches no outstanding Ping",
    "RFC 6455 §5.5.3 (W14)",
)
CLIENT_CLOSED_TCP_FIRST = register(
    "ws.client-closed-tcp-first",
    _N,
    _L,
    "client closed TCP before the server after the close handshake (the server should close first)",
    "RFC 6455 §5.5.1, §7.1.1 (W13)",
)

# --- opening handshake ---------------------------------------------------------------------------------
BAD_ACCEPT = register(
    "ws.bad-accept",
    _E,
    _L,
    "Sec-WebSocket-Accept missing or not the hash of the key",
    "RFC 6455 §4.1 client step 4 (H1)",
)
HANDSHAKE_BAD_REQUEST = register(
    "ws.handshake-bad-request",
    _E,
    _L,
    "opening request not GET or below HTTP/1.1",
    "RFC 6455 §4.1, §4.2.1 item 1 (H2)",
)
HANDSHAKE_MISSING_HEADER = register(
    "ws.handshake-missing-header",
    _E,
    _L,
    "Host, Upgrade: websocket or Connection: Upgrade missing from the request or the 101 response",
    "RFC 6455 §4.1, §4.2.1, §4.2.2 (H2)",
)
HANDSHAKE_BAD_KEY = register(
    "ws.handshake-bad-key",
    _E,
    _L,
    "Sec-WebSocket-Key missing or not 16 bytes once base64-decoded",
    "RFC 6455 §4.1 item 7, §4.2.1 item 5 (H2)",
)
HANDSHAKE_BAD_VERSION = register(
    "ws.handshake-bad-version", _E, _L, "Sec-WebSocket-Version is not 13", "RFC 6455 §4.1 item 9 (H2)"
)
HANDSHAKE_BAD_SUBPROTOCOL = register(
    "ws.handshake-bad-subprotocol",
    _E,
    _L,
    "response picks a subprotocol that was not offered, several of them, or an empty one",
    "RFC 6455 §4.1 client step 6, §4.2.2 (H3)",
)
HANDSHAKE_UNOFFERED_EXTENSION = register(
    "ws.handshake-unoffered-extension",
    _E,
    _L,
    "response uses an extension the client did not offer",
    "RFC 6455 §4.1 client step 5, §9.1 (H3)",
)
HANDSHAKE_BAD_DEFLATE = register(
    "ws.handshake-bad-deflate",
    _E,
    _L,
    "permessage-deflate parameters: duplicate, unknown, bad window bits, or not matching any offer",
    "RFC 7692 §5, §7.1 (H5)",
)
HANDSHAKE_EARLY_DATA = register(
    "ws.handshake-early-data",
    _E,
    _L,
    "client sent frames before the server's 101 response",
    "RFC 6455 §4.1 (H4)",
)
HANDSHAKE_NOT_101 = register(
    "ws.handshake-not-101",
    _E,
    _L,
    "WebSocket frames on a connection whose upgrade was not answered with 101",
    "RFC 6455 §4.1 (H4)",
)
