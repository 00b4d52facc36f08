"""The session builder: Engine.IO sessions (one per sid) from HTTP exchanges and WebSocket messages.

The pipeline calls `on_http_exchange`, `on_websocket_open` and `on_ws_message` as the capture
is read, and `finish()` once at the end. Exchanges come in when their response is complete,
so a long-poll GET arrives after POSTs sent while it waited: the builder only collects
packets while reading (session/state.py) and analyses each session in capture (frame) order
when it is over (session/ending.py). With an observer, each packet is also told as it is
collected, its Socket.IO decoded in arrival order (session/live.py).

Session identity (EIO v4 'Handshake', 'Upgrade'):
- the handshake GET has no sid; the open packet of its response gives it;
- every polling request and the upgrade WebSocket carry `sid=` in their query;
- a WebSocket-only session has no sid in its URL: its first server message is the open packet.
Requests are Engine.IO when their query says so (EIO=3|4, transport=...), whatever the path.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable

from mypy_extensions import mypyc_attr

from analyzer.model.codes import engineio as codes
from analyzer.model.common import Anomaly, Direction, ParserAnomaly
from analyzer.model.engineio import EioPacket, EioPacketType
from analyzer.model.records import HttpExchange, HttpRequest, HttpResponse, WsMessageRecord, header_value
from analyzer.model.registry import make_anomaly
from analyzer.model.session import EioPacketRecord, EngineIOSession, PollingRequest
from analyzer.model.text import json_text
from analyzer.protocols.engineio import EioQuery, decode_ws_message, parse_engineio_query, parse_open_packet
from analyzer.protocols.engineio_polling import DEFAULT_MAX_PACKETS, decode_polling_payload
from analyzer.protocols.socketio import DEFAULT_MAX_ATTACHMENTS
from analyzer.session.ending import analyse_session
from analyzer.session.live import LiveSocketIO
from analyzer.session.observer import SessionObserver
from analyzer.session.payloads import PayloadStore
from analyzer.session.state import LegState, SessionState, forget, keep_anomaly

__all__ = ["SessionBuilder"]

_C, _S = Direction.C2S, Direction.S2C
# enum members as module constants: a class attribute lookup on an Enum costs more than the test
_OPEN, _CLOSE, _MESSAGE = EioPacketType.OPEN, EioPacketType.CLOSE, EioPacketType.MESSAGE


def _error_body(body: bytes) -> tuple[int | None, str | None]:
    """engine.io server.ts answers {"code": N, "message": ...}; python-engineio a JSON string."""
    try:
        value = json.loads(body[:4096].decode("utf-8", "replace")) if body else None
    except (ValueError, RecursionError):
        text = body[:200].decode("utf-8", "replace").strip()
        return None, text or None
    if isinstance(value, dict):
        code = value.get("code")
        message = value.get("message")
        return (
            code if isinstance(code, int) and not isinstance(code, bool) else None,
            (message[:200] if isinstance(message, str) else json_text(message, 200))
            if message is not None
            else None,
        )
    if isinstance(value, str):
        return None, value[:200]
    return None, None


@mypyc_attr(allow_interpreted_subclasses=True)  # subclassed outside the compiled modules
class SessionBuilder:
    """Collects Engine.IO material per session while the capture is read; analyses it in `finish()`."""

    def __init__(
        self,
        *,
        max_packets_per_session: int = 1_000_000,
        max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
        max_sessions: int = 100_000,
        max_packets_per_payload: int = DEFAULT_MAX_PACKETS,
        max_requests_per_session: int = 100_000,
        max_acks_per_session: int = 100_000,
        payloads: PayloadStore | None = None,
        observer: SessionObserver | None = None,
    ) -> None:
        self.max_packets_per_session = max_packets_per_session
        self.max_attachments = max_attachments
        self.max_sessions = max_sessions
        self.max_packets_per_payload = max_packets_per_payload
        self.max_requests_per_session = max_requests_per_session
        self.max_acks_per_session = max_acks_per_session
        self.payloads = payloads  # streaming: payloads of open sessions wait on disk
        self.observer = observer  # told each packet as it is decoded (session/observer.py)
        self._sessions: dict[str, SessionState] = {}
        self._all: list[SessionState] = []
        self._legs: dict[int, LegState] = {}
        self._anomalies: list[Anomaly] = []  # not tied to a session
        self._seq = 0
        self._capped = False
        self._finished = False
        self._ended_conns: set[int] = set()
        # `--jobs` (pipeline/shards.py), when set: every session key and sid met, and the order key
        # of each session handed out, in order; the parent compares them across processes
        self.keys_met: set[str] | None = None
        self.handed: list[tuple[int, int]] | None = None
        self.created = 0

    # -- input -----------------------------------------------------------------------------------------
    def on_http_exchange(self, ex: HttpExchange) -> None:
        """An HTTP exchange, once its response is complete (or at the end with no response)."""
        req = ex.request
        if req is None or self._finished:
            return
        query = parse_engineio_query(req.target)
        if query is None:
            return
        resp = ex.response
        if query.transport == "websocket" or (resp is not None and resp.status == 101):
            if resp is not None and resp.status == 101:
                self.on_websocket_open(ex.connection, req, resp)
            else:
                self._failed_websocket(ex.connection, query, req, resp)
            return
        if query.transport != "polling":
            msg = f"Engine.IO request with transport={query.transport!r} (not polling or websocket)"
            self._anomalies.append(make_anomaly(codes.BAD_QUERY, msg, ex.connection, _C, (req.frame,)))
            return
        if req.method in ("OPTIONS", "HEAD") or (req.method not in ("GET", "POST") and query.sid is not None):
            return  # CORS preflights and the like carry no Engine.IO data
        if query.sid is None:
            self._handshake(ex.connection, query, req, resp)
        else:
            self._polling(ex.connection, query, req, resp)

    def on_websocket_open(self, connection: int, request: HttpRequest, response: HttpResponse | None) -> None:
        """A WebSocket upgrade (normally answered 101) on `connection`."""
        if self._finished or connection in self._legs:
            return
        query = parse_engineio_query(request.target)
        if query is None:
            return
        version = query.version
        status = response.status if response is not None else None
        leg = LegState(
            connection,
            version,
            None,
            request.frame,
            request.ts,
            status,
            response.frame if response is not None else None,
            response.ts if response is not None else None,
        )
        self._legs[connection] = leg
        if query.sid is not None:
            session = self._session(query.sid, query, connection, request.frame)
        else:
            # a WebSocket-only session: its sid comes with the open packet
            session = self._session(f"\0ws:{connection}", query, connection, request.frame, sid="")
            if session is not None:
                session.ws_only_connection = connection
                session.handshake = True
        if session is None:
            return
        leg.session = session
        session.legs.append(leg)

    def on_ws_message(self, msg: WsMessageRecord) -> None:
        """A complete text or binary message of a WebSocket connection."""
        leg = self._legs.get(msg.connection)
        if leg is None or leg.session is None or self._finished:
            return
        if msg.truncated and msg.length and not msg.data:
            return  # its inflated bytes were dropped (ws.inflate-budget-exceeded): nothing to decode
        session = leg.session
        binary = msg.opcode == "binary"
        packet, problems = decode_ws_message(msg.data, binary, session.version)
        if (
            packet is not None
            and packet.type is _OPEN
            and msg.direction is _S
            and not leg.s2c_seen
            and session.ws_only_connection == msg.connection
            and session.sid == ""
        ):
            info, _ = parse_open_packet(packet, session.version)
            if info is not None:
                self._rename(session, info.sid)
        if msg.direction is _S:
            leg.s2c_seen = True
        session.known = True
        if problems:
            self._note(session, problems, msg.connection, msg.direction, msg.frame)
        if packet is not None:
            self._add(
                session,
                msg.direction,
                msg.ts,
                msg.frame,
                "websocket",
                msg.connection,
                packet,
                msg.length,
                truncated=msg.truncated,
                ts_ns=msg.ts_ns,
            )

    def on_websocket_close(
        self, connection: int, direction: Direction, code: int | None, ts: float, frame: int
    ) -> None:
        """Optional: the first Close frame of a direction (lets `finish()` say how the session ended)."""
        leg = self._legs.get(connection)
        if leg is not None and leg.close_direction is None:
            leg.close_direction, leg.close_code, leg.close_ts, leg.close_frame = direction, code, ts, frame

    def on_connection_end(self, connection: int, kind: str, ts: float, frame: int) -> None:
        """Optional: the TCP connection ended ("fin" or "rst")."""
        self._ended_conns.add(connection)
        leg = self._legs.get(connection)
        if leg is not None and leg.tcp_end is None:
            leg.tcp_end, leg.tcp_end_ts, leg.tcp_end_frame = kind, ts, frame

    def flush(
        self, now_ts: float, quiet_seconds: float = 120.0, settle_seconds: float = 10.0
    ) -> tuple[list[EngineIOSession], list[Anomaly]]:
        """Finalize the sessions that are over: every TCP connection that carried them has ended, and
        either nothing of theirs was seen for `quiet_seconds` of capture time (a polling client may
        still open a new connection until then), or `settle_seconds` passed since the session said
        it was over: an Engine.IO close packet, or its WebSocket transport ended while it carried
        the session's newest traffic (after an upgrade the session lives and dies with the
        WebSocket: EIO v4 'Upgrade'). Their memory is freed; what `finish()` returns afterwards no
        longer includes them. Streaming output calls this now and then."""
        done: list[tuple[tuple[int, int], EngineIOSession]] = []
        found: list[Anomaly] = []
        keep: list[SessionState] = []
        ended = self._ended_conns
        for s in self._all:
            quiet = now_ts - s.last_ts
            if (
                s.conns
                and (quiet > quiet_seconds or (quiet > settle_seconds and self._said_over(s)))
                and all(c in ended for c in s.conns)
            ):
                result, anomalies = self._analyse(s)
                forget(s)
                found.extend(anomalies)
                if result is not None:
                    done.append((min(s.conns.values()), result))
                if self._sessions.get(s.key) is s:
                    del self._sessions[s.key]
                for c in s.conns:
                    self._legs.pop(c, None)
                    ended.discard(c)
            else:
                keep.append(s)
        if len(keep) != len(self._all):
            self._all = keep
        done.sort(key=lambda item: item[0])
        if self.handed is not None:
            self.handed.extend(k for k, _ in done)
        return [r for _, r in done], found

    @staticmethod
    def _said_over(s: SessionState) -> bool:
        if s.closed:
            return True
        return any(leg.connection == s.last_conn and leg.status == 101 and leg.s2c_seen for leg in s.legs)

    # -- polling ---------------------------------------------------------------------------------------
    def _handshake(self, conn: int, query: EioQuery, req: HttpRequest, resp: HttpResponse | None) -> None:
        if req.method != "GET":
            # EIO v4 'Handshake'; server.ts: 400 "Bad handshake method" (code 2)
            msg = f"Engine.IO handshake with method {req.method} (must be GET)"
            self._anomalies.append(make_anomaly(codes.BAD_HANDSHAKE, msg, conn, _C, (req.frame,)))
        if resp is None:
            return
        if resp.status != 200:
            self._rejected(conn, resp, "handshake")
            return
        version = query.version
        ctype = header_value(resp.headers, "content-type")
        packets, problems = decode_polling_payload(
            resp.body, version, ctype, max_packets=self.max_packets_per_payload
        )
        open_packet = next((p for p in packets if p.type is _OPEN), None)
        info = parse_open_packet(open_packet, version)[0] if open_packet is not None else None
        if info is None:
            what = "no open packet" if open_packet is None else "an open packet without a usable sid"
            msg = f"handshake response with {what} (G2)"
            self._anomalies.append(make_anomaly(codes.OPEN_NOT_FIRST, msg, conn, _S, (resp.frame,)))
            for problem in problems:
                self._anomalies.append(make_anomaly(problem.code, problem.message, conn, _S, (resp.frame,)))
            return
        session = self._session(info.sid, query, conn, req.frame)
        if session is None:
            return
        session.handshake = session.known = True
        self._request(session, conn, req, resp, True, len(resp.body), len(packets))
        self._note(session, problems, conn, _S, resp.frame)
        if resp.body_truncated:
            self._note_truncated(session, conn, _S, resp.frame)
        for packet in packets:
            self._add(
                session, _S, resp.ts, resp.frame, "polling", conn, packet, _size(packet), ts_ns=resp.ts_ns
            )

    def _polling(self, conn: int, query: EioQuery, req: HttpRequest, resp: HttpResponse | None) -> None:
        assert query.sid is not None
        session = self._session(query.sid, query, conn, req.frame)
        if session is None:
            return
        if query.version != session.version and not session.version_warned:
            session.version_warned = True
            msg = f"request with EIO={query.eio_raw} in a session of Engine.IO v{session.version}"
            keep_anomaly(session, make_anomaly(codes.BAD_QUERY, msg, conn, _C, (req.frame,)))
        ok = resp is not None and resp.status == 200
        if ok:
            session.known = True
        version = session.version
        if req.method == "POST":
            packets: list[EioPacket] = []
            if resp is None or ok:
                ctype = header_value(req.headers, "content-type")
                packets, problems = decode_polling_payload(
                    req.body, version, ctype, max_packets=self.max_packets_per_payload
                )
                self._note(session, problems, conn, _C, req.frame)
                if req.body_truncated:
                    self._note_truncated(session, conn, _C, req.frame)
                for p in packets:
                    self._add(session, _C, req.ts, req.frame, "polling", conn, p, _size(p), ts_ns=req.ts_ns)
            if resp is not None and ok and resp.body.strip() == b"OK":
                msg = "POST answered 200 with 'OK' (python-engineio) instead of 'ok'"
                keep_anomaly(session, make_anomaly(codes.POST_REPLY_CASE, msg, conn, _S, (resp.frame,)))
            elif resp is not None and ok and resp.body.strip() != b"ok":
                # EIO v4 'Sending and receiving data': the server answers "ok"
                shown = resp.body[:20].decode("utf-8", "replace")
                msg = f"POST answered 200 with {shown!r} instead of 'ok' (G3)"
                keep_anomaly(session, make_anomaly(codes.BAD_POST_REPLY, msg, conn, _S, (resp.frame,)))
            self._request(session, conn, req, resp, False, len(req.body), len(packets))
            return
        packets = []
        if resp is not None and ok:
            ctype = header_value(resp.headers, "content-type")
            packets, problems = decode_polling_payload(
                resp.body, version, ctype, max_packets=self.max_packets_per_payload
            )
            self._note(session, problems, conn, _S, resp.frame)
            if resp.body_truncated:
                self._note_truncated(session, conn, _S, resp.frame)
            for p in packets:
                self._add(session, _S, resp.ts, resp.frame, "polling", conn, p, _size(p), ts_ns=resp.ts_ns)
        size = len(resp.body) if resp is not None else 0
        self._request(session, conn, req, resp, False, size, len(packets))

    def _failed_websocket(
        self, conn: int, query: EioQuery, req: HttpRequest, resp: HttpResponse | None
    ) -> None:
        """A WebSocket request of Engine.IO answered with something else than 101 (or not at all)."""
        if query.sid is None:
            if resp is not None:
                self._rejected(conn, resp, "WebSocket handshake")
            return
        session = self._session(query.sid, query, conn, req.frame)
        if session is None:
            return
        status = resp.status if resp is not None else None
        leg = LegState(
            conn,
            query.version,
            session,
            req.frame,
            req.ts,
            status,
            resp.frame if resp is not None else None,
            resp.ts if resp is not None else None,
        )
        session.legs.append(leg)

    def _rejected(self, conn: int, resp: HttpResponse, what: str) -> None:
        code, message = _error_body(resp.body)
        detail = f"{resp.status}" + (f" code {code}" if code is not None else "")
        if message:
            detail += f" {json_text(message, 80)}"
        if code == 5 or "unsupported" in (message or "").lower():
            msg = f"{what} refused: protocol version not supported ({detail}) (G9)"
            self._anomalies.append(make_anomaly(codes.UNSUPPORTED_VERSION, msg, conn, _S, (resp.frame,)))
        else:
            msg = f"{what} answered {detail}"
            self._anomalies.append(make_anomaly(codes.REQUEST_REJECTED, msg, conn, _S, (resp.frame,)))

    def _request(
        self,
        session: SessionState,
        conn: int,
        req: HttpRequest,
        resp: HttpResponse | None,
        handshake: bool,
        body_bytes: int,
        packets: int,
    ) -> None:
        if len(session.requests) >= self.max_requests_per_session:
            return
        last = resp.ts if resp is not None else req.ts
        if last > session.last_ts:
            session.last_ts = last
            session.last_conn = conn
        code, message = (None, None)
        if resp is not None and resp.status >= 400:
            code, message = _error_body(resp.body)
        session.requests.append(
            PollingRequest(
                conn,
                req.method,
                handshake,
                req.frame,
                req.ts,
                resp.frame if resp is not None else None,
                resp.ts if resp is not None else None,
                resp.status if resp is not None else None,
                body_bytes,
                packets,
                code,
                message,
            )
        )

    # -- bookkeeping -----------------------------------------------------------------------------------
    def _session(
        self, key: str, query: EioQuery, conn: int, frame: int, *, sid: str | None = None
    ) -> SessionState | None:
        if self.keys_met is not None:
            self.keys_met.add(key)
        session = self._sessions.get(key)
        if session is None:
            if len(self._all) >= self.max_sessions:
                if not self._capped:
                    self._capped = True
                    msg = f"more than {self.max_sessions} Engine.IO sessions; the rest not analysed"
                    self._anomalies.append(make_anomaly(codes.LIMIT_EXCEEDED, msg, conn, None, (frame,)))
                return None
            session = SessionState(key, key if sid is None else sid, query.version, query.path)
            self.created += 1
            self._sessions[key] = session
            self._all.append(session)
        self._touch(session, conn, frame)
        return session

    def _rename(self, session: SessionState, sid: str) -> None:
        if self.keys_met is not None:
            self.keys_met.add(sid)
        session.sid = sid
        if sid not in self._sessions:
            del self._sessions[session.key]
            session.key = sid
            self._sessions[sid] = session

    def _touch(self, session: SessionState, conn: int, frame: int) -> None:
        self._seq += 1
        first = session.conns.get(conn)
        # (frame, seq) < first: seq only grows, so the frame alone decides
        if first is None or frame < first[0]:
            session.conns[conn] = (frame, self._seq)

    def _add(
        self,
        session: SessionState,
        direction: Direction,
        ts: float,
        frame: int,
        transport: str,
        conn: int,
        packet: EioPacket,
        size: int,
        *,
        truncated: bool = False,
        ts_ns: int | None = None,
    ) -> None:
        if len(session.raws) >= self.max_packets_per_session:
            session.dropped += 1
            if session.dropped == 1:
                msg = f"more than {self.max_packets_per_session} packets in one session; the rest dropped"
                keep_anomaly(session, make_anomaly(codes.LIMIT_EXCEEDED, msg, conn, direction, (frame,)))
            return
        self._seq += 1
        record = EioPacketRecord(direction, ts, frame, transport, conn, packet, size, truncated, None, ts_ns)
        if self.observer is not None:
            self._tell(session, record, self.observer)
        store = self.payloads
        # only message packets are parked: the analysis reads the others (open, probes) itself
        if store is not None and packet.type is _MESSAGE and len(packet.data) >= store.min_size:
            ref = store.put(packet.data)
            packet = EioPacket(packet.type, "" if ref[2] else b"", packet.b64)
            record = EioPacketRecord(
                direction, ts, frame, transport, conn, packet, size, truncated, ref, ts_ns
            )
        session.raws.append((frame, self._seq, record))
        if ts > session.last_ts:
            session.last_ts = ts
            session.last_conn = conn
        if packet.type is _CLOSE:
            session.closed = True
        self._touch(session, conn, frame)

    def _tell(self, session: SessionState, record: EioPacketRecord, observer: SessionObserver) -> None:
        """The live observer: the packet now, its Socket.IO packets as they complete."""
        live = session.live
        if live is None:
            live = session.live = LiveSocketIO(
                session.version, max_attachments=self.max_attachments, max_acks=self.max_acks_per_session
            )
        live.feed(session.sid or session.key, record, observer)

    def _note(
        self,
        session: SessionState,
        problems: list[ParserAnomaly],
        conn: int,
        direction: Direction,
        frame: int,
    ) -> None:
        for p in problems:
            keep_anomaly(session, make_anomaly(p.code, p.message, conn, direction, (frame,)))

    def _note_truncated(self, session: SessionState, conn: int, direction: Direction, frame: int) -> None:
        msg = "polling body cut at the HTTP layer's bound; packets past the cut are missing"
        keep_anomaly(session, make_anomaly(codes.LIMIT_EXCEEDED, msg, conn, direction, (frame,)))

    # -- analysis --------------------------------------------------------------------------------------
    def finish(
        self, emit: Callable[[EngineIOSession], None] | None = None
    ) -> tuple[list[EngineIOSession], list[Anomaly]]:
        """Every session, in the order of its first frame, and every Engine.IO / Socket.IO anomaly.
        With `emit`, each session goes there as soon as it is analysed and is not returned, so
        that only one analysed session is held at a time (streaming output)."""
        self._finished = True
        sessions: list[EngineIOSession] = []
        anomalies = list(self._anomalies)
        pending = deque(sorted(self._all, key=lambda s: min(s.conns.values()) if s.conns else (0, 0)))
        if emit is not None:  # handed out below, then forgotten
            self._all = []
            self._sessions.clear()
            self._legs.clear()
        while pending:
            s = pending.popleft()
            result, found = self._analyse(s)
            if emit is not None:
                forget(s)
            anomalies.extend(found)
            if result is None:
                continue
            if self.handed is not None:
                self.handed.append(min(s.conns.values()) if s.conns else (0, 0))
            if emit is not None:
                emit(result)
            else:
                sessions.append(result)
        anomalies.sort(key=lambda a: a.frames[0] if a.frames else 0)
        return sessions, anomalies

    def _analyse(self, s: SessionState) -> tuple[EngineIOSession | None, list[Anomaly]]:
        return analyse_session(
            s, self.payloads, max_attachments=self.max_attachments, max_acks=self.max_acks_per_session
        )


def _size(packet: EioPacket) -> int:
    """Bytes of the packet's own encoding (type character included)."""
    if isinstance(packet.data, bytes):
        return len(packet.data) + 1
    return len(packet.data.encode("utf-8", "surrogatepass")) + 1
