"""Socket.IO decoded as it arrives, for the live observer (analyzer/session/observer.py).

The session analysis (sio.py) decodes a session's Engine.IO messages in capture order once the
session is over: a long-poll response arrives after requests sent while it waited. A live
observer wants each packet when it arrives, so the builder also feeds each message to this
decoder as it comes (only with an observer): the same SioStreamDecoder, records made as sio.py
makes them, acknowledgements paired by the same AckTracker.
"""

from __future__ import annotations

from analyzer.model.engineio import EioPacketType
from analyzer.model.registry import make_anomaly
from analyzer.model.session import EioPacketRecord, SioPacketRecord
from analyzer.protocols.socketio import DEFAULT_MAX_ATTACHMENTS, SioStreamDecoder
from analyzer.session.acks import AckTracker
from analyzer.session.observer import SessionObserver

__all__ = ["LiveSocketIO"]

_MESSAGE = EioPacketType.MESSAGE
MAX_WAITING = 10_000  # Engine.IO packets whose Socket.IO packet is not complete yet, per session


class LiveSocketIO:
    """One session's Engine.IO packets to the observer, and its Socket.IO packets as they complete."""

    __slots__ = ("_acks", "_decoder", "_seq", "_waiting")

    def __init__(
        self, eio_version: int, *, max_attachments: int = DEFAULT_MAX_ATTACHMENTS, max_acks: int = 100_000
    ) -> None:
        self._decoder = SioStreamDecoder(5 if eio_version >= 4 else 4, max_attachments=max_attachments)
        self._acks = AckTracker(max_tracked=max_acks)
        self._waiting: dict[int, EioPacketRecord] = {}  # by tag: the parts of incomplete packets
        self._seq = 0

    def feed(self, session: str, record: EioPacketRecord, observer: SessionObserver) -> None:
        observer.on_eio_packet(session, record)
        packet = record.packet
        if packet.type is not _MESSAGE or (record.truncated and isinstance(packet.data, str)):
            return  # a cut text message is not decoded (sio.py: socketio.limit-exceeded at the end)
        self._seq += 1
        tag = self._seq
        if len(self._waiting) < MAX_WAITING:
            self._waiting[tag] = record
        if isinstance(packet.data, bytes):
            events = self._decoder.feed_binary(record.direction, packet.data, tag)
        else:
            events = self._decoder.feed_text(record.direction, packet.data, tag)
        for ev in events:
            parts = [self._waiting.pop(t, record) for t in ev.tags] or [record]
            head = parts[0]
            for a in ev.anomalies:
                where = (head.connection, head.direction, (head.frame,))
                observer.on_anomaly(make_anomaly(a.code, a.message, *where))
            if ev.packet is None:
                continue
            rec = SioPacketRecord.carried_by(parts, ev.packet, ev.complete)
            self._acks.on_packet(rec)  # its anomalies are the session analysis' to report
            observer.on_sio_packet(session, rec, self._acks.answered())
