"""A session's analysis once it is over: its packets in capture order, checked layer by layer.

`analyse_session` turns what the builder collected (session/state.py) into the EngineIOSession
record and its anomalies: the open packet (G2), the transports (G3, G6, G8; transport.py), the
heartbeat (G4, G5; heartbeat.py), how it ended, and Socket.IO (sio.py).
"""

from __future__ import annotations

from dataclasses import replace
from operator import itemgetter

from analyzer.model.codes import engineio as codes
from analyzer.model.common import Anomaly, Direction
from analyzer.model.engineio import EioPacketType
from analyzer.model.registry import make_anomaly
from analyzer.model.session import (
    EioPacketRecord,
    EngineIOSession,
    HeartbeatStats,
    SessionEnd,
    SocketIOSession,
    UpgradeAttempt,
    WebSocketLeg,
)
from analyzer.model.spill import RecordList
from analyzer.protocols.engineio import EioOpen, parse_open_packet
from analyzer.session.heartbeat import analyze_heartbeat
from analyzer.session.payloads import PayloadStore
from analyzer.session.sio import analyze_socketio
from analyzer.session.spill import SessionSpill
from analyzer.session.state import MAX_SESSION_ANOMALIES, SessionState
from analyzer.session.transport import analyze_polling, analyze_upgrades

__all__ = ["analyse_session"]

_C, _S = Direction.C2S, Direction.S2C
_MAX_SIZE_REPORTS = 20
_FRAME_SEQ = itemgetter(0, 1)  # raws are (frame, seq, record); seq is unique
# enum members as module constants: a class attribute lookup on an Enum costs more than the test
_OPEN, _CLOSE, _NOOP = EioPacketType.OPEN, EioPacketType.CLOSE, EioPacketType.NOOP


def analyse_session(
    s: SessionState, store: PayloadStore | None, *, max_attachments: int, max_acks: int
) -> tuple[EngineIOSession | None, list[Anomaly]]:
    """The session's record (None when it was only rejected requests) and its anomalies."""
    s.raws.sort(key=_FRAME_SEQ)
    recs = [r for _, _, r in s.raws]
    found = list(s.anomalies)
    version = s.version
    info = _open_packet(s, recs, found)
    interval = info.ping_interval_ms if info is not None else None
    timeout = info.ping_timeout_ms if info is not None else None
    max_payload = info.max_payload if info is not None and version >= 4 else None
    legs = [leg.freeze() for leg in s.legs]
    attempts, done = _transports(s, recs, legs, max_payload, found)

    # heartbeat (G4, G5)
    heartbeat: HeartbeatStats | None = None
    if recs:
        first_open = next((r for r in recs if r.packet.type is _OPEN), None)
        heartbeat, problems_h = analyze_heartbeat(
            recs,
            version,
            interval,
            timeout,
            end_ts=recs[-1].ts,
            start_ts=first_open.ts if first_open is not None else None,
            end_ns=recs[-1].ts_ns,
            start_ns=first_open.ts_ns if first_open is not None else None,
        )
        found.extend(problems_h)

    end, problems_e = _end(s, recs, legs, done)
    found.extend(problems_e)
    socketio, spill = _socketio(s, recs, store, found, max_attachments=max_attachments, max_acks=max_acks)
    found = _listed(s, found)

    if not recs and not s.known:
        return None, found  # only rejected requests: an unknown sid, reported above
    if s.ws_only_connection is not None:
        path: tuple[str, ...] = ("websocket",)
    elif done is not None:
        path = ("polling", "websocket")
    else:
        path = ("polling",)
    connections = tuple(c for c, _ in sorted(s.conns.items(), key=lambda item: item[1]))
    session = EngineIOSession(
        sid=s.sid,
        protocol=version,
        transport_path=path,
        upgraded=done is not None,
        connections=connections,
        ping_interval_ms=interval,
        ping_timeout_ms=timeout,
        max_payload=max_payload,
        packets=RecordList(recs) if spill is None else spill.eio_list(),
        socketio=socketio,
        path=s.path,
        handshake_captured=s.handshake,
        upgrades=tuple(attempts),
        heartbeat=heartbeat,
        end=end,
        requests=tuple(sorted(s.requests, key=lambda r: r.request_frame)),
        websockets=tuple(legs),
        packets_dropped=s.dropped,
        anomalies=tuple(found),
    )
    return session, found


def _open_packet(s: SessionState, recs: list[EioPacketRecord], found: list[Anomaly]) -> EioOpen | None:
    """The session's open packet (G2): what it says, and whether it came first and once."""
    opens = [r for r in recs if r.packet.type is _OPEN]
    info = None
    if opens:
        first_open = opens[0]
        info, problems = parse_open_packet(first_open.packet, s.version)
        for p in problems:
            found.append(
                make_anomaly(
                    p.code, p.message, first_open.connection, first_open.direction, (first_open.frame,)
                )
            )
        for r in opens[1:] if first_open.direction is _S else opens:
            what = "an open packet from the client" if r.direction is _C else "a second open packet"
            found.append(
                make_anomaly(codes.OPEN_NOT_FIRST, f"{what} (G2)", r.connection, r.direction, (r.frame,))
            )
    if s.handshake:
        first_s2c = next((r for r in recs if r.direction is _S), None)
        if first_s2c is not None and first_s2c.packet.type is not _OPEN:
            msg = f"first server packet of the session is {first_s2c.packet.type.wire_name}, not open (G2)"
            found.append(
                make_anomaly(codes.OPEN_NOT_FIRST, msg, first_s2c.connection, _S, (first_s2c.frame,))
            )
    elif recs:
        msg = "session traffic without its handshake in the capture; open packet checks skipped"
        found.append(
            make_anomaly(codes.HANDSHAKE_NOT_CAPTURED, msg, recs[0].connection, None, (recs[0].frame,))
        )
    return info


