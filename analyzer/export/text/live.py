"""Incremental output of `socketscope live`: one line per thing decoded, as it is decoded.

`LivePrinter` is the pipeline observer (`Options.observer`): the connection layer calls it
for each connection's first payload byte, HTTP exchange, WebSocket upgrade, WebSocket
message and anomaly. Engine.IO and Socket.IO packets are decoded here from those messages
and polling bodies with the protocol parsers (the session builder analyses sessions only
at the end), with acknowledgements paired on the fly for their latency. The final
analysis remains the authority; these lines are what was seen when.

Formats: "text" (one line per event, captured text escaped so it cannot drive the terminal)
and "jsonl" (one JSON object per line, `"type"` first).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import IO, Any

from analyzer.export.text.summary import fmt_clock
from analyzer.model.common import Anomaly, Direction
from analyzer.model.engineio import EioPacket, EioPacketType
from analyzer.model.records import HttpExchange, HttpRequest, HttpResponse, WsMessageRecord, header_value
from analyzer.model.registry import make_anomaly
from analyzer.model.socketio import SioPacketType
from analyzer.model.text import terminal_text
from analyzer.model.values import to_jsonable
from analyzer.protocols.engineio import decode_ws_message, parse_engineio_query, parse_open_packet
from analyzer.protocols.engineio_polling import decode_polling_payload
from analyzer.protocols.socketio import SioStreamDecoder

__all__ = ["LivePrinter"]

PREVIEW = 120
MAX_SESSIONS = 10_000  # Engine.IO sessions followed at once (bound: the peer controls sids)
MAX_PENDING_ACKS = 10_000  # per session
MAX_CONNECTIONS = 100_000


def _clean(text: str, limit: int = PREVIEW) -> str:
    return terminal_text(text, limit)  # hostile text


def _json(value: Any, limit: int = PREVIEW) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return _clean(text, limit)


def _ep(e: dict[str, Any]) -> str:
    ip = e["ip"]
    return f"[{ip}]:{e['port']}" if ":" in ip else f"{ip}:{e['port']}"


@dataclass(slots=True)
class _Session:
    key: str
    version: int
    decoder: SioStreamDecoder
    metas: dict[int, tuple[int, Direction, float, int, str]] = field(default_factory=dict)
    acks: dict[tuple[str, Direction, int], tuple[float, str | None]] = field(default_factory=dict)
    seq: int = 0


class LivePrinter:
    """Pipeline observer that prints; call `connection_closed(record, anomalies)` from on_connection."""

    def __init__(self, out: IO[str], fmt: str = "text", *, payloads: bool = True) -> None:
        self.out = out
        self.fmt = fmt
        self.payloads = payloads
        self.lines = 0
        self._sessions: dict[str, _Session] = {}
        self._ws_session: dict[int, str] = {}  # connection -> session key
        self._ws_url: dict[int, str] = {}
        self._opened: set[int] = set()
        self._last_ts: float | None = None

    # -- output ----------------------------------------------------------------------------------------
    def _emit(self, kind: str, ts: float | None, conn: int | None, text: str, **fields: Any) -> None:
        self.lines += 1
        if ts is None:
            ts = self._last_ts  # anomalies and statistics: when they were seen
        else:
            self._last_ts = ts
        if self.fmt == "jsonl":
            doc: dict[str, Any] = {"type": kind, "ts": ts, "connection": conn}
            doc.update(fields)
            self.out.write(json.dumps(doc, ensure_ascii=False, default=str) + "\n")
        else:
            when = fmt_clock(ts) if ts is not None else "-"
            where = f"#{conn}" if conn is not None else "-"
            self.out.write(f"{when}  {where:>5}  {kind.split('_')[0].upper():5} {text}\n")
        self.out.flush()

    # -- observer hooks (called by analyzer/app) -------------------------------------------------------
    def on_connection_open(self, conn: Any) -> None:
        if conn.id in self._opened or len(self._opened) >= MAX_CONNECTIONS:
            return
        self._opened.add(conn.id)
        client, server = conn.endpoint_dict(conn.client), conn.endpoint_dict(conn.server)
        rtt = conn.handshake_rtt_ms
        shown = f"handshake RTT {rtt:.3f} ms" if rtt is not None else "no handshake seen (joined mid-stream)"
        self._emit(
            "tcp_open",
            conn.first_ts,
            conn.id,
            f"{_ep(client)} -> {_ep(server)} {shown}",
            client=client,
            server=server,
            rtt_ms=round(rtt, 6) if rtt is not None else None,
        )

    def on_http_exchange(self, ex: HttpExchange) -> None:
        req, resp = ex.request, ex.response
        if req is None:
            return
        status = f"{resp.status} {_clean(resp.reason, 40)}" if resp is not None else "no response"
        ms = (resp.ts - req.ts) * 1000.0 if resp is not None else None
        took = f" in {ms:.3f} ms" if ms is not None else ""
        self._emit(
            "http",
            req.ts,
            ex.connection,
            f"{req.method} {_clean(req.target, 100)} -> {status}{took}",
            method=req.method,
            target=req.target,
            status=resp.status if resp is not None else None,
            response_ms=round(ms, 6) if ms is not None else None,
            frames=[req.frame] + ([resp.frame] if resp is not None else []),
        )
        self._polling(ex.connection, req, resp)

    def on_websocket_open(self, connection: int, request: HttpRequest, response: HttpResponse | None) -> None:
        host = header_value(request.headers, "host") or ""
        url = f"ws://{host}{request.target}"
        self._ws_url[connection] = url
        ext = header_value(response.headers, "sec-websocket-extensions") if response is not None else None
        status = response.status if response is not None else None
        ms = (response.ts - request.ts) * 1000.0 if response is not None else None
        detail = f" -> {status}" + (f" in {ms:.3f} ms" if ms is not None else "")
        self._emit(
            "ws_upgrade",
            request.ts,
            connection,
            f"{_clean(url, 140)}{detail}" + (f" ({_clean(ext, 60)})" if ext else ""),
            url=url,
            status=status,
            extensions=ext,
        )
        query = parse_engineio_query(request.target)
        if query is None or len(self._sessions) >= MAX_SESSIONS:
            return
        key = query.sid or f"\0ws:{connection}"
        self._session(key, query.version)
        self._ws_session[connection] = key

    def on_ws_message(self, msg: WsMessageRecord) -> None:
        key = self._ws_session.get(msg.connection)
        binary = msg.opcode == "binary"
        if key is None or self.fmt == "jsonl":
            data = msg.data
            preview = (
                _clean(data[:PREVIEW].decode("utf-8", "replace"))
                if not binary
                else data[:48].hex() + ("…" if len(data) > 48 else "")
            )
            more = f" ({msg.nframes} frames)" if msg.nframes > 1 else ""
            comp = " compressed" if msg.compressed else ""
            self._emit(
                "ws_message",
                msg.ts,
                msg.connection,
                f"{msg.direction.value} {msg.opcode}{comp} {msg.length} bytes{more}"
                + (f" {preview}" if self.payloads else ""),
                direction=msg.direction.value,
                opcode=msg.opcode,
                length=msg.length,
                compressed=msg.compressed,
                frames=list(msg.frames),
                preview=preview if self.payloads else None,
            )
        if key is None:
            return
        session = self._sessions[key]
        packet, _ = decode_ws_message(msg.data, binary, session.version)
        if packet is not None:
            if packet.type is EioPacketType.OPEN and key.startswith("\0ws:"):
                info, _ = parse_open_packet(packet, session.version)
                if info is not None:
                    self._rename(key, info.sid)
                    key = info.sid
                    session = self._sessions[key]
            self._eio(session, msg.connection, msg.direction, msg.ts, msg.frame, "websocket", packet)

    def on_anomaly(self, a: Anomaly) -> None:
        self._anomaly(a.code, a.severity.value, a.message, a.connection, a.frames)

    # -- the end of a connection (from the pipeline's on_connection callback) ---------------------------
    def connection_closed(self, record: Any, anomalies: list[Anomaly]) -> None:
        for a in anomalies:
            if a.connection == record.id and a.layer.value in ("link", "network", "transport"):
                self._anomaly(a.code, a.severity.value, a.message, a.connection, a.frames)
        t = record.tcp
        ws = record.websocket
        close = ""
        if ws is not None and ws.close:
            codes = []
            for d in ("c2s", "s2c"):
                c = ws.close.get(d) if isinstance(ws.close, dict) else None
                code = c.get("code") if isinstance(c, dict) else None
                codes.append(str(code) if code is not None else "-")
            close = f", WebSocket close {'/'.join(codes)}"
        self._emit(
            "tcp_close",
            t.get("last_ts"),
            record.id,
            f"{t['end']}, packets {t['packets']['c2s']}/{t['packets']['s2c']},"
            f" bytes {t['payload_bytes']['c2s']}/{t['payload_bytes']['s2c']}, {record.app_protocol}{close}",
            end=t["end"],
            packets=t["packets"],
            payload_bytes=t["payload_bytes"],
            app_protocol=record.app_protocol,
        )
        key = self._ws_session.pop(record.id, None)
        self._ws_url.pop(record.id, None)
        self._opened.discard(record.id)
        if key is not None and key.startswith("\0ws:"):
            self._sessions.pop(key, None)

    # -- Engine.IO / Socket.IO -------------------------------------------------------------------------
    def _session(self, key: str, version: int) -> _Session:
        s = self._sessions.get(key)
        if s is None:
            s = self._sessions[key] = _Session(key, version, SioStreamDecoder(5 if version >= 4 else 4))
        return s

    def _rename(self, old: str, new: str) -> None:
        s = self._sessions.pop(old)
        s.key = new
        self._sessions.setdefault(new, s)
        for conn, key in self._ws_session.items():
            if key == old:
                self._ws_session[conn] = new

    def _polling(self, conn: int, req: HttpRequest, resp: HttpResponse | None) -> None:
        query = parse_engineio_query(req.target)
        if query is None or query.transport != "polling":
            return
        version = query.version
        if req.method == "POST" and query.sid is not None:
            ctype = header_value(req.headers, "content-type")
            packets, _ = decode_polling_payload(req.body, version, ctype)
            if query.sid in self._sessions or len(self._sessions) < MAX_SESSIONS:
                session = self._session(query.sid, version)
                for p in packets:
                    self._eio(session, conn, Direction.C2S, req.ts, req.frame, "polling", p)
            return
        if req.method != "GET" or resp is None or resp.status != 200:
            return
        ctype = header_value(resp.headers, "content-type")
        packets, _ = decode_polling_payload(resp.body, version, ctype)
        sid = query.sid
        if sid is None:  # the handshake: the open packet names the session (EIO v4 'Handshake')
            first = next((p for p in packets if p.type is EioPacketType.OPEN), None)
            info = parse_open_packet(first, version)[0] if first is not None else None
            sid = info.sid if info is not None else None
        if sid is None or (sid not in self._sessions and len(self._sessions) >= MAX_SESSIONS):
            return
        session = self._session(sid, version)
        for p in packets:
            self._eio(session, conn, Direction.S2C, resp.ts, resp.frame, "polling", p)

    def _eio(
        self,
        session: _Session,
        conn: int,
        d: Direction,
        ts: float,
        frame: int,
        transport: str,
        p: EioPacket,
    ) -> None:
        if p.type is not EioPacketType.MESSAGE:
            data = p.data if isinstance(p.data, str) else p.data.hex()
            shown = f" {_clean(data, 100)}" if data else ""
            self._emit(
                "eio_packet",
                ts,
                conn,
                f"{d.value} {p.type.wire_name}{shown} [{transport}]",
                direction=d.value,
                packet=p.type.wire_name,
                data=data or None,
                transport=transport,
                session=session.key,
            )
            return
        session.seq += 1
        tag = session.seq
        if len(session.metas) < 10_000:
            session.metas[tag] = (conn, d, ts, frame, transport)
        if isinstance(p.data, bytes):
            events = session.decoder.feed_binary(d, p.data, tag)
        else:
            events = session.decoder.feed_text(d, p.data, tag)
        for ev in events:
            head = session.metas.get(ev.tags[0]) if ev.tags else None
            for t in ev.tags:
                session.metas.pop(t, None)
            h_conn, h_d, h_ts, h_frame, h_transport = head or (conn, d, ts, frame, transport)
            for pa in ev.anomalies:
                a = make_anomaly(pa.code, pa.message, h_conn, h_d)  # the registry's severity
                self._anomaly(a.code, a.severity.value, a.message, h_conn, (h_frame,))
            if ev.packet is not None:
                self._sio(session, h_conn, h_d, h_ts, h_transport, ev.packet)

    def _sio(self, session: _Session, conn: int, d: Direction, ts: float, transport: str, p: Any) -> None:
        latency = None
        answered = None
        if p.type in (SioPacketType.EVENT, SioPacketType.BINARY_EVENT) and p.ack_id is not None:
            if len(session.acks) < MAX_PENDING_ACKS:
                session.acks[(p.nsp, d, p.ack_id)] = (ts, p.event)
        elif p.type in (SioPacketType.ACK, SioPacketType.BINARY_ACK) and p.ack_id is not None:
            asked = session.acks.pop((p.nsp, d.other, p.ack_id), None)  # SIO v5 'Acknowledgement'
            if asked is not None:
                latency = (ts - asked[0]) * 1000.0
                answered = asked[1]
        data = to_jsonable(p.data) if p.binary_values else p.data
        if p.type in (SioPacketType.EVENT, SioPacketType.BINARY_EVENT):
            args = data[1:] if isinstance(data, list) else []
            what = f"{_clean(str(p.event), 60)!s} {_json(args)}"
        elif p.type in (SioPacketType.ACK, SioPacketType.BINARY_ACK):
            what = _json(data)
        else:
            what = _json(data) if p.has_data else ""
        ack = f" ack={p.ack_id}" if p.ack_id is not None else ""
        lat = ""
        if latency is not None:
            lat = f" answers {answered!r} after {latency:.3f} ms" if answered else f" after {latency:.3f} ms"
        self._emit(
            "sio_packet",
            ts,
            conn,
            f"{d.value} {p.type.name} {p.nsp} {what}{ack}{lat} [{transport}]".replace("  ", " "),
            direction=d.value,
            packet=p.type.name,
            nsp=p.nsp,
            ack_id=p.ack_id,
            event=p.event,
            data=data,
            latency_ms=round(latency, 6) if latency is not None else None,
            transport=transport,
            session=session.key,
        )

    def _anomaly(
        self, code: str, severity: str, message: str, conn: int | None, frames: tuple[int, ...]
    ) -> None:
        self._emit(
            "anomaly",
            None,
            conn,
            f"{severity} {code}: {_clean(message, 160)}" + (f" (frame {frames[0]})" if frames else ""),
            code=code,
            severity=severity,
            message=message,
            frames=list(frames),
        )

    # -- the end ---------------------------------------------------------------------------------------
    def capture_stats(self, stats: dict[str, Any], interface: str) -> None:
        dropped = stats.get("kernel_dropped")
        shown = "unknown" if dropped is None else str(dropped)
        text = f"{stats.get('packets', 0)} packets captured on {interface}, {shown} dropped by the kernel"
        if stats.get("interface_dropped"):
            text += f", {stats['interface_dropped']} by the interface"
        if stats.get("error"):
            text += f"; capture stopped: {stats['error']}"
        self._emit("capture_stats", None, None, text, interface=interface, **stats)
