"""Anomaly codes of the Engine.IO layer (PROTOCOLS.md checklist G1-G9, plus bounds).

Sources: socketio/engine.io-protocol (v4 main, v3 branch) and its test suite,
socketio/engine.io-parser 2.2.1 (EIO3) and 5.2.2 (EIO4), socketio/engine.io `lib/server.ts`.
"""

from __future__ import annotations

from analyzer.model.codes.define import register
from analyzer.model.common import Layer, Severity

__all__ = [
    "BAD_BASE64",
    "BAD_ENCODING",
    "BAD_HANDSHAKE",
    "BAD_JSONP",
    "BAD_LENGTH_PREFIX",
    "BAD_OPEN_PACKET",
    "BAD_PACKET_TYPE",
    "BAD_POST_REPLY",
    "BAD_QUERY",
    "BAD_XHR2_RECORD",
    "BINARY_CONTENT_TYPE",
    "CONCURRENT_POLL",
    "EMPTY_PAYLOAD",
    "HANDSHAKE_NOT_CAPTURED",
    "LIMIT_EXCEEDED",
    "OPEN_MISSING_KEYS",
    "OPEN_NOT_FIRST",
    "PACKET_AFTER_CLOSE",
    "PAYLOAD_TOO_LARGE",
    "PING_INTERVAL_EXCEEDED",
    "PING_TIMEOUT",
    "POLLING_AFTER_UPGRADE",
    "POST_REPLY_CASE",
    "REQUEST_REJECTED",
    "SECOND_WEBSOCKET",
    "UNEXPECTED_PING",
    "UNEXPECTED_PONG",
    "UNKNOWN_SID",
    "UNSUPPORTED_VERSION",
    "UPGRADE_FAILED",
    "UPGRADE_OUT_OF_ORDER",
]

_E = Severity.ERROR
_W = Severity.WARN
_N = Severity.NOTE
_L = Layer.ENGINEIO

# --- packets and payloads (G1, G7, G8) ---------------------------------------------------------------
BAD_PACKET_TYPE = register(
    "eio.bad-packet-type",
    _E,
    _L,
    "Engine.IO packet type not 0-6, a non-digit first character (other than 'b'), or an empty packet",
    "EIO v4/v3 'Packet encoding'; test suite (G1)",
)
BAD_BASE64 = register(
    "eio.bad-base64", _E, _L, "binary packet 'b...' whose base64 does not decode", "EIO v4 'Payload' (G1)"
)
BAD_ENCODING = register(
    "eio.bad-encoding", _E, _L, "text payload or packet that is not valid UTF-8", "EIO v4 'Payload' (G1)"
)
BAD_LENGTH_PREFIX = register(
    "eio.bad-length-prefix",
    _E,
    _L,
    "v3 polling record whose length prefix is malformed or is not the UTF-16 length of the packet",
    "EIO v3 'Payload'; engine.io-parser 2.2.1 decodePayload (G7)",
)
BAD_XHR2_RECORD = register(
    "eio.bad-xhr2-record",
    _E,
    _L,
    "v3 binary (XHR2) payload record with a bad kind byte, a length digit above 9, no 0xff or a short body",
    "EIO v3 'Payload'; engine.io-parser 2.2.1 decodePayloadAsBinary (G7)",
)
BAD_JSONP = register(
    "eio.bad-jsonp",
    _E,
    _L,
    'JSONP polling body that is not ___eio[j]("..."); or a form POST without d=',
    "EIO v3 'Transports' (JSONP); engine.io polling-jsonp",
)
EMPTY_PAYLOAD = register(
    "eio.empty-payload",
    _W,
    _L,
    "empty polling body where a payload was expected (JS parsers report a parser error)",
    "engine.io-parser decodePayload",
)
PAYLOAD_TOO_LARGE = register(
    "eio.payload-too-large",
    _W,
    _L,
    "client batch (POST body or WebSocket message) larger than the maxPayload of the open packet",
    "EIO v4 'Handshake' maxPayload (G8)",
)
BINARY_CONTENT_TYPE = register(
    "eio.binary-content-type",
    _W,
    _L,
    "binary polling body without Content-Type application/octet-stream (or the reverse)",
    "EIO v3 'Payload', v4 'Headers' (G8)",
)

