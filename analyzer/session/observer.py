"""What the session layer tells a live observer while the capture is read (`Options.observer`).

The session builder analyses a session when it is over; what it decoded is told to the observer
as it arrives: each Engine.IO packet with the session it belongs to, each Socket.IO packet once
its attachments are in (with the event it acknowledges, paired by the session's AckTracker),
and the Socket.IO decoder's anomalies. The session analysis at the end remains the authority.
`analyzer/pipeline/observer.py: LiveObserver` adds what the connection layer tells.
"""

from __future__ import annotations

from typing import Protocol

from analyzer.model.common import Anomaly
from analyzer.model.session import AckRecord, EioPacketRecord, SioPacketRecord

__all__ = ["SessionObserver"]


class SessionObserver(Protocol):
    def on_anomaly(self, anomaly: Anomaly) -> None:
        """An anomaly as it is found."""

    def on_eio_packet(self, session: str, record: EioPacketRecord) -> None:
        """An Engine.IO packet of the session named `session` (its sid; `"\\0ws:N"` for a
        WebSocket-only session on connection N before its open packet names it)."""

    def on_sio_packet(self, session: str, record: SioPacketRecord, answers: AckRecord | None) -> None:
        """A Socket.IO packet, in the order its Engine.IO packets arrived (not the capture order
        the session's analysis uses); `answers`: the event with an ack id this ACK answers."""
