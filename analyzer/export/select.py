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

Every export is a sink (analyzer/pipeline/sink.py) that works the selection out as the records
come (`StreamedSelection`): a session is complete when it is handed over, so whether it is
selected, and which of its packets are, is known then; which connections are selected (those
the selected sessions carried) and which session a connection belongs to are known at the end,
from what was seen of each.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from analyzer.export.streamsel import SioEntry, eio_dicts, sio_dicts, sio_entries
from analyzer.model.analysis import Analysis, ConnectionRecord
from analyzer.model.common import Anomaly
from analyzer.model.session import AckRecord, EngineIOSession

__all__ = ["Selection", "SessionSeen", "StreamedSelection"]

_ACKS = ("ACK", "BINARY_ACK")


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


@dataclass(slots=True)
class SessionSeen:
    first_frame: int  # the analysis lists sessions in this order (EngineIOSession.first_frame)
    arrival: int
    sid: str
    connections: tuple[int, ...]
    selected: bool
    socketio: bool
    kept: list[Any] = field(default_factory=list)  # what the export keeps of it


class StreamedSelection:
    """The selection of one export, worked out from the records as a sink is handed them: each
    export format's sink is one of these, and makes `connection`, `session` and `finish`."""

    def __init__(self, selection: Selection) -> None:
        self.selection = selection
        self.connection_ids: set[int] = set()
        self.sids: set[str] = set()
        self.sessions: list[SessionSeen] = []
        self.selected_connections: set[int] = set()  # known after resolve()

    # -- the sink (analyzer/pipeline/sink.py) --------------------------------------------------------
    def connection(self, record: ConnectionRecord) -> None:
        raise NotImplementedError

    def session(self, record: EngineIOSession) -> None:
        raise NotImplementedError

    def finish(self, summary: Analysis) -> None:
        raise NotImplementedError

    # -- what was seen ---------------------------------------------------------------------------------
    def see_connection(self, cid: int) -> None:
        self.connection_ids.add(cid)

    def wants_connection(self, cid: int) -> bool:
        """Whether a connection may be selected (--connection); the sessions decide the rest at the end."""
        return not self.selection.connections or cid in self.selection.connections

    def matches(self, p: dict[str, Any]) -> bool:
        """A Socket.IO packet (document form) of the namespaces and events asked for."""
        sel = self.selection
        if sel.namespaces and p["nsp"] not in sel.namespaces:
            return False
        return not sel.events or p["event"] in sel.events

    def answer_keys(self, s: EngineIOSession) -> set[tuple[str, int, str]]:
        """(nsp, ack id, direction of the ACK) of the selected events that asked for an ACK."""
        sel = self.selection
        return {
            (a.nsp, a.ack_id, a.request_direction.other.value)
            for a in (s.socketio.acks if s.socketio is not None else ())
            if sel.events and a.event in sel.events and (not sel.namespaces or a.nsp in sel.namespaces)
        }

    def see_session(self, s: EngineIOSession) -> SessionSeen:
        sel = self.selection
        self.sids.add(s.sid)
        selected = (
            (not sel.sids or s.sid in sel.sids)
            and (not sel.connections or bool(sel.connections.intersection(s.connections)))
            and (not sel.packet_level or any(self.matches(p) for p in sio_dicts(s)))
        )
        first = s.first_frame
        seen = SessionSeen(
            first if first is not None else 1 << 62,
            len(self.sessions),
            s.sid,
            tuple(s.connections),
            selected,
            s.socketio is not None,
        )
        self.sessions.append(seen)
        return seen

    # -- a selected session's packets (document form): those on the selected connections ------------
    def eio_packets(self, s: EngineIOSession) -> Iterator[dict[str, Any]]:
        keep = self.selection.connections  # the session's packets travel on its own connections only
        for d in eio_dicts(s):
            if not keep or d["connection"] in keep:
                yield d

    def sio_packets(self, s: EngineIOSession, frames: set[int] | None = None) -> Iterator[dict[str, Any]]:
        """Its Socket.IO packets; with --namespace/--event, those that match and the ACKs that answer
        them. `frames` gets the packet numbers of all its packets on the selected connections."""
        return (d for d, _, _ in self.sio_entries(s, frames, decoded=True))

    def sio_entries(
        self, s: EngineIOSession, frames: set[int] | None = None, decoded: bool = False
    ) -> Iterator[SioEntry]:
        """The same packets as (fields, args, data) (streamsel.sio_entries: "args" and "data" as
        JSON text unless `decoded`)."""
        sel = self.selection
        keep = sel.connections
        answers = self.answer_keys(s)
        for entry in sio_entries(s, decoded):
            d = entry[0]
            if keep and d["connection"] not in keep:
                continue
            if frames is not None:
                frames.add(d["frame"])
            answer = d["type"] in _ACKS and (d["nsp"], d["ack_id"], d["direction"]) in answers
            if not sel.packet_level or self.matches(d) or answer:
                yield entry

    def acks(self, s: EngineIOSession, frames: set[int]) -> Iterator[AckRecord]:
        """Its ACK pairs of the namespaces and events asked for, whose request is one of `frames`."""
        sel = self.selection
        for a in s.socketio.acks if s.socketio is not None else ():
            if sel.namespaces and a.nsp not in sel.namespaces:
                continue
            if sel.events and a.event not in sel.events:
                continue
            if a.request_frame in frames:
                yield a

    def anomalies(self, anomalies: Iterable[Anomaly]) -> Iterator[Anomaly]:
        """Those of the selected connections (after resolve()), and with no option those of none."""
        everything = self.selection.everything
        ids = self.selected_connections
        for a in anomalies:
            if (a.connection is None and everything) or (a.connection is not None and a.connection in ids):
                yield a

    def resolve(self) -> tuple[list[SessionSeen], list[SessionSeen]]:
        """Every session in the analysis' order, and the selected ones; sets selected_connections."""
        sel = self.selection
        ordered = sorted(self.sessions, key=lambda t: (t.first_frame, t.arrival))
        chosen = [t for t in ordered if t.selected]
        ids = set(self.connection_ids)
        if sel.connections:
            ids &= sel.connections
        if sel.sids or sel.packet_level:
            ids &= {c for t in chosen for c in t.connections}
        self.selected_connections = ids
        return ordered, chosen