def _transports(
    s: SessionState,
    recs: list[EioPacketRecord],
    legs: list[WebSocketLeg],
    max_payload: int | None,
    found: list[Anomaly],
) -> tuple[list[UpgradeAttempt], UpgradeAttempt | None]:
    """Upgrade attempts and the one that succeeded, polling rules, message sizes (G3, G6, G8)."""
    attempts, done, problems_t = analyze_upgrades(recs, legs, ws_only_connection=s.ws_only_connection)
    found.extend(problems_t)
    found.extend(
        analyze_polling(
            s.requests,
            upgrade_frame=done.upgrade_frame if done is not None else None,
            max_payload=max_payload,
            session_known=s.known,
        )
    )
    if max_payload is not None:
        big = [r for r in recs if r.transport == "websocket" and r.direction is _C and r.size > max_payload]
        for r in big[:_MAX_SIZE_REPORTS]:
            msg = f"WebSocket message of {r.size} bytes over maxPayload {max_payload} (G8)"
            found.append(make_anomaly(codes.PAYLOAD_TOO_LARGE, msg, r.connection, _C, (r.frame,)))
    return attempts, done


def _socketio(
    s: SessionState,
    recs: list[EioPacketRecord],
    store: PayloadStore | None,
    found: list[Anomaly],
    *,
    max_attachments: int,
    max_acks: int,
) -> tuple[SocketIOSession | None, SessionSpill | None]:
    """The Socket.IO view. Streaming (a payload store): the analysis reads the payloads one at a
    time and the session's packets go to disk as JSON meanwhile, so it is never held whole."""
    spill = SessionSpill(recs, store, s.sid) if store is not None else None
    socketio, problems_s = analyze_socketio(
        recs,
        s.version,
        path=s.path,
        check_connect=s.handshake,
        max_attachments=max_attachments,
        max_acks=max_acks,
        load=None if spill is None else spill.load,
        sink=None if spill is None else spill.add_sio,
    )
    if spill is not None:
        spill.finish()
        if socketio is not None:
            socketio = replace(socketio, packets=spill.sio_list())
        else:
            spill.sio.close()
    found.extend(problems_s)
    return socketio, spill


def _end(
    s: SessionState,
    recs: list[EioPacketRecord],
    legs: list[WebSocketLeg],
    done: UpgradeAttempt | None,
) -> tuple[SessionEnd, list[Anomaly]]:
    found: list[Anomaly] = []
    close_at = next((i for i, r in enumerate(recs) if r.packet.type is _CLOSE), None)
    if close_at is not None:
        close = recs[close_at]
        after = [r for r in recs[close_at + 1 :] if r.packet.type is not _NOOP]
        if after:
            msg = f"{len(after)} packets after the close packet of frame {close.frame}"
            r = after[0]
            found.append(make_anomaly(codes.PACKET_AFTER_CLOSE, msg, r.connection, r.direction, (r.frame,)))
        return SessionEnd("close-packet", close.direction, close.ts, close.frame, close.connection), found
    active = s.ws_only_connection if s.ws_only_connection is not None else (done.connection if done else None)
    leg = next((w for w in legs if w.connection == active), None)
    if leg is not None and leg.close_direction is not None:
        return SessionEnd(
            "ws-close", leg.close_direction, leg.close_ts, leg.close_frame, leg.connection
        ), found
    if leg is not None and leg.tcp_end is not None:
        return SessionEnd("tcp-end", None, leg.tcp_end_ts, leg.tcp_end_frame, leg.connection), found
    return SessionEnd("unknown"), found


def _listed(s: SessionState, found: list[Anomaly]) -> list[Anomaly]:
    """The session's anomalies in frame order, at most MAX_SESSION_ANOMALIES of them, and then one
    eio.limit-exceeded saying how many more there were (at the first one not listed)."""
    found.sort(key=lambda a: a.frames[0] if a.frames else 0)
    unlisted = s.anomalies_unlisted + max(0, len(found) - MAX_SESSION_ANOMALIES)
    if not unlisted:
        return found
    firsts = [a for a in (s.first_unlisted, *found[MAX_SESSION_ANOMALIES : MAX_SESSION_ANOMALIES + 1]) if a]
    first = min(firsts, key=lambda a: a.frames[0] if a.frames else 0)
    msg = f"{unlisted} more anomalies of this session not listed (at most {MAX_SESSION_ANOMALIES} are)"
    del found[MAX_SESSION_ANOMALIES:]
    found.append(make_anomaly(codes.LIMIT_EXCEEDED, msg, first.connection, first.direction, first.frames))
    return found
