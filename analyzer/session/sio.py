"""Socket.IO over one Engine.IO session: packets, namespaces and acknowledgements (S1-S8).

The Engine.IO *message* packets of a session, in capture order and whatever their
transport, go through one `SioStreamDecoder`; binary attachments are gathered per
direction. Namespace rules (S4) are checked only when the session's start is in the
capture, since a capture that begins mid-session has simply missed the CONNECT.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from analyzer.model.codes import socketio as codes
from analyzer.model.common import Anomaly, Direction
from analyzer.model.registry import make_anomaly
from analyzer.protocols.engineio import EioPacketType
from analyzer.protocols.socketio import (
    DEFAULT_MAX_ATTACHMENTS,
    SioEvent,
    SioPacketType,
    SioStreamDecoder,
    to_jsonable,
)
from analyzer.session.acks import AckTracker
from analyzer.session.records import EioPacketRecord, NamespaceRecord, SioPacketRecord, SocketIOSession

__all__ = ["analyze_socketio"]

# enum members as module constants: a class attribute lookup on an Enum costs more than the test
_C2S = Direction.C2S
_MESSAGE = EioPacketType.MESSAGE
_CONNECT = SioPacketType.CONNECT
_CONNECT_ERROR = SioPacketType.CONNECT_ERROR
_DISCONNECT = SioPacketType.DISCONNECT


@dataclass(slots=True)
class _Namespace:
    client: bool = False  # the client sent CONNECT
    server: bool = False  # the server answered CONNECT
    state: str = "unknown"
    sid: str | None = None
    connect_frame: int | None = None
    error: Any = None


def analyze_socketio(
    records: Sequence[EioPacketRecord],
    eio_version: int,
    *,
    path: str = "",
    check_connect: bool = True,
    max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
    max_acks: int = 100_000,
) -> tuple[SocketIOSession | None, list[Anomaly]]:
    """Socket.IO view of a session; None when the traffic is plain Engine.IO.

    It is Socket.IO when the path is a `/socket.io/` one, when the msgpack parser is found,
    or when the first message is a clean CONNECT. v5 runs over EIO4, v4 over EIO3 (§3.4).
    """
    version = 5 if eio_version >= 4 else 4
    decoder = SioStreamDecoder(version, max_attachments=max_attachments)
    found: list[tuple[int, SioPacketRecord]] = []
    anomalies: list[Anomaly] = []
    first_clean: bool | None = None

    def take(events: Iterable[SioEvent]) -> None:
        nonlocal first_clean
        for ev in events:
            tags = ev.tags
            if not tags:
                continue
            head = records[tags[0]]
            frames = (head.frame,) if len(tags) == 1 else tuple(records[t].frame for t in tags)
            for a in ev.anomalies:
                anomalies.append(make_anomaly(a.code, a.message, head.connection, head.direction, frames))
            if first_clean is None:
                first_clean = ev.packet is not None and ev.packet.type is _CONNECT and not ev.anomalies
            if ev.packet is not None:
                rec = SioPacketRecord(
                    head.direction,
                    head.ts,
                    head.frame,
                    head.transport,
                    head.connection,
                    ev.packet,
                    frames,
                    ev.complete,
                    records[tags[-1]].ts,
                )
                found.append((tags[0], rec))

    for i, eio in enumerate(records):
        if eio.packet.type is not _MESSAGE:
            continue
        data = eio.packet.data
        if isinstance(data, bytes):
            take(decoder.feed_binary(eio.direction, data, i))
        elif eio.truncated:
            msg = "text message cut at the display bound; not decoded as Socket.IO"
            where = (eio.connection, eio.direction, (eio.frame,))
            anomalies.append(make_anomaly(codes.LIMIT_EXCEEDED, msg, *where))
        else:
            take(decoder.feed_text(eio.direction, data, i))
    take(decoder.eof())

    if not ("socket.io" in path.lower() or decoder.parser == "msgpack" or first_clean):
        return None, []
    found.sort(key=itemgetter(0))
    packets = [rec for _, rec in found]
    tracker = AckTracker(max_tracked=max_acks)
    spaces: dict[str, _Namespace] = {}
    warned: set[tuple[str, Direction]] = set()
    for rec in packets:
        p = rec.packet
        ns = spaces.get(p.nsp)
        if ns is None:
            if len(spaces) >= 10_000:
                continue  # bound: namespaces per session
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
            continue
        if p.type is _CONNECT_ERROR:
            ns.server = ns.client = False
            ns.state = "refused"
            ns.error = to_jsonable(p.data)
            shown = str(ns.error)[:80]
            msg = f"connection to namespace {p.nsp} refused: {shown}"
            anomalies.append(
                make_anomaly(codes.CONNECT_REFUSED, msg, rec.connection, rec.direction, rec.frames)
            )
            continue
        if p.type is _DISCONNECT:
            ns.server = ns.client = False
            ns.state = "disconnected"
            continue
        if check_connect:
            # SIO v5: the client MUST CONNECT to every namespace, "/" included; v4 gets "/" unasked
            client_connected = ns.client or (version == 4 and p.nsp == "/")
            connected = client_connected if rec.direction is _C2S else ns.server
            if not connected and (p.nsp, rec.direction) not in warned:
                warned.add((p.nsp, rec.direction))
                who = "client" if rec.direction is Direction.C2S else "server"
                msg = f"{p.type.name} from the {who} on {p.nsp} before a CONNECT on that namespace (S4)"
                anomalies.append(
                    make_anomaly(codes.NO_CONNECT, msg, rec.connection, rec.direction, rec.frames)
                )
        anomalies.extend(tracker.on_packet(rec))
    acks, leftovers = tracker.finish()
    anomalies.extend(leftovers)
    namespaces = tuple(
        NamespaceRecord(nsp, ns.state, ns.sid, ns.connect_frame, ns.error) for nsp, ns in spaces.items()
    )
    session = SocketIOSession(version, decoder.parser or "default", tuple(packets), tuple(acks), namespaces)
    return session, anomalies
