"""The typed dicts of a connection record: facts that go into the analysis document as they are
(ANALYSIS_JSON.md `client`, `server`, `tcp`, `websocket.handshake`, `websocket.close`, the
extras `process`, `proxy` and the WebSocket conversation). Their keys and value types are
checked by mypy where they are made (tcp/tracker.py, protocols/) and where they are read.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

__all__ = [
    "CertificateFacts",
    "CloseFacts",
    "CloseHandshake",
    "EncapsulationCount",
    "Endpoint",
    "H2GoAwayFacts",
    "Http2Facts",
    "LayerStats",
    "NotDecodedCount",
    "PerDirection",
    "PingFacts",
    "PingRtt",
    "ProcessInfo",
    "ProxyFacts",
    "ProxyTarget",
    "TcpFacts",
    "TcpHandshake",
    "TcpTeardown",
    "WsClose",
    "WsConversationFacts",
    "WsHandshake",
]


class Endpoint(TypedDict):
    ip: str
    port: int


class PerDirection(TypedDict):
    c2s: int
    s2c: int


class TcpHandshake(TypedDict):
    syn_frame: int | None
    synack_frame: int | None
    ack_frame: int | None
    rtt_ms: float | None
    syn_retransmissions: int
    syn_synack_ms: float | None
    synack_ack_ms: float | None
    complete: bool
    client_options: dict[str, object]
    server_options: dict[str, object]


class TcpTeardown(TypedDict):
    fin_frames: dict[str, int]  # direction -> its first FIN
    rst_frame: int | None
    rst_direction: str | None
    first_fin: str | None


class TcpFacts(TypedDict):
    handshake: TcpHandshake
    end: str  # "fin" | "rst" | "open"
    teardown: TcpTeardown
    packets: PerDirection
    payload_bytes: PerDirection
    stream_bytes: PerDirection
    retransmissions: int
    keepalives: int
    gaps: int
    gap_bytes: int
    first_ts: float
    last_ts: float
    first_frame: int
    last_frame: int


class ProcessInfo(TypedDict):
    """The process of a connection's first packet (pcapng PKTAP header)."""

    name: str
    pid: int


class ProxyTarget(TypedDict, total=False):
    host: str
    port: int


class ProxyFacts(TypedDict, total=False):
    """A SOCKS or PROXY protocol handshake at a connection's start: what it said, as far as it went."""

    protocol: str
    command: str
    user: str
    auth: str
    target: ProxyTarget
    bound: ProxyTarget  # the SOCKS 5 reply's address
    reply: str
    family: str
    authority: str
    original_client: Endpoint
    original_server: Endpoint
    error: str
    complete: bool
    handshake_bytes: PerDirection


class WsHandshake(TypedDict):
    request_frame: int | None
    response_frame: int | None
    key: str | None
    accept: str | None
    accept_valid: bool
    subprotocol: str | None
    extensions: str | None  # the response's Sec-WebSocket-Extensions lines joined with ", "
    permessage_deflate: dict[str, object] | None
    h2_stream_id: NotRequired[int | None]  # a WebSocket over an HTTP/2 stream (RFC 8441)


class CloseFacts(TypedDict):
    code: int | None
    reason: str | None
    reason_hex: str | None
    frame: int


class WsClose(TypedDict):
    c2s: CloseFacts | None
    s2c: CloseFacts | None


class CloseHandshake(TypedDict):
    first_closer: str | None
    completed: bool


class PingFacts(TypedDict):
    direction: str
    ping_frame: int
    ping_ts: float
    pong_frame: int | None
    pong_ts: float | None
    rtt_ms: float | None
    payload_hex: str


class PingRtt(TypedDict):
    count: int
    min: float | None
    max: float | None
    mean: float | None


class WsConversationFacts(TypedDict):
    """The WebSocket's close handshake and pings (extras of the `websocket` object)."""

    close_handshake: CloseHandshake
    pings: list[PingFacts]
    ping_rtt_ms: PingRtt


class CertificateFacts(TypedDict):
    """A certificate of the server's Certificate message (protocols/tls/certs.py); one that was
    not read has `der_length` and `error` only."""

    der_length: int
    subject: NotRequired[str]
    issuer: NotRequired[str]
    not_before: NotRequired[str]
    not_after: NotRequired[str]
    serial: NotRequired[str]
    san: NotRequired[list[str]]
    error: NotRequired[str]


class H2GoAwayFacts(TypedDict):
    direction: str
    frame: int
    last_stream_id: int
    error: str  # the error code's name (RFC 9113 §7)


class Http2Facts(TypedDict):
    """A connection's `http2` object (pipeline/h2_step.py: H2Step.finish)."""

    streams: int
    frames: dict[str, dict[str, int]]  # direction -> frame type -> count
    settings: dict[str, dict[str, int]]  # direction -> setting identifier -> value
    enable_connect_protocol: bool
    resets: dict[str, int]  # RST_STREAM error name -> count
    goaway: list[H2GoAwayFacts]
    pushes: int


class EncapsulationCount(TypedDict):
    path: list[str]
    tcp_packets: int


class NotDecodedCount(TypedDict):
    what: str
    packets: int


class LayerStats(TypedDict, total=False):
    """The analysis' `layer_stats`: DecodeStats.to_dict() (decode/packet.py), the application
    bytes of the connections and the tracker's counts (pipeline/wiring.py). Not total: an
    Analysis made without a capture has none, and the optional ones appear only when not 0."""

    packets: int
    bytes: int
    tcp_packets: int
    non_ip: int
    non_tcp: int
    ip_fragments: int
    malformed: int
    unsupported_link: int
    snaplen_truncated: int
    ipv4: int
    ipv6: int
    link_header_bytes: int
    ip_header_bytes: int
    tcp_header_bytes: int
    tcp_payload_bytes: int
    encapsulations: list[EncapsulationCount]
    not_decoded: list[NotDecodedCount]
    http_bytes: int
    websocket_header_bytes: int
    websocket_payload_bytes: int
    late_packets: int
    stray_resets: int
    evicted_connections: int
