"""Anomaly codes of the Socket.IO layer (PROTOCOLS.md checklist S1-S8, plus bounds).

Sources: socketio/socket.io-protocol (v5 main, v4 branch) and its test suite,
socketio/socket.io-parser 4.2.4, socketio/socket.io-msgpack-parser 3.0.2 / 2.2.1.
"""

from __future__ import annotations

from analyzer.model.codes.define import register
from analyzer.model.common import Layer, Severity

__all__ = [
    "ACK_ID_REUSED",
    "ACK_UNANSWERED",
    "ACK_UNKNOWN_ID",
    "ACK_WRONG_NAMESPACE",
    "ATTACHMENT_MISMATCH",
    "BAD_ACK_ID",
    "BAD_ATTACHMENT_COUNT",
    "BAD_PACKET_TYPE",
    "BAD_PAYLOAD",
    "CONNECT_REFUSED",
    "DUPLICATE_ACK",
    "ERROR_PAYLOAD_VERSION_MIXUP",
    "LIMIT_EXCEEDED",
    "MSGPACK_BAD_PACKET",
    "NO_CONNECT",
    "PLACEHOLDER_REPEATED",
]

_E = Severity.ERROR
_W = Severity.WARN
_N = Severity.NOTE
_L = Layer.SOCKETIO

# --- packet grammar (S1-S3, S7, S8) -------------------------------------------------------------------
BAD_PACKET_TYPE = register(
    "sio.bad-packet-type",
    _E,
    _L,
    "Socket.IO packet type not 0-6 (or empty packet)",
    "SIO v5 'Packet types'; socket.io-parser 4.2.4 decodeString (S1)",
)
BAD_ATTACHMENT_COUNT = register(
    "sio.bad-attachment-count",
    _E,
    _L,
    "binary packet whose attachment count is not '<digits>-'",
    "SIO v5 'Format'; socket.io-parser 'Illegal attachments' (S1)",
)
BAD_PAYLOAD = register(
    "sio.bad-payload",
    _E,
    _L,
    "payload that is not JSON or has the wrong shape for its packet type",
    "SIO v5 'Sending and receiving data'; socket.io-parser isPayloadValid (S2)",
)
BAD_ACK_ID = register(
    "sio.bad-ack-id",
    _E,
    _L,
    "non-numeric or over-long acknowledgement id",
    "SIO v5 'Acknowledgement'; test suite (S3)",
)
ERROR_PAYLOAD_VERSION_MIXUP = register(
    "sio.error-payload-version-mixup",
    _W,
    _L,
    "v5 CONNECT_ERROR with a string payload, or v4 ERROR with an object payload",
    "SIO v5 'History' (S7)",
)
MSGPACK_BAD_PACKET = register(
    "sio.msgpack-bad-packet",
    _E,
    _L,
    "msgpack packet that is not a map with an integer type and a string nsp, or with a non-integer id",
    "socket.io-msgpack-parser checkPacket (S8)",
)
PLACEHOLDER_REPEATED = register(
    "sio.placeholder-repeated",
    _W,
    _L,
    "binary packet whose placeholders name one attachment more than once (socket.io-parser writes one"
    ' per attachment); repeats past the per-packet bound are written {"$ref_attachment": N}, not copied',
    "socket.io-parser 4.2.4 deconstructPacket / reconstructPacket (S6); socketscope bound",
)

# --- session rules (S4-S6) ----------------------------------------------------------------------------
NO_CONNECT = register(
    "sio.no-connect",
    _E,
    _L,
    "packet on a namespace before its CONNECT (or no CONNECT at all)",
    "SIO v5 'Connection to a namespace' (S4)",
)
CONNECT_REFUSED = register(
    "sio.connect-refused",
    _N,
    _L,
    "server refused a namespace connection with CONNECT_ERROR",
    "SIO v5 'Connection to a namespace'",
)
ACK_UNANSWERED = register(
    "sio.ack-unanswered",
    _W,
    _L,
    "event asked for an acknowledgement that never came",
    "SIO v5 'Acknowledgement' (S5)",
)
ACK_UNKNOWN_ID = register(
    "sio.ack-unknown-id",
    _W,
    _L,
    "ACK whose id no event of the other side asked for",
    "SIO v5 'Acknowledgement' (S5)",
)
DUPLICATE_ACK = register(
    "sio.duplicate-ack", _W, _L, "second ACK for the same event id", "SIO v5 'Acknowledgement' (S5)"
)
ACK_WRONG_NAMESPACE = register(
    "sio.ack-wrong-namespace",
    _W,
    _L,
    "ACK sent in a different namespace than its event",
    "SIO v5 'Acknowledgement' (S5)",
)
ACK_ID_REUSED = register(
    "sio.ack-id-reused",
    _W,
    _L,
    "event reuses an ack id that is still waiting for its ACK",
    "SIO v5 'Acknowledgement' (S5)",
)
ATTACHMENT_MISMATCH = register(
    "sio.attachment-mismatch",
    _E,
    _L,
    "binary attachments fewer or more than declared, text before they are done, or a bad placeholder",
    "SIO v5 'Format'; socket.io-parser 4.2.4 'illegal attachments' (S6)",
)

# --- bounds -------------------------------------------------------------------------------------------
LIMIT_EXCEEDED = register(
    "sio.limit-exceeded",
    _W,
    _L,
    "a bound of the analyzer was hit (JSON size or depth, namespace length, attachments, acks); "
    "the rest was not decoded",
    "socketscope house rule: bound everything the peer controls",
)
