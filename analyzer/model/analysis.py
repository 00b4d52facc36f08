"""The Analysis: the OSI-layered model every consumer (CLI, web UI, exports) reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analyzer.model.common import Anomaly
from analyzer.model.facts import Endpoint, Http2Facts, LayerStats, ProcessInfo, ProxyFacts, TcpFacts
from analyzer.model.jsontypes import JsonObject
from analyzer.model.records import HttpExchange
from analyzer.model.session import EngineIOSession
from analyzer.model.tls import TlsInfo
from analyzer.model.websocket import WebSocketRecord
from analyzer.version import __version__

__all__ = ["SCHEMA_VERSION", "Analysis", "CaptureInfo", "ConnectionRecord"]

SCHEMA_VERSION = 1


@dataclass(slots=True)
class CaptureInfo:
    path: str
    format: str  # "pcap" | "pcapng" | "live"
    link_types: list[str] = field(default_factory=list)
    packets: int = 0
    bytes: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    complete: bool = True
    error: str | None = None
    error_kind: str | None = None  # "truncated" | "corrupt" | None

    def to_dict(self) -> JsonObject:
        return {
            "path": self.path,
            "format": self.format,
            "link_types": list(self.link_types),
            "packets": self.packets,
            "bytes": self.bytes,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "complete": self.complete,
            "error": self.error,
        }


@dataclass(slots=True)
class ConnectionRecord:
    """One TCP connection and what it carried, layer by layer."""

    id: int
    client: Endpoint
    server: Endpoint
    ip_version: int
    tcp: TcpFacts
    http: list[HttpExchange] = field(default_factory=list)
    websocket: WebSocketRecord | None = None
    app_protocol: str = "unknown"  # "http" | "websocket" | "tls" (not decrypted) | "unknown"
    layer_bytes: dict[str, int] = field(default_factory=dict)  # bytes per application layer
    # the headers in front of its IP header, outermost first (tunnels, VLAN tags, radio headers);
    # None for a lone Ethernet, Linux cooked, loopback or raw-IP header
    encapsulation: list[str] | None = None
    process: ProcessInfo | None = None  # {"name", "pid"} of its first packet's PKTAP header
    proxy: ProxyFacts | None = None  # a SOCKS or PROXY protocol handshake at its start

    tls: TlsInfo | None = None  # a TLS connection (ANALYSIS_JSON.md "TLS and HTTP/2")
    http2: Http2Facts | None = None  # an HTTP/2 connection: streams, frames, settings (docs/analysis-json.md)

    def to_dict(self, *, lists: bool = True) -> dict[str, Any]:  # holds fact TypedDicts
        """`lists=False`: the WebSocket's frames and messages as empty lists (WebSocketRecord.to_dict)."""
        out = {
            "id": self.id,
            "client": self.client,
            "server": self.server,
            "ip_version": self.ip_version,
            "app_protocol": self.app_protocol,
            "tcp": self.tcp,
            "http": [x.to_dict() for x in self.http],
            "websocket": self.websocket.to_dict(lists=lists) if self.websocket is not None else None,
        }
        # only when there is something to say (additive: a plain connection's record is unchanged)
        if self.encapsulation is not None:
            out["encapsulation"] = self.encapsulation
        if self.process is not None:
            out["process"] = self.process
        if self.proxy is not None:
            out["proxy"] = self.proxy
        if self.tls is not None:  # absent on plaintext connections
            out["tls"] = self.tls.to_dict()
        if self.http2 is not None:  # absent unless the connection spoke HTTP/2
            out["http2"] = self.http2
        return out


@dataclass(slots=True)
class Analysis:
    capture: CaptureInfo
    connections: list[ConnectionRecord] = field(default_factory=list)
    engineio_sessions: list[EngineIOSession] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    layer_stats: LayerStats = field(default_factory=lambda: LayerStats())

    def connection(self, cid: int) -> ConnectionRecord | None:
        for c in self.connections:
            if c.id == cid:
                return c
        return None

    def to_dict(self) -> dict[str, Any]:  # holds fact TypedDicts
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "socketscope", "version": __version__},
            "capture": self.capture.to_dict(),
            "connections": [c.to_dict() for c in self.connections],
            "engineio_sessions": [s.to_dict() for s in self.engineio_sessions],
            "anomalies": [a.to_dict() for a in self.anomalies],
            "layer_stats": self.layer_stats,
        }
