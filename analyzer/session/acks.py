"""Socket.IO acknowledgements: each event with an id paired with its ACK (S5).

SIO v5 'Acknowledgement': an EVENT / BINARY_EVENT with id k asks the *other side* for one
ACK / BINARY_ACK with id k in the same namespace. Pairs are keyed on (namespace,
requester direction, id) inside one Engine.IO session (PROTOCOLS.md §3.6).
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.model.codes import socketio as codes
from analyzer.model.common import Anomaly, Direction
from analyzer.model.registry import make_anomaly
from analyzer.model.session import AckRecord, SioPacketRecord
from analyzer.model.socketio import SioPacketType
from analyzer.model.text import json_text

__all__ = ["AckTracker"]

_MAX_REPORTS = 200  # unanswered acks listed one by one; the rest are summed up

_Key = tuple[str, Direction, int]
# enum members as module constants: a class attribute lookup on an Enum costs more than the test
_EVENTS = (SioPacketType.EVENT, SioPacketType.BINARY_EVENT)
_ACKS = (SioPacketType.ACK, SioPacketType.BINARY_ACK)
_BINARY_ACK = SioPacketType.BINARY_ACK


@dataclass(slots=True)
class _Ack:
    nsp: str
    ack_id: int
    direction: Direction
    ts: float
    frame: int
    connection: int
    event: str | None
    response_ts: float | None = None
    response_frame: int | None = None
    ns: int | None = None  # `ts` and `response_ts` in integer nanoseconds (the latency)
    response_ns: int | None = None

    def record(self) -> AckRecord:
        return AckRecord(
            self.nsp,
            self.ack_id,
            self.direction,
            self.ts,
            self.frame,
            self.event,
            self.response_ts,
            self.response_frame,
            self.ns,
            self.response_ns,
        )


class AckTracker:
    """Feed every Socket.IO packet of a session in order; `finish()` gives the pairs and the leftovers.
    `answered()` is the pair the packet just fed completed (the live observer's ack latency)."""

    def __init__(self, *, max_tracked: int = 100_000) -> None:
        self.max_tracked = max_tracked
        self._acks: list[_Ack] = []
        self._pending: dict[_Key, _Ack] = {}
        self._answered: dict[_Key, _Ack] = {}
        self._last_nsp: dict[tuple[Direction, int], str] = {}  # namespace of the latest event per id
        self._overflow = False
        self._paired: _Ack | None = None  # by the packet fed last

    def on_packet(self, rec: SioPacketRecord) -> list[Anomaly]:
        p = rec.packet
        self._paired = None
        if p.type in _EVENTS:
            return self._request(rec) if p.ack_id is not None else []
        if p.type in _ACKS:
            return self._response(rec)
        return []

    def _anomaly(self, code: str, message: str, rec: SioPacketRecord) -> Anomaly:
        return make_anomaly(code, message, rec.connection, rec.direction, rec.frames or (rec.frame,))

    def _request(self, rec: SioPacketRecord) -> list[Anomaly]:
        p = rec.packet
        assert p.ack_id is not None
        out: list[Anomaly] = []
        key = (p.nsp, rec.direction, p.ack_id)
        if key in self._pending:
            out.append(
                self._anomaly(codes.ACK_ID_REUSED, f"ack id {p.ack_id} reused while still pending", rec)
            )
        if len(self._acks) >= self.max_tracked:
            if not self._overflow:
                self._overflow = True
                msg = f"more than {self.max_tracked} acknowledgements in one session; the rest not tracked"
                out.append(self._anomaly(codes.LIMIT_EXCEEDED, msg, rec))
            return out
        ack = _Ack(p.nsp, p.ack_id, rec.direction, rec.ts, rec.frame, rec.connection, p.event, ns=rec.ts_ns)
        self._acks.append(ack)
        self._pending[key] = ack
        self._answered.pop(key, None)
        self._last_nsp[(rec.direction, p.ack_id)] = p.nsp
        return out

    def _response(self, rec: SioPacketRecord) -> list[Anomaly]:
        p = rec.packet
        name = "BINARY_ACK" if p.type is _BINARY_ACK else "ACK"
        if p.ack_id is None:
            return [self._anomaly(codes.BAD_ACK_ID, f"{name} without an ack id (S3)", rec)]
        requester = rec.direction.other
        key = (p.nsp, requester, p.ack_id)
        ack = self._pending.pop(key, None)
        if ack is not None:
            # the ACK counts once whole: with binary attachments, when the last one arrived
            ack.response_ts = rec.end_ts if rec.end_ts is not None else rec.ts
            ack.response_ns = rec.end_ns if rec.end_ts is not None else rec.ts_ns
            ack.response_frame = rec.frame
            self._answered[key] = ack
            self._paired = ack
            return []
        if key in self._answered:
            first = self._answered[key].response_frame
            msg = f"second {name} for id {p.ack_id} on {p.nsp} (first in frame {first})"
            return [self._anomaly(codes.DUPLICATE_ACK, msg, rec)]
        other = self._last_nsp.get((requester, p.ack_id))
        if other is not None and (other, requester, p.ack_id) in self._pending:
            msg = f"{name} id {p.ack_id} on {p.nsp}, but the event asking for it was on {other}"
            return [self._anomaly(codes.ACK_WRONG_NAMESPACE, msg, rec)]
        if self._overflow:
            return []
        msg = f"{name} id {p.ack_id} on {p.nsp} answers no event of the other side"
        return [self._anomaly(codes.ACK_UNKNOWN_ID, msg, rec)]

    def answered(self) -> AckRecord | None:
        """The event the packet fed last acknowledged, paired with it (None if it answered none)."""
        return self._paired.record() if self._paired is not None else None

    def finish(self) -> tuple[list[AckRecord], list[Anomaly]]:
        out: list[Anomaly] = []
        left = [a for a in self._acks if a.response_ts is None]
        for a in left[:_MAX_REPORTS]:
            what = f"event {json_text(a.event, 60)}" if a.event is not None else "event"
            msg = f"{what} with ack id {a.ack_id} on {a.nsp} never acknowledged"
            out.append(make_anomaly(codes.ACK_UNANSWERED, msg, a.connection, a.direction, (a.frame,)))
        if len(left) > _MAX_REPORTS:
            a = left[_MAX_REPORTS]
            msg = f"{len(left) - _MAX_REPORTS} more unacknowledged events in this session"
            out.append(make_anomaly(codes.ACK_UNANSWERED, msg, a.connection, a.direction, (a.frame,)))
        return [a.record() for a in self._acks], out
