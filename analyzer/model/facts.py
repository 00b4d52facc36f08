"""The typed dicts of a connection record: facts that go into the analysis document as they are
(ANALYSIS_JSON.md `client`, `server`, `tcp`, `websocket.handshake`, `websocket.close`, the
extras `process`, `proxy` and the WebSocket conversation). Their keys and value types are
checked by mypy where they are made (tcp/tracker.py, protocols/) and where they are read.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

__all__ = [
    "CloseFacts",
    "CloseHandshake",
    "Endpoint",
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