# --- handshake and open packet (G2, G9) ---------------------------------------------------------------
OPEN_MISSING_KEYS = register(
    "eio.open-missing-keys",
    _E,
    _L,
    "open packet without sid, upgrades, pingInterval, pingTimeout (and maxPayload in v4)",
    "EIO v4 'Handshake'; test suite (G2)",
)
BAD_OPEN_PACKET = register(
    "eio.bad-open-packet",
    _E,
    _L,
    "open packet whose data is not a JSON object or has keys of the wrong type",
    "EIO v4 'Handshake' (G2)",
)
OPEN_NOT_FIRST = register(
    "eio.open-not-first",
    _E,
    _L,
    "handshake without an open packet first, or an open packet later in the session",
    "EIO v4 'Handshake' (G2)",
)
BAD_HANDSHAKE = register(
    "eio.bad-handshake",
    _E,
    _L,
    "handshake request that is not a GET (servers answer 400 'Bad handshake method')",
    "EIO v4 'Handshake'; engine.io server.ts error code 2",
)
BAD_QUERY = register(
    "eio.bad-query",
    _W,
    _L,
    "Engine.IO request with a missing or bad EIO or transport query parameter",
    "EIO v4 'Transports'; engine.io server.ts error codes 0, 3, 5",
)
UNSUPPORTED_VERSION = register(
    "eio.unsupported-version",
    _N,
    _L,
    "server refused the Engine.IO protocol version (400, code 5 'Unsupported protocol version')",
    "engine.io server.ts verify() (G9)",
)
HANDSHAKE_NOT_CAPTURED = register(
    "eio.handshake-not-captured",
    _N,
    _L,
    "session traffic without its handshake in the capture; open-packet checks were skipped",
    "EIO v4 'Handshake'",
)

# --- polling requests (G3) ----------------------------------------------------------------------------
UNKNOWN_SID = register(
    "eio.unknown-sid",
    _E,
    _L,
    "request for a sid the server does not know (or that no handshake created)",
    "EIO v4 'Sending and receiving data'; server.ts error code 1 (G3)",
)
CONCURRENT_POLL = register(
    "eio.concurrent-poll",
    _E,
    _L,
    "two GET (or two POST) polling requests outstanding at once for one sid",
    "EIO v4 'Sending and receiving data' (G3)",
)
BAD_POST_REPLY = register(
    "eio.bad-post-reply",
    _E,
    _L,
    "polling POST answered 200 with a body other than 'ok'",
    "EIO v4 'Sending and receiving data' (G3)",
)
POST_REPLY_CASE = register(
    "eio.post-reply-case",
    Severity.CHAT,
    _L,
    "polling POST answered 'OK' rather than the spec's 'ok' (python-engineio does this; clients ignore it)",
    "EIO v4 'Sending and receiving data' (G3); python-engineio handle_post_request",
)
REQUEST_REJECTED = register(
    "eio.request-rejected",
    _W,
    _L,
    "server answered an Engine.IO polling request with an error status",
    "EIO v4 'Sending and receiving data'; server.ts error codes",
)

# --- heartbeat (G4, G5) -------------------------------------------------------------------------------
UNEXPECTED_PING = register(
    "eio.unexpected-ping",
    _W,
    _L,
    "ping from the wrong side (v4: client '2' that is not a probe; v3: server '2')",
    "EIO v4 'Heartbeat'; v3 'Timeouts' (G4)",
)
UNEXPECTED_PONG = register(
    "eio.unexpected-pong",
    _W,
    _L,
    "pong from the wrong side (v4: server '3' that is not a probe; v3: client '3')",
    "EIO v4 'Heartbeat'; v3 'Timeouts' (G4)",
)
PING_TIMEOUT = register(
    "eio.ping-timeout",
    _W,
    _L,
    "pong later than pingTimeout after its ping, or never sent",
    "EIO v4 'Heartbeat'; v3 'Timeouts' (G5)",
)
PING_INTERVAL_EXCEEDED = register(
    "eio.ping-interval-exceeded",
    _W,
    _L,
    "gap between pings longer than pingInterval + pingTimeout",
    "EIO v4 'Heartbeat' (G5)",
)

# --- upgrade and session end (G6) ---------------------------------------------------------------------
UPGRADE_OUT_OF_ORDER = register(
    "eio.upgrade-out-of-order",
    _E,
    _L,
    "upgrade steps out of order (5 before 3probe, a probe other than 2probe/3probe, data before 5)",
    "EIO v4 'Upgrade'; test suite (G6)",
)
POLLING_AFTER_UPGRADE = register(
    "eio.polling-after-upgrade",
    _E,
    _L,
    "polling request for a sid after its upgrade to WebSocket",
    "EIO v4 'Upgrade'; test suite (G6)",
)
SECOND_WEBSOCKET = register(
    "eio.second-websocket",
    _E,
    _L,
    "a second WebSocket for a sid that has already upgraded",
    "EIO v4 'Upgrade'; test suite (G6)",
)
UPGRADE_FAILED = register(
    "eio.upgrade-failed",
    _N,
    _L,
    "WebSocket upgrade attempt that did not complete (no 101, probe unanswered, closed before '5')",
    "EIO v4 'Upgrade'",
)
PACKET_AFTER_CLOSE = register(
    "eio.packet-after-close",
    _W,
    _L,
    "Engine.IO packets after a close packet in the same session",
    "EIO v4 'Packet encoding' close",
)

# --- bounds -------------------------------------------------------------------------------------------
LIMIT_EXCEEDED = register(
    "eio.limit-exceeded",
    _W,
    _L,
    "a bound of the analyzer was hit (packets per payload or session, anomalies listed per session, "
    "record size, sessions); rest dropped",
    "socketscope house rule: bound everything the peer controls",
)
