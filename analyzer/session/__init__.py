"""Engine.IO / Socket.IO sessions across TCP connections: the builder and its records."""

from analyzer.model.session import (
    AckRecord,
    EioPacketRecord,
    EngineIOSession,
    HeartbeatStats,
    NamespaceRecord,
    PollingRequest,
    SessionEnd,
    SioPacketRecord,
    SocketIOSession,
    UpgradeAttempt,
    WebSocketLeg,
)
from analyzer.session.builder import SessionBuilder

__all__ = [
    "AckRecord",
    "EioPacketRecord",
    "EngineIOSession",
    "HeartbeatStats",
    "NamespaceRecord",
    "PollingRequest",
    "SessionBuilder",
    "SessionEnd",
    "SioPacketRecord",
    "SocketIOSession",
    "UpgradeAttempt",
    "WebSocketLeg",
]
