"""Socket.IO over one Engine.IO session: packets, namespaces and acknowledgements (S1-S8).

The Engine.IO *message* packets of a session, in capture order and whatever their
transport, go through one `SioStreamDecoder`; binary attachments are gathered per
direction. Namespace rules (S4) are checked only when the session's start is in the
capture, since a capture that begins mid-session has simply missed the CONNECT.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from heapq import heappop, heappush
from itertools import count

from analyzer.model.codes import socketio as codes
from analyzer.model.common import Anomaly, Direction
from analyzer.model.engineio import EioPacketType
from analyzer.model.jsontypes import JsonValue
from analyzer.model.registry import make_anomaly
from analyzer.model.session import EioPacketRecord, NamespaceRecord, SioPacketRecord, SocketIOSession
from analyzer.model.socketio import SioPacketType
from analyzer.model.spill import RecordList
from analyzer.model.text import json_text
from analyzer.model.values import to_jsonable
from analyzer.protocols.socketio import DEFAULT_MAX_ATTACHMENTS, SioEvent, SioStreamDecoder
from analyzer.session.acks import AckTracker

__all__ = ["analyze_socketio"]

# enum members as module constants: a class attribute lookup on an Enum costs more than the test
_C2S = Direction.C2S
_MESSAGE = EioPacketType.MESSAGE
_CONNECT = SioPacketType.CONNECT
_CONNECT_ERROR = SioPacketType.CONNECT_ERROR
_DISCONNECT = SioPacketType.DISCONNECT


def _refusal(error: JsonValue) -> str:
    """A CONNECT_ERROR payload as text: v4 sends a string, v5 {"message": ..., "data": ...}
    (socket.io's `next(err)`: err.message and err.data); anything else as its JSON."""
    if isinstance(error, str):
        return error[:80] + ("…" if len(error) > 80 else "")
    if (
        isinstance(error, dict)
        and isinstance(error.get("message"), str)
        and set(error) <= {"message", "data"}
    ):
        text = _refusal(error["message"])
        return text + (f" (data {json_text(error['data'])})" if "data" in error else "")
    return json_text(error)


@dataclass(slots=True)
class _Namespace:
    client: bool = False  # the client sent CONNECT
    server: bool = False  # the server answered CONNECT
    state: str = "unknown"
    sid: str | None = None
    connect_frame: int | None = None
    error: JsonValue = None


class _Book:
    """Namespaces (S4) and acknowledgements of the session's Socket.IO packets, in capture order."""

    def __init__(self, version: int, check_connect: bool, max_acks: int) -> None:
        self.version = version
        self.check_connect = check_connect
        self.tracker = AckTracker(max_tracked=max_acks)
        self.spaces: dict[str, _Namespace] = {}
        self.warned: set[tuple[str, Direction]] = set()
        self.anomalies: list[Anomaly] = []

    def on_packet(self, rec: SioPacketRecord) -> None:
        p = rec.packet
        spaces = self.spaces
        ns = spaces.get(p.nsp)
        if ns is None:
            if len(spaces) >= 10_000:
                return  # bound: namespaces per session
            ns = spaces[p.nsp] = _Namespace()
        if p.type is _CONNECT:
            if rec.direction is _C2S:
                ns.client = True
                if not ns.server:
                    ns.state = "requested"
            else:
                # v5: the reply {"sid": ...}; v4: the server connects "/" unasked (SIO v4 README)
                ns.server = ns.client = True
                ns.state = "connected"
                ns.connect_frame = rec.frame
                sid = p.data.get("sid") if isinstance(p.data, dict) else None
                ns.sid = sid[:256] if isinstance(sid, str) else None
            return
        if p.type is _CONNECT_ERROR:
            ns.server = ns.client = False
            ns.state = "refused"
            ns.error = to_jsonable(p.data)
            msg = f"connection to namespace {p.nsp} refused: {_refusal(ns.error)}"
            self.anomalies.append(
                make_anomaly(codes.CONNECT_REFUSED, msg, rec.connection, rec.direction, rec.frames)
            )
            return
        if p.type is _DISCONNECT:
            ns.server = ns.client = False
            ns.state = "disconnected"
            return
        if self.check_connect:
            # SIO v5: the client MUST CONNECT to every namespace, "/" included; v4 gets "/" unasked
            client_connected = ns.client or (self.version == 4 and p.nsp == "/")
            connected = client_connected if rec.direction is _C2S else ns.server
            if not connected and (p.nsp, rec.direction) not in self.warned:
                self.warned.add((p.nsp, rec.direction))
                who = "client" if rec.direction is Direction.C2S else "server"
                msg = f"{p.type.name} from the {who} on {p.nsp} before a CONNECT on that namespace (S4)"
                self.anomalies.append(
                    make_anomaly(codes.NO_CONNECT, msg, rec.connection, rec.direction, rec.frames)
                )
        self.anomalies.extend(self.tracker.on_packet(rec))


def _payload(rec: EioPacketRecord) -> str | bytes:
    return rec.packet.data


class _Order:
    """Socket.IO packets from the decoder, handed out in the order of their header's record: to
    the book (namespaces, acks), then to `sink` or kept."""

    def __init__(
        self,
        records: Sequence[EioPacketRecord],
        book: _Book,
        sink: Callable[[SioPacketRecord], None] | None,
    ) -> None:
        self.records = records
        self.book = book
        self.sink = sink
        # a heap by the header's record index, each packet with the decoder's anomalies about it
        self.ready: list[tuple[int, int, SioPacketRecord, list[Anomaly]]] = []
        self.released = count()
        self.order = count()
        self.at: list[tuple[int, Anomaly]] = []  # (packet index, anomaly) of the anomalies raised on a packet
        self.kept: list[SioPacketRecord] = []
        self.anomalies: list[Anomaly] = []
        self.first_clean: bool | None = None

    def take(self, events: Iterable[SioEvent]) -> None:
        records = self.records
        for ev in events:
            tags = ev.tags
            if not tags:
                continue
            head = records[tags[0]]
            parts = [head] if len(tags) == 1 else [records[t] for t in tags]
            frames = (head.frame,) if len(tags) == 1 else tuple(r.frame for r in parts)
            found = [
                make_anomaly(a.code, a.message, head.connection, head.direction, frames) for a in ev.anomalies
            ]
            self.anomalies.extend(found)
            if self.first_clean is None:
                self.first_clean = ev.packet is not None and ev.packet.type is _CONNECT and not ev.anomalies
            if ev.packet is not None:
                rec = SioPacketRecord.carried_by(parts, ev.packet, ev.complete)
                heappush(self.ready, (tags[0], next(self.order), rec, found))

    def release(self, before: int | None) -> None:
        """Hand out, in order, the packets whose header came before record `before`."""
        ready, book = self.ready, self.book
        while ready and (before is None or ready[0][0] < before):
            _, _, rec, found = heappop(ready)
            index = next(self.released)
            seen = len(book.anomalies)
            book.on_packet(rec)
            self.at.extend((index, a) for a in found + book.anomalies[seen:])
            if self.sink is not None:
                self.sink(rec)
            else:
                self.kept.append(rec)


def analyze_socketio(
    records: Sequence[EioPacketRecord],
    eio_version: int,
    *,
    path: str = "",
    check_connect: bool = True,
    max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
    max_acks: int = 100_000,
    load: Callable[[EioPacketRecord], str | bytes] | None = None,
    sink: Callable[[SioPacketRecord], None] | None = None,
) -> tuple[SocketIOSession | None, list[Anomaly]]:
    """Socket.IO view of a session; None when the traffic is plain Engine.IO.

    It is Socket.IO when the path is a `/socket.io/` one, when the msgpack parser is found,
    or when the first message is a clean CONNECT. v5 runs over EIO4, v4 over EIO3 (§3.4).

    `load(record)` gives a packet's payload (the builder's may come from its payload file).
    With `sink`, each Socket.IO packet goes there in capture order as soon as every packet
    before it is complete, and the result holds none (streaming output: only the packets
    still waiting for attachments are held); what the sink got is void when None is returned.
    """
    version = 5 if eio_version >= 4 else 4
    if load is None:
        load = _payload
    decoder = SioStreamDecoder(version, max_attachments=max_attachments)
    book = _Book(version, check_connect, max_acks)
    run = _Order(records, book, sink)
    anomalies = run.anomalies
    for i, eio in enumerate(records):
        if eio.packet.type is not _MESSAGE:
            continue
        data = load(eio)
        if isinstance(data, bytes):
            run.take(decoder.feed_binary(eio.direction, data, i))
        elif eio.truncated:
            msg = "text message cut at the display bound; not decoded as Socket.IO"
            where = (eio.connection, eio.direction, (eio.frame,))
            anomalies.append(make_anomaly(codes.LIMIT_EXCEEDED, msg, *where))
        else:
            run.take(decoder.feed_text(eio.direction, data, i))
        if run.ready:
            run.release(decoder.pending_tag())
    run.take(decoder.eof())
    run.release(None)

    if not ("socket.io" in path.lower() or decoder.parser == "msgpack" or run.first_clean):
        return None, []
    acks, leftovers = book.tracker.finish()
    anomalies.extend(book.anomalies)
    anomalies.extend(leftovers)
    namespaces = tuple(
        NamespaceRecord(nsp, ns.state, ns.sid, ns.connect_frame, ns.error) for nsp, ns in book.spaces.items()
    )
    packets = RecordList(run.kept)
    session = SocketIOSession(
        version, decoder.parser or "default", packets, tuple(acks), namespaces, anomalies_at=tuple(run.at)
    )
    return session, anomalies
