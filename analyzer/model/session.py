"""Records of the session layer: one Engine.IO session (sid) and the Socket.IO traffic inside it.

`EngineIOSession.to_json()` writes the ANALYSIS_JSON.md "EngineIOSession" structure (the
packets with the templates of model/session_json.py, the other fields from `head_dict()` /
`tail_dict()`); `to_dict()` is that JSON read back. Keys beyond the contract are extras
(`path`, `handshake_captured`, `upgrade`, `heartbeat`, `end`, `requests`, `websockets`, packet
`size`/`b64`/`frames`, Socket.IO `namespaces`...), never renames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from analyzer.model.common import Anomaly, Direction
from analyzer.model.engineio import EioPacket
from analyzer.model.jsontext import JsonText
from analyzer.model.jsontypes import JsonObject, JsonValue
from analyzer.model.session_json import eio_packet_parts, session_parts, sio_packet_parts, socketio_parts
from analyzer.model.socketio import SioPacket
from analyzer.model.spill import RecordList
from analyzer.model.times import ns_of, span_ms

__all__ = [
    "AckRecord",
    "EioPacketRecord",
    "EngineIOSession",
    "HeartbeatPair",
    "HeartbeatStats",
    "NamespaceRecord",
    "PollingRequest",
    "SessionEnd",
    "SioPacketRecord",
    "SocketIOSession",
    "UpgradeAttempt",
    "WebSocketLeg",
]


def _span(start: float, start_ns: int | None, end: float, end_ns: int | None) -> float:
    """From one time to another in milliseconds, to the microsecond, from integer nanoseconds."""
    return round(span_ms(ns_of(start, start_ns), ns_of(end, end_ns)), 3)


@dataclass(slots=True)  # not frozen: one per packet, and a frozen __init__ costs several times more
class EioPacketRecord(JsonText):
    """An Engine.IO packet as seen on the wire, with where it travelled."""

    direction: Direction
    ts: float
    frame: int
    transport: str  # "polling" | "websocket"
    connection: int
    packet: EioPacket
    size: int = 0  # bytes of the WebSocket message, or of the packet's text in a polling body
    truncated: bool = False  # the message was cut at the display bound before decoding
    stored: tuple[int, int, bool] | None = None  # payload parked in a PayloadStore (streaming)
    ts_ns: int | None = None  # `ts` in integer nanoseconds: durations are computed from it

    def to_json(self) -> str:
        """The packet in the analysis document (written by session_json.eio_packet_parts)."""
        out: list[str] = []
        eio_packet_parts(self, out, {}, self.packet.data)
        return "".join(out)


@dataclass(slots=True)  # not frozen: one per packet, and a frozen __init__ costs several times more
class SioPacketRecord(JsonText):
    """A Socket.IO packet: where its header travelled, and every packet that carried a part of it."""

    direction: Direction
    ts: float
    frame: int
    transport: str
    connection: int
    packet: SioPacket
    frames: tuple[int, ...] = ()  # the header's frame, then each attachment's
    complete: bool = True  # False when attachments were missing
    end_ts: float | None = None  # when its last attachment arrived (binary packets)
    ts_ns: int | None = None  # `ts` and `end_ts` in integer nanoseconds (durations)
    end_ns: int | None = None

    @classmethod
    def carried_by(
        cls, parts: Sequence[EioPacketRecord], packet: SioPacket, complete: bool
    ) -> SioPacketRecord:
        """The Socket.IO packet carried by these Engine.IO packets (its header's first)."""
        head = parts[0]
        frames = (head.frame,) if len(parts) == 1 else tuple(r.frame for r in parts)
        return cls(
            head.direction,
            head.ts,
            head.frame,
            head.transport,
            head.connection,
            packet,
            frames,
            complete,
            parts[-1].ts,
            head.ts_ns,
            parts[-1].ts_ns,
        )

    def to_json(self) -> str:
        """The packet in the analysis document (written by session_json.sio_packet_parts)."""
        out: list[str] = []
        sio_packet_parts(self, out, {})
        return "".join(out)


@dataclass(slots=True)  # not frozen: one per packet, and a frozen __init__ costs several times more
class AckRecord:
    """An event that asked for an acknowledgement, and its ACK if one came (SIO v5 'Acknowledgement')."""

    nsp: str
    ack_id: int
    request_direction: Direction
    request_ts: float
    request_frame: int
    event: str | None = None
    response_ts: float | None = None
    response_frame: int | None = None
    request_ns: int | None = None  # the times in integer nanoseconds (the latency)
    response_ns: int | None = None

    @property
    def latency_ms(self) -> float | None:
        if self.response_ts is None:
            return None
        return _span(self.request_ts, self.request_ns, self.response_ts, self.response_ns)

    def to_dict(self) -> JsonObject:
        return {
            "nsp": self.nsp,
            "ack_id": self.ack_id,
            "request_direction": self.request_direction.value,
            "request_ts": self.request_ts,
            "response_ts": self.response_ts,
            "latency_ms": self.latency_ms,
            "request_frame": self.request_frame,
            "response_frame": self.response_frame,
            "event": self.event,
        }


@dataclass(frozen=True, slots=True)
class NamespaceRecord:
    """What became of a namespace (SIO v5 'Connection to a namespace')."""

    nsp: str
    state: str  # "connected" | "refused" | "disconnected" | "requested" | "unknown"
    sid: str | None = None  # the Socket.IO sid of the CONNECT reply (v5)
    connect_frame: int | None = None
    error: JsonValue = None  # the CONNECT_ERROR payload (to_jsonable: bytes as {"$hex"})

    def to_dict(self) -> JsonObject:
        return {
            "nsp": self.nsp,
            "state": self.state,
            "sid": self.sid,
            "connect_frame": self.connect_frame,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class SocketIOSession(JsonText):
    protocol: int  # 4 (over EIO3) or 5 (over EIO4)
    parser: str  # "default" | "msgpack"
    packets: RecordList[SioPacketRecord]  # streaming output: JSON written while it was analysed
    acks: tuple[AckRecord, ...]
    namespaces: tuple[NamespaceRecord, ...] = ()
    # (index in `packets`, anomaly) for the anomalies raised on one packet (not in the document:
    # the text summary prints them after their packet; several packets may share a frame)
    anomalies_at: tuple[tuple[int, Anomaly], ...] = ()

    def to_json(self) -> str:
        """`socketio` of a session in the analysis document (session_json.socketio_parts)."""
        out: list[str] = []
        socketio_parts(self, out, {})
        return "".join(out)

    def head_dict(self) -> JsonObject:
        """The keys before "packets" (model/session_json.py writes the packets with templates)."""
        return {"protocol": self.protocol, "parser": self.parser}

    def tail_dict(self) -> JsonObject:
        """The keys after "packets"."""
        return {
            "acks": [a.to_dict() for a in self.acks],
            "namespaces": [n.to_dict() for n in self.namespaces],
        }


@dataclass(slots=True)  # not frozen: one per packet, and a frozen __init__ costs several times more
class PollingRequest:
    """One long-polling HTTP request of a session (GET = server to client data, POST = client to server)."""

    connection: int
    method: str
    handshake: bool
    request_frame: int
    request_ts: float
    response_frame: int | None
    response_ts: float | None
    status: int | None
    body_bytes: int  # request body (POST) or response body (GET)
    packets: int
    error_code: int | None = None  # from a {"code": N, "message": ...} error body (engine.io server.ts)
    error_message: str | None = None

    def to_dict(self) -> JsonObject:
        return {
            "connection": self.connection,
            "method": self.method,
            "handshake": self.handshake,
            "request_frame": self.request_frame,
            "request_ts": self.request_ts,
            "response_frame": self.response_frame,
            "response_ts": self.response_ts,
            "status": self.status,
            "body_bytes": self.body_bytes,
            "packets": self.packets,
            "error_code": self.error_code,
            "error_message": self.error_message,
        }


@dataclass(frozen=True, slots=True)
class WebSocketLeg:
    """A WebSocket connection of a session, with how it ended if the pipeline told us."""

    connection: int
    request_frame: int
    request_ts: float
    status: int | None  # 101, another status, or None without a response
    open_frame: int | None
    open_ts: float | None
    close_direction: Direction | None = None  # first Close frame
    close_code: int | None = None
    close_ts: float | None = None
    close_frame: int | None = None
    tcp_end: str | None = None  # "fin" | "rst"
    tcp_end_ts: float | None = None
    tcp_end_frame: int | None = None

    def to_dict(self) -> JsonObject:
        return {
            "connection": self.connection,
            "request_frame": self.request_frame,
            "status": self.status,
            "open_frame": self.open_frame,
            "open_ts": self.open_ts,
            "close": None
            if self.close_direction is None
            else {
                "direction": self.close_direction.value,
                "code": self.close_code,
                "ts": self.close_ts,
                "frame": self.close_frame,
            },
            "tcp_end": self.tcp_end,
        }


@dataclass(frozen=True, slots=True)
class UpgradeAttempt:
    """One try at moving the session to WebSocket: 2probe, 3probe, noop on the GET, 5 (EIO 'Upgrade')."""

    connection: int
    outcome: str  # "upgraded" | "failed" | "incomplete"
    reason: str | None = None
    status: int | None = None
    open_ts: float | None = None
    probe_ts: float | None = None
    probe_frame: int | None = None
    probe_reply_ts: float | None = None
    probe_reply_frame: int | None = None
    noop_frame: int | None = None
    upgrade_ts: float | None = None
    upgrade_frame: int | None = None
    probe_ns: int | None = None  # the times in integer nanoseconds (the durations)
    probe_reply_ns: int | None = None
    upgrade_ns: int | None = None

    @property
    def upgrade_ms(self) -> float | None:
        """From the client's 2probe to its 5."""
        if self.probe_ts is None or self.upgrade_ts is None:
            return None
        return _span(self.probe_ts, self.probe_ns, self.upgrade_ts, self.upgrade_ns)

    @property
    def probe_rtt_ms(self) -> float | None:
        if self.probe_ts is None or self.probe_reply_ts is None:
            return None
        return _span(self.probe_ts, self.probe_ns, self.probe_reply_ts, self.probe_reply_ns)

    def to_dict(self) -> JsonObject:
        return {
            "connection": self.connection,
            "outcome": self.outcome,
            "reason": self.reason,
            "status": self.status,
            "probe_frame": self.probe_frame,
            "probe_reply_frame": self.probe_reply_frame,
            "noop_frame": self.noop_frame,
            "upgrade_frame": self.upgrade_frame,
            "probe_rtt_ms": self.probe_rtt_ms,
            "upgrade_ms": self.upgrade_ms,
        }


@dataclass(frozen=True, slots=True)
class HeartbeatPair:
    """A heartbeat ping and the pong that answered it."""

    ping_frame: int
    ping_ts: float
    pong_frame: int
    pong_ts: float
    rtt_ms: float

    def to_dict(self) -> JsonObject:
        return {
            "ping_frame": self.ping_frame,
            "ping_ts": self.ping_ts,
            "pong_frame": self.pong_frame,
            "pong_ts": self.pong_ts,
            "rtt_ms": self.rtt_ms,
        }


@dataclass(frozen=True, slots=True)
class HeartbeatStats:
    """Pings and pongs against the open packet's pingInterval / pingTimeout (EIO 'Heartbeat')."""

    pinger: Direction  # v4: the server pings; v3: the client
    pings: int = 0
    pongs: int = 0
    rtt_ms: tuple[float, ...] = ()
    unanswered: int = 0
    unsolicited_pongs: int = 0
    ping_gaps_ms: tuple[float, ...] = ()
    late_pongs: int = 0
    pairs: tuple[HeartbeatPair, ...] = ()  # the answered pings, in order: rtt_ms[i] is pairs[i]'s

    def to_dict(self) -> JsonObject:
        rtt, gaps = self.rtt_ms, self.ping_gaps_ms
        return {
            "pinger": self.pinger.value,
            "pings": self.pings,
            "pongs": self.pongs,
            "rtt_ms": list(rtt),
            "rtt_max_ms": max(rtt) if rtt else None,
            "rtt_mean_ms": round(sum(rtt) / len(rtt), 3) if rtt else None,
            "unanswered": self.unanswered,
            "late_pongs": self.late_pongs,
            "unsolicited_pongs": self.unsolicited_pongs,
            "ping_gap_max_ms": max(gaps) if gaps else None,
            "ping_gap_mean_ms": round(sum(gaps) / len(gaps), 3) if gaps else None,
            "pairs": [p.to_dict() for p in self.pairs],
        }


@dataclass(frozen=True, slots=True)
class SessionEnd:
    reason: str  # "close-packet" | "ws-close" | "tcp-end" | "unknown"
    direction: Direction | None = None
    ts: float | None = None
    frame: int | None = None
    connection: int | None = None

    def to_dict(self) -> JsonObject:
        return {
            "reason": self.reason,
            "direction": self.direction.value if self.direction else None,
            "ts": self.ts,
            "frame": self.frame,
            "connection": self.connection,
        }


@dataclass(frozen=True, slots=True)
class EngineIOSession(JsonText):
    """One Engine.IO session (one sid) across all the TCP connections that carried it."""

    sid: str
    protocol: int
    transport_path: tuple[str, ...]
    upgraded: bool
    connections: tuple[int, ...]
    ping_interval_ms: int | None
    ping_timeout_ms: int | None
    max_payload: int | None
    # streaming output: the packets' JSON, written while the session was analysed (with the
    # payloads read back from disk: the records themselves keep none then)
    packets: RecordList[EioPacketRecord]
    socketio: SocketIOSession | None = None
    path: str = ""
    handshake_captured: bool = False
    upgrades: tuple[UpgradeAttempt, ...] = ()
    heartbeat: HeartbeatStats | None = None
    end: SessionEnd | None = None
    requests: tuple[PollingRequest, ...] = ()
    websockets: tuple[WebSocketLeg, ...] = ()
    packets_dropped: int = 0
    anomalies: tuple[Anomaly, ...] = ()  # also in the analysis' list; kept here for per-session views

    @property
    def first_ts(self) -> float | None:
        first = self.packets.first
        return first.ts if first is not None else None

    @property
    def first_frame(self) -> int | None:
        """Its first request (polling, or the WebSocket upgrade) or packet: the order the
        analysis lists sessions in, which streamed sessions are put back into."""
        frames = [r.request_frame for r in self.requests] + [w.request_frame for w in self.websockets]
        first = self.packets.first
        if first is not None:
            frames.append(first.frame)
        return min(frames, default=None)

    @property
    def last_ts(self) -> float | None:
        last = self.packets.last
        return last.ts if last is not None else None

    def to_json(self) -> str:
        """The session in the analysis document (session_json.session_parts)."""
        out: list[str] = []
        session_parts(self, out)
        return "".join(out)

    def head_dict(self) -> JsonObject:
        """The keys before "packets" (model/session_json.py writes the packets with templates)."""
        return {
            "sid": self.sid,
            "protocol": self.protocol,
            "transport_path": list(self.transport_path),
            "upgraded": self.upgraded,
            "connections": list(self.connections),
            "ping_interval_ms": self.ping_interval_ms,
            "ping_timeout_ms": self.ping_timeout_ms,
            "max_payload": self.max_payload if self.protocol >= 4 else None,
        }

    def tail_dict(self) -> JsonObject:
        """The keys after "packets" and "socketio"."""
        done = next((u for u in self.upgrades if u.outcome == "upgraded"), None)
        return {
            "path": self.path,
            "handshake_captured": self.handshake_captured,
            "upgrade": None
            if not self.upgrades
            else {
                "upgrade_ms": done.upgrade_ms if done else None,
                "attempts": [u.to_dict() for u in self.upgrades],
            },
            "heartbeat": self.heartbeat.to_dict() if self.heartbeat is not None else None,
            "end": self.end.to_dict() if self.end is not None else None,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "requests": [r.to_dict() for r in self.requests],
            "websockets": [w.to_dict() for w in self.websockets],
            "packets_dropped": self.packets_dropped,
            "anomaly_count": len(self.anomalies),
        }
