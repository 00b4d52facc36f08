"""Anomaly codes of HTTP/2 (RFC 9113), HPACK (RFC 7541) and WebSocket over HTTP/2 (RFC 8441).

PROTOCOLS-TLS-H2.md checklist H2-1..H2-14 and W2-1..W2-5, grouped: the first five names are
fixed by issue #17. Offsets are the first byte of the frame that breaks the rule, in the
direction's HTTP/2 byte stream (plaintext under TLS).
"""

from __future__ import annotations

from analyzer.model.codes.define import register
from analyzer.model.common import Layer, Severity

__all__ = [
    "H2_CONNECT_PROTOCOL_NOT_ENABLED",
    "H2_FRAME_SIZE",
    "H2_GAP",
    "H2_GOAWAY_ERROR",
    "H2_HPACK_ERROR",
    "H2_LIMIT",
    "H2_MALFORMED",
    "H2_PROTOCOL_ERROR",
    "H2_STREAM_RESET",
]

_L = Layer.HTTP

H2_PROTOCOL_ERROR = register(
    "h2.protocol-error",
    Severity.ERROR,
    _L,
    "an HTTP/2 rule broken (PROTOCOL_ERROR): bad client preface or server's first frame not"
    " SETTINGS, frame on the wrong stream (0 or not 0), stream id not above the previous one or of"
    " the wrong parity, frame not allowed in the stream's state, field block interrupted or"
    " CONTINUATION without one, bad padding, SETTINGS value out of range, WINDOW_UPDATE of 0",
    "RFC 9113 §3.4, §4.3, §5.1, §5.1.1, §6.1-§6.10, §6.5.2 (H2-1, H2-3..H2-8, H2-11)",
)
H2_FRAME_SIZE = register(
    "h2.frame-size",
    Severity.ERROR,
    _L,
    "an HTTP/2 frame longer than the receiver's SETTINGS_MAX_FRAME_SIZE, or a frame whose fixed"
    " length is wrong (PRIORITY 5, RST_STREAM 4, PING 8, WINDOW_UPDATE 4, SETTINGS a multiple of 6,"
    " SETTINGS ACK 0, GOAWAY at least 8): FRAME_SIZE_ERROR",
    "RFC 9113 §4.2, §6.3-§6.9 (H2-2)",
)
H2_HPACK_ERROR = register(
    "h2.hpack-error",
    Severity.ERROR,
    _L,
    "a header block HPACK cannot decode (index 0 or beyond the table, bad Huffman code, table"
    " size update above the limit or not at the start): the direction's dynamic table is"
    " desynchronised, so its later header blocks are not decoded (COMPRESSION_ERROR)",
    "RFC 7541 §2.3.3, §4.2, §5.2, §6; RFC 9113 §4.3 (H2-9)",
)
H2_STREAM_RESET = register(
    "h2.stream-reset",
    Severity.NOTE,
    _L,
    "an HTTP/2 stream ended by RST_STREAM (its error code in the message); CANCEL and NO_ERROR"
    " are routine (a browser cancelling a request), other codes are errors of the peer",
    "RFC 9113 §6.4, §7, §8.1",
)
H2_CONNECT_PROTOCOL_NOT_ENABLED = register(
    "h2.connect-protocol-not-enabled",
    Severity.ERROR,
    _L,
    "an extended CONNECT (:protocol, e.g. WebSocket over HTTP/2) sent before the server's"
    " SETTINGS_ENABLE_CONNECT_PROTOCOL = 1, or :protocol on a request that is not CONNECT",
    "RFC 8441 §3, §4 (W2-1)",
)
H2_MALFORMED = register(
    "h2.malformed",
    Severity.ERROR,
    _L,
    "a malformed HTTP/2 message: a field name that is not lowercase token characters, a"
    " connection-specific field (connection, keep-alive, transfer-encoding, upgrade, te other than"
    " trailers), a pseudo-header field unknown, repeated, after a regular field or in trailers, a"
    " request without :method, :scheme or :path, a response without :status",
    "RFC 9113 §8.1, §8.2.1, §8.2.2, §8.3, §8.5; RFC 8441 §4 (H2-10)",
)
H2_GOAWAY_ERROR = register(
    "h2.goaway-error",
    Severity.WARN,
    _L,
    "a GOAWAY with an error code other than NO_ERROR: the sender closed the connection because"
    " of an error (its code and debug data in the message)",
    "RFC 9113 §6.8, §7",
)
H2_GAP = register(
    "h2.gap",
    Severity.WARN,
    _L,
    "bytes of an HTTP/2 direction lost in a capture gap: its framing and HPACK state are lost,"
    " so the rest of that direction is not decoded",
    "RFC 9113 §4.1; RFC 7541 §2.2",
)
H2_LIMIT = register(
    "h2.limit",
    Severity.WARN,
    _L,
    "a bound socketscope keeps on what the peer controls was reached (open streams, header list"
    " or header block size, buffered body bytes): what is past it is not decoded or kept",
    "docs/bounds.md; RFC 9113 §6.5.2 (SETTINGS_MAX_HEADER_LIST_SIZE is advisory), §10.5",
)
