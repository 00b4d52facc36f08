"""Selection filters shared by every export format: --connection, --sid, --namespace, --event.

Semantics (docs/exports.md): repeating an option widens it (OR); different options narrow
each other (AND).

- `--connection ID` keeps those TCP connections, and the Engine.IO / Socket.IO packets that
  travelled on them.
- `--sid SID` keeps the Engine.IO sessions with that sid, and every TCP connection that
  carried them (the session's `connections`, the handshake request's included).
- `--namespace NSP` / `--event NAME` keep the sessions that carry at least one Socket.IO packet
  on that namespace / with that event name, and all their connections. At the Socket.IO layer
  (and for the acks table) they also pick packets: the packets of that namespace, the events of
  that name and the ACKs that answer them.
- No option at all selects everything, anomalies without a connection included.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from analyzer.model.analysis import Analysis, ConnectionRecord
from analyzer.model.common import Anomaly, Direction
from analyzer.model.session import AckRecord, EioPacketRecord, EngineIOSession, SioPacketRecord
from analyzer.model.socketio import SioPacketType
from analyzer.protocols.engineio import parse_engineio_query

__all__ = ["Selected", "Selection", "default_layer"]

_ACK_TYPES = (SioPacketType.ACK, SioPacketType.BINARY_ACK)


@dataclass(frozen=True, slots=True)
class Selection:
    """What the user asked for; empty sets mean "no filter on this"."""

    connections: frozenset[int] = frozenset()
    sids: frozenset[str] = frozenset()
    namespaces: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        connections: Iterable[int] = (),
        sids: Iterable[str] = (),
        namespaces: Iterable[str] = (),
        events: Iterable[str] = (),
    ) -> Selection:
        return cls(frozenset(connections), frozenset(sids), frozenset(namespaces), frozenset(events))

    @property
    def everything(self) -> bool:
        return not (self.connections or self.sids or self.namespaces or self.events)

    @property
    def packet_level(self) -> bool:
        """Whether Socket.IO packets themselves are filtered (not only their sessions)."""
        return bool(self.namespaces or self.events)


class Selected:
    """The part of one Analysis that a Selection picks: connections, sessions, packets, anomalies."""

    def __init__(self, analysis: Analysis, selection: Selection) -> None:
        self.analysis = analysis
        self.selection = selection
        sel = selection
        sessions: list[EngineIOSession] = []
        for s in analysis.engineio_sessions:
            if sel.sids and s.sid not in sel.sids:
                continue
            if sel.connections and not sel.connections.intersection(s.connections):
                continue
            if sel.packet_level and not any(self._sio_match(p) for p in _sio_records(s)):
                continue
            sessions.append(s)
        ids = {c.id for c in analysis.connections}
        if sel.connections:
            ids &= sel.connections
        if sel.sids or sel.packet_level:
            carried: set[int] = set()
            for s in sessions:
                carried.update(s.connections)
            ids &= carried
        self.connection_ids = frozenset(ids)
        self.connections = [c for c in analysis.connections if c.id in ids]
        self.sessions = sessions
        # which session a connection or an HTTP request belongs to
        self._conn_sid: dict[int, str] = {}
        self._request_sid: dict[tuple[int, int], str] = {}
        for s in analysis.engineio_sessions:
            for cid in s.connections:
                self._conn_sid.setdefault(cid, s.sid)
            for r in s.requests:
                self._request_sid[(r.connection, r.request_frame)] = s.sid
            for w in s.websockets:
                self._request_sid[(w.connection, w.request_frame)] = s.sid

    # -- lookups ---------------------------------------------------------------------------------------
    def connection(self, cid: int) -> ConnectionRecord | None:
        return self.analysis.connection(cid) if cid in self.connection_ids else None

    def sid_of_connection(self, cid: int) -> str | None:
        """The first Engine.IO session that used this connection, if any."""
        return self._conn_sid.get(cid)

    def sid_of_request(self, cid: int, request_frame: int, target: str | None = None) -> str | None:
        """The session an HTTP request belongs to: the session builder's record, else its `sid=`."""
        sid = self._request_sid.get((cid, request_frame))
        if sid is None and target is not None:
            query = parse_engineio_query(target)
            sid = query.sid if query is not None else None
        return sid

    def sids_of_connection(self, cid: int) -> list[str]:
        return [s.sid for s in self.analysis.engineio_sessions if cid in s.connections]

    # -- records ---------------------------------------------------------------------------------------
    def eio_packets(self, session: EngineIOSession) -> Iterator[EioPacketRecord]:
        ids = self.connection_ids
        for p in session.packets:
            if p.connection in ids:
                yield p

    def sio_packets(self, session: EngineIOSession) -> Iterator[SioPacketRecord]:
        ids = self.connection_ids
        answers = self._answer_keys(session)
        for p in _sio_records(session):
            if p.connection not in ids:
                continue
            if not self.selection.packet_level or self._sio_match(p) or self._answers(p, answers):
                yield p

    def acks(self, session: EngineIOSession) -> Iterator[AckRecord]:
        sel = self.selection
        frames = {p.frame for p in _sio_records(session) if p.connection in self.connection_ids}
        for a in session.socketio.acks if session.socketio is not None else ():
            if sel.namespaces and a.nsp not in sel.namespaces:
                continue
            if sel.events and a.event not in sel.events:
                continue
            if a.request_frame in frames:
                yield a

    def anomalies(self) -> Iterator[Anomaly]:
        everything = self.selection.everything
        ids = self.connection_ids
        for a in self.analysis.anomalies:
            if (a.connection is None and everything) or (a.connection is not None and a.connection in ids):
                yield a

    # -- helpers ---------------------------------------------------------------------------------------
    def _sio_match(self, p: SioPacketRecord) -> bool:
        sel = self.selection
        if sel.namespaces and p.packet.nsp not in sel.namespaces:
            return False
        return not sel.events or p.packet.event in sel.events

    def _answer_keys(self, session: EngineIOSession) -> set[tuple[str, int, Direction]]:
        """(nsp, ack id, direction of the ACK) of the selected events that asked for an ACK."""
        sel = self.selection
        if not sel.events or session.socketio is None:
            return set()
        return {
            (a.nsp, a.ack_id, a.request_direction.other)
            for a in session.socketio.acks
            if a.event in sel.events and (not sel.namespaces or a.nsp in sel.namespaces)
        }

    @staticmethod
    def _answers(p: SioPacketRecord, keys: set[tuple[str, int, Direction]]) -> bool:
        pk = p.packet
        return (
            bool(keys)
            and pk.type in _ACK_TYPES
            and pk.ack_id is not None
            and (pk.nsp, pk.ack_id, p.direction) in keys
        )


def _sio_records(session: EngineIOSession) -> tuple[SioPacketRecord, ...]:
    return session.socketio.packets if session.socketio is not None else ()


def default_layer(selected: Selected) -> str:
    """JSON Lines layer when none is given: Socket.IO if there is some, else Engine.IO, else WebSocket."""
    if any(s.socketio is not None for s in selected.sessions):
        return "socketio"
    if selected.sessions:
        return "engineio"
    return "websocket"
