"""Incremental output of `socketscope live`: one line per thing decoded, as it is decoded.

`LivePrinter` is a live observer (`Options.observer`, pipeline/observer.py: LiveObserver): the
connection layer tells it each connection's first payload byte, HTTP exchange, WebSocket
upgrade, WebSocket message and anomaly; the session layer each Engine.IO packet with its
session and each Socket.IO packet with the acknowledgement it completes (the session builder
stitches sessions and pairs acks, session/live.py); the pipeline each connection's end. The
printer only formats: each becomes a `LiveLine`, handed to `emit` (the web UI's live page
publishes them) or written to `out`. The final analysis remains the authority; these lines
are what was seen when.

Formats: "text" (one line per event, captured text escaped so it cannot drive the terminal)
and "jsonl" (one JSON object per line, `"type"` first; every WebSocket message, also the ones
that carry Engine.IO, which "text" shows as their Engine.IO / Socket.IO lines only).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from analyzer.export.text.summary import fmt_clock
from analyzer.model.analysis import ConnectionRecord
from analyzer.model.common import Anomaly
from analyzer.model.engineio import EioPacketType
from analyzer.model.facts import Endpoint
from analyzer.model.records import HttpExchange, HttpRequest, HttpResponse, WsMessageRecord, header_value
from analyzer.model.session import AckRecord, EioPacketRecord, SioPacketRecord
from analyzer.model.socketio import SioPacketType
from analyzer.model.text import terminal_text
from analyzer.model.times import ns_of, span_ms
from analyzer.model.values import to_jsonable
from analyzer.protocols.engineio import parse_engineio_query

if TYPE_CHECKING:
    from analyzer.tcp.tracker import TcpConnection

__all__ = ["LiveLine", "LivePrinter"]

PREVIEW = 120
MAX_CONNECTIONS = 100_000
_EVENTS = (SioPacketType.EVENT, SioPacketType.BINARY_EVENT)
_ACKS = (SioPacketType.ACK, SioPacketType.BINARY_ACK)
_TRANSPORT_LAYERS = ("link", "network", "transport")


def _clean(text: str, limit: int = PREVIEW) -> str:
    return terminal_text(text, limit)  # hostile text


def _json(value: Any, limit: int = PREVIEW) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return _clean(text, limit)


def _ep(e: Endpoint) -> str:
    ip = e["ip"]
    return f"[{ip}]:{e['port']}" if ":" in ip else f"{ip}:{e['port']}"


@dataclass(frozen=True, slots=True)
class LiveLine:
    """One thing seen: its kind ("tcp_open", "http", "ws_upgrade", "ws_message", "eio_packet",
    "sio_packet", "anomaly", "tcp_close", "capture_stats"), when (for anomalies and statistics:
    the time of the line before), its connection, its text line and the fields of its JSON form."""

    kind: str
    ts: float | None
    connection: int | None
    text: str
    fields: dict[str, Any]

    def json_line(self) -> str:
        doc: dict[str, Any] = {"type": self.kind, "ts": self.ts, "connection": self.connection}
        doc.update(self.fields)
        return json.dumps(doc, ensure_ascii=False, default=str) + "\n"

    def text_line(self) -> str:
        when = fmt_clock(self.ts) if self.ts is not None else "-"
        where = f"#{self.connection}" if self.connection is not None else "-"
        return f"{when}  {where:>5}  {self.kind.split('_')[0].upper():5} {self.text}\n"


def line_writer(out: IO[str], fmt: str) -> Callable[[LiveLine], None]:
    """Each line written to `out` in `fmt` ("text" or "jsonl"), flushed."""
    form = LiveLine.json_line if fmt == "jsonl" else LiveLine.text_line

    def write(line: LiveLine) -> None:
        out.write(form(line))
        out.flush()

    return write


class LivePrinter:
    """A live observer that formats what it is told. `emit` gets each line (default: written to
    `out` in `fmt`); `fmt` "jsonl" also tells every WebSocket message."""

    def __init__(
        self,
        out: IO[str] | None = None,
        fmt: str = "text",
        *,
        payloads: bool = True,
        emit: Callable[[LiveLine], None] | None = None,
    ) -> None:
        if emit is None:
            if out is None:
                raise ValueError("LivePrinter needs an output or an emit callable")
            emit = line_writer(out, fmt)
        self.emit = emit
        self.fmt = fmt
        self.payloads = payloads
        self.lines = 0
        self._eio_ws: set[int] = set()  # WebSocket connections upgraded with an Engine.IO query
        self._opened: set[int] = set()
        self._last_ts: float | None = None

    def _line(self, kind: str, ts: float | None, conn: int | None, text: str, **fields: Any) -> None:
        self.lines += 1
        if ts is None:
            ts = self._last_ts  # anomalies and statistics: when they were seen
        else:
            self._last_ts = ts
        self.emit(LiveLine(kind, ts, conn, text, fields))

    # -- the connection layer --------------------------------------------------------------------------
    def on_connection_open(self, conn: TcpConnection) -> None:
        if conn.id in self._opened or len(self._opened) >= MAX_CONNECTIONS:
            return
        self._opened.add(conn.id)
        client, server = conn.endpoint_dict(conn.client), conn.endpoint_dict(conn.server)
        rtt = conn.handshake_rtt_ms
        shown = f"handshake RTT {rtt:.3f} ms" if rtt is not None else "no handshake seen (joined mid-stream)"
        self._line(
            "tcp_open",
            conn.first_ts,
            conn.id,
            f"{_ep(client)} -> {_ep(server)} {shown}",
            client=client,
            server=server,
            rtt_ms=round(rtt, 6) if rtt is not None else None,
        )

    def on_http_exchange(self, exchange: HttpExchange) -> None:
        req, resp = exchange.request, exchange.response
        if req is None:
            return
        status = f"{resp.status} {_clean(resp.reason, 40)}" if resp is not None else "no response"
        ms = span_ms(ns_of(req.ts, req.ts_ns), ns_of(resp.ts, resp.ts_ns)) if resp is not None else None
        took = f" in {ms:.3f} ms" if ms is not None else ""
        self._line(
            "http",
            req.ts,
            exchange.connection,
            f"{req.method} {_clean(req.target, 100)} -> {status}{took}",
            method=req.method,
            target=req.target,
            status=resp.status if resp is not None else None,
            response_ms=round(ms, 6) if ms is not None else None,
            frames=[req.frame] + ([resp.frame] if resp is not None else []),
        )

    def on_websocket_open(self, connection: int, request: HttpRequest, response: HttpResponse | None) -> None:
        host = header_value(request.headers, "host") or ""
        url = f"ws://{host}{request.target}"
        ext = header_value(response.headers, "sec-websocket-extensions") if response is not None else None
        status = response.status if response is not None else None
        ms = (
            span_ms(ns_of(request.ts, request.ts_ns), ns_of(response.ts, response.ts_ns))
            if response is not None
            else None
        )
        detail = f" -> {status}" + (f" in {ms:.3f} ms" if ms is not None else "")
        self._line(
            "ws_upgrade",
            request.ts,
            connection,
            f"{_clean(url, 140)}{detail}" + (f" ({_clean(ext, 60)})" if ext else ""),
            url=url,
            status=status,
            extensions=ext,
        )
        if parse_engineio_query(request.target) is not None:  # its messages: Engine.IO lines
            self._eio_ws.add(connection)

    def on_ws_message(self, message: WsMessageRecord) -> None:
        msg = message
        if msg.connection in self._eio_ws and self.fmt != "jsonl":
            return
        binary = msg.opcode == "binary"
        data = msg.data
        preview = (
            _clean(data[:PREVIEW].decode("utf-8", "replace"))
            if not binary
            else data[:48].hex() + ("…" if len(data) > 48 else "")
        )
        more = f" ({msg.nframes} frames)" if msg.nframes > 1 else ""
        comp = " compressed" if msg.compressed else ""
        self._line(
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

    def on_anomaly(self, anomaly: Anomaly) -> None:
        a = anomaly
        self._line(
            "anomaly",
            None,
            a.connection,
            f"{a.severity.value} {a.code}: {_clean(a.message, 160)}"
            + (f" (frame {a.frames[0]})" if a.frames else ""),
            code=a.code,
            severity=a.severity.value,
            message=a.message,
            frames=list(a.frames),
        )

    def on_connection_close(self, record: ConnectionRecord, anomalies: Sequence[Anomaly]) -> None:
        for a in anomalies:  # the others were told as they were raised
            if a.connection == record.id and a.layer.value in _TRANSPORT_LAYERS:
                self.on_anomaly(a)
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
        self._line(
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
        self._eio_ws.discard(record.id)
        self._opened.discard(record.id)

    # -- the session layer -----------------------------------------------------------------------------
    def on_eio_packet(self, session: str, record: EioPacketRecord) -> None:
        p = record.packet
        if p.type is EioPacketType.MESSAGE:
            return  # told as its Socket.IO packets
        data = p.data if isinstance(p.data, str) else p.data.hex()
        shown = f" {_clean(data, 100)}" if data else ""
        d = record.direction
        self._line(
            "eio_packet",
            record.ts,
            record.connection,
            f"{d.value} {p.type.wire_name}{shown} [{record.transport}]",
            direction=d.value,
            packet=p.type.wire_name,
            data=data or None,
            transport=record.transport,
            session=session,
        )

    def on_sio_packet(self, session: str, record: SioPacketRecord, answers: AckRecord | None) -> None:
        p = record.packet
        d = record.direction
        # from the ACK's first packet (its attachments may come later), as it was seen
        latency = (
            span_ms(ns_of(answers.request_ts, answers.request_ns), ns_of(record.ts, record.ts_ns))
            if answers is not None
            else None
        )
        data = to_jsonable(p.data) if p.binary_values else p.data
        if p.type in _EVENTS:
            args = data[1:] if isinstance(data, list) else []
            what = f"{_clean(str(p.event), 60)!s} {_json(args)}"
        elif p.type in _ACKS:
            what = _json(data)
        else:
            what = _json(data) if p.has_data else ""
        ack = f" ack={p.ack_id}" if p.ack_id is not None else ""
        lat = ""
        if answers is not None and latency is not None:
            asked = answers.event
            lat = f" answers {asked!r} after {latency:.3f} ms" if asked else f" after {latency:.3f} ms"
        self._line(
            "sio_packet",
            record.ts,
            record.connection,
            f"{d.value} {p.type.name} {p.nsp} {what}{ack}{lat} [{record.transport}]".replace("  ", " "),
            direction=d.value,
            packet=p.type.name,
            nsp=p.nsp,
            ack_id=p.ack_id,
            event=p.event,
            data=data,
            latency_ms=round(latency, 6) if latency is not None else None,
            transport=record.transport,
            session=session,
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
        self._line("capture_stats", None, None, text, interface=interface, **stats)
