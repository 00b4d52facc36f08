"""Per-connection application layer: HTTP/1.1, the WebSocket upgrade, WebSocket frames and messages.

The reassembled byte streams of both directions arrive here in capture order. HTTP
events become HttpExchange records; a 101 Upgrade hands each direction's remaining
bytes to a WebSocket decoder; stream offsets are turned into packet numbers and
timestamps with the direction's OffsetMap; Engine.IO material goes to the SessionBuilder
(and, as it is decoded, to `Options.observer`, the live printer).
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any

from analyzer.model.analysis import ConnectionRecord
from analyzer.model.codes.http import HTTP_STREAM_GAP
from analyzer.model.codes.websocket import CLIENT_CLOSED_TCP_FIRST, HANDSHAKE_EARLY_DATA
from analyzer.model.codes.websocket import STREAM_GAP as WS_STREAM_GAP
from analyzer.model.common import Anomaly, Direction, ParserAnomaly
from analyzer.model.records import HttpExchange, HttpRequest, HttpResponse, WsMessageRecord, header_value
from analyzer.model.registry import make_anomaly
from analyzer.model.websocket import WebSocketRecord, WsFrameRecord
from analyzer.pipeline.frame_cap import FrameRecords
from analyzer.pipeline.h2_host import H2Tunnels
from analyzer.pipeline.options import websocket_record
from analyzer.protocols import http1
from analyzer.protocols.deflate import InflateBudget
from analyzer.protocols.h2.frames import looks_like_h2
from analyzer.protocols.handshake import HandshakeResult, check_handshake, is_websocket_upgrade
from analyzer.protocols.proxy import ProxyHandshake, detect
from analyzer.protocols.tls.detect import looks_like_tls
from analyzer.protocols.websocket import WsDecoder, WsFrame, WsMessage
from analyzer.protocols.ws_conversation import WsConversation
from analyzer.session.builder import SessionBuilder
from analyzer.tcp.reassembly import DirectionStream
from analyzer.tcp.tracker import looks_like_http_request, looks_like_http_response

if TYPE_CHECKING:  # imported where a connection first needs them: most captures have no TLS or HTTP/2
    from analyzer.pipeline.h2_step import H2Step, PieceMap
    from analyzer.pipeline.tls_step import TlsStep

if TYPE_CHECKING:
    from analyzer.pipeline.options import Options
    from analyzer.tcp.tracker import TcpConnection

__all__ = ["ConnectionApp"]

_LENGTH_FORM = {"7-bit": "7-bit", "16-bit": "16-bit", "64-bit": "64-bit"}
_OPNAME = {1: "text", 2: "binary"}
_MAX_INTERIM = 16  # 1xx responses listed per exchange (a peer may send any number)
_MAX_HELD = 4096  # WebSocket events held for ordering (see _ws_route) before they go out anyway
MAX_CONN_ANOMALIES = 10000  # anomalies kept per connection (docs/bounds.md); the rest are dropped
_OPCODE_NAMES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}


class ConnectionApp(H2Tunnels):
    """Decides what a connection carries and runs its parsers."""

    def __init__(
        self,
        conn: TcpConnection,
        options: Options,
        sessions: SessionBuilder,
        inflate_budget: InflateBudget | None = None,
        frame_records: FrameRecords | None = None,
    ) -> None:
        self.conn = conn
        self.options = options
        self.sessions = sessions
        self.inflate_budget = inflate_budget  # the connection's (docs/bounds.md)
        self.frame_records = frame_records or FrameRecords(options.max_frame_records, None)
        self.observer = options.observer  # sees each exchange, upgrade and message as decoded
        self.anomalies: list[Anomaly] = []
        self.mode = "undecided"  # "http" | "websocket" | "opaque"
        self.http: http1.Http1Connection | None = None
        self.exchanges: list[HttpExchange] = []
        self._req_heads: dict[int, Any] = {}
        self._requests: dict[int, HttpRequest] = {}
        self._lost: set[int] = set()  # requests whose response was lost, waiting for their own end
        self._interim: dict[int, list[HttpResponse]] = {}  # request -> its 1xx responses so far
        self._resp_heads: dict[int | None, Any] = {}
        self._upgrade_index: int | None = None
        self._feeding = Direction.C2S  # the direction whose bytes the HTTP parser is reading
        self.ws: WebSocketRecord | None = None
        self.ws_decoders: dict[Direction, WsDecoder] = {}
        self.ws_base: dict[Direction, int] = {}
        self.ws_pending: dict[Direction, bytes] = {}
        self.conversation: WsConversation | None = None
        self.handshake: HandshakeResult | None = None
        self.ws_frames = 0
        self._closed: dict[Direction, bool] = {}
        self._ws_ended: set[Direction] = set()
        # events waiting while a decoder holds bytes (see _ws_route): (packet, event, gap frame)
        self._ws_held: dict[Direction, list[tuple[int, Any, int]]] = {}
        self._frame_counts: dict[tuple[str, int], int] = {}  # (direction, opcode) -> frames
        self.layer_bytes = {"http_bytes": 0, "websocket_header_bytes": 0, "websocket_payload_bytes": 0}
        # --decode-as PORT=...: a stream that starts with HTTP is still parsed as HTTP (and upgrades)
        self.decode_as = options.decode_as.get(conn.server[1]) or options.decode_as.get(conn.client[1])
        # a SOCKS or PROXY protocol handshake before the application's bytes (protocols/proxy.py)
        self.proxy: ProxyHandshake | None = None
        self._first_data = True
        # TLS on any port (pipeline/tls_step.py): the parsers below read its plaintext
        self.tls: TlsStep | None = None
        self._opened = False
        self.h2: H2Step | None = None  # HTTP/2 (pipeline/h2_step.py)
        self.h2_active = False  # the parsers' bytes go to self.h2
        self.ws_maps: dict[Direction, PieceMap] | None = None  # an RFC 8441 tunnel's offsets

    # -- helpers --
    def _stream(self, d: Direction) -> DirectionStream:
        return self.conn.c2s if d is Direction.C2S else self.conn.s2c

    def _where(self, d: Direction, start: int, end: int) -> tuple[int, float, tuple[int, ...]]:
        """The packet with the byte before `end`, its time, and every packet of [start, end)."""
        if self.tls is not None:  # offsets of the plaintext, mapped through the TLS records
            pm = self.tls.offsets[d]
            last = max(end - 1, start)
            return pm.frame_at(last), pm.ts_at(last), pm.frames_between(start, max(end, start + 1))
        if self.proxy is not None:  # the parsers count from the end of the proxy handshake
            start += self.proxy.taken[d]
            end += self.proxy.taken[d]
        return self._stream(d).offsets.where(start, end)

    def _ns(self, d: Direction, start: int, end: int) -> int:
        """`_where`'s time in integer nanoseconds."""
        last = max(end - 1, start)
        if self.tls is not None:
            return self.tls.offsets[d].ns_at(last)
        if self.proxy is not None:
            last = max(end + self.proxy.taken[d] - 1, start + self.proxy.taken[d])
        return self._stream(d).offsets.ns_at(last)

    def _ws_ns(self, d: Direction, start: int, end: int) -> int:
        """`_ws_where`'s time in integer nanoseconds."""
        if self.ws_maps is not None:  # an RFC 8441 tunnel: WebSocket offsets -> its DATA frames
            start, end = self.ws_maps[d].at(start), self.ws_maps[d].at(max(end - 1, start)) + 1
        return self._ns(d, start, end)

    def _next(self, d: Direction) -> int:
        """Offset, as the parsers count, of the direction's next byte."""
        if self.tls is not None:
            return self.tls.next[d]
        return self._stream(d).next - (self.proxy.taken[d] if self.proxy is not None else 0)

    def _anomaly(self, code: str, message: str, d: Direction | None, frames: tuple[int, ...] = ()) -> None:
        if len(self.anomalies) < MAX_CONN_ANOMALIES:
            self.anomalies.append(make_anomaly(code, message, self.conn.id, d, frames))
            if self.observer is not None:
                self.observer.on_anomaly(self.anomalies[-1])

    def _start_http(self) -> None:
        self.mode = "http"
        # no handshake captured: the streams may begin inside a message (a capture started
        # mid-session), so the parser looks for the first start line instead of failing on it
        midstream = self.conn.syn is None and self.conn.synack is None
        self.http = http1.Http1Connection(midstream=midstream, inflate_budget=self.inflate_budget)

    # -- StreamSink (forwarded by the pipeline); with TLS, the same for each direction's plaintext --
    def on_data(self, stream: DirectionStream, offset: int, data: bytes, frame: int, ts: float) -> None:
        d = stream.direction
        if self._first_data or self.proxy is not None:
            data, offset = self._proxy_step(d, offset, data)
            if not data:
                return
        if self.tls is None and self.mode == "undecided" and looks_like_tls(data, d is Direction.C2S):
            self._open()
            from analyzer.pipeline.tls_step import TlsStep  # cryptography: only for TLS
            self.tls = TlsStep(self.conn, self.options.keylog, self._data, self._gap, self._anomaly)
        if self.tls is not None:
            self.tls.data(d, data)
        else:
            self._data(d, offset, data, frame, ts)

    def on_gap(self, stream: DirectionStream, offset: int, length: int, frame: int, ts: float) -> None:
        d = stream.direction
        if self.proxy is not None and not self.proxy.done[d]:
            self.proxy.gap(d)
            self.mode = "opaque"
            return
        if self.tls is not None:
            self.tls.gap(d, length)
        else:
            self._gap(d, offset, length, frame, ts)

    def on_end(self, stream: DirectionStream, offset: int, frame: int, ts: float) -> None:
        if self.tls is not None:
            self.tls.end(stream.direction)
        self._end(stream.direction, ts, frame)

    def _open(self) -> None:
        if self.observer is not None and not self._opened:
            self.observer.on_connection_open(self.conn)  # first payload byte: handshake done
        self._opened = True

    def _data(self, d: Direction, offset: int, data: bytes, frame: int, ts: float) -> None:
        if self.h2_active and self.h2 is not None:
            self.h2.data(d, data)
            return
        if self.mode == "undecided":
            self._open()
            alpn = self.tls.session.info.alpn if self.tls is not None else None
            if alpn == "h2" or looks_like_h2(d is Direction.C2S, data):
                self.mode, self.h2_active = "http2", True  # RFC 9113 §3.2-§3.4: ALPN h2, or prior knowledge
                from analyzer.pipeline.h2_step import H2Step  # hpack: only for HTTP/2
                self.h2 = H2Step(self, at={d: offset, d.other: self._next(d.other)})
                self.h2.data(d, data)
                return
            if (d is Direction.C2S and looks_like_http_request(data)) or (
                d is Direction.S2C and looks_like_http_response(data)
            ):
                self._start_http()
            elif self.decode_as == "websocket":
                self._start_websocket(None, resync=True, at={d: offset})
            elif self.decode_as == "http":
                self._start_http()
            else:
                self.mode = "opaque"
                return
        if d in self.ws_decoders:
            self._ws_feed(d, data)
            return
        if self.http is not None and not self.http.is_upgraded(d):
            self.layer_bytes["http_bytes"] += len(data)
            self._feeding = d
            self._http_events(self.http.feed(d, data, frame))

    def _gap(self, d: Direction, offset: int, length: int, frame: int, ts: float) -> None:
        if self.h2_active and self.h2 is not None:
            self.h2.gap(d, length)
            return
        # what the gap makes a parser say names the packet where the gap was found (as tcp.gap
        # does), not the packet before the missing bytes, which is all the offsets could tell
        if d in self.ws_decoders:
            self._ws_route(d, self.ws_decoders[d].gap(length), frame)
        elif self.http is not None and not self.http.is_upgraded(d):
            self._http_events(self.http.gap(d, length), frame)

    def _end(self, d: Direction, ts: float, frame: int) -> None:
        if self.h2_active and self.h2 is not None:
            self.h2.end(d)
        if self.conversation is not None:
            self.conversation.on_tcp_end(d, "fin", ts, frame)
        if d in self.ws_decoders:
            self._ws_eof(d)
        elif self.http is not None and not self.http.is_upgraded(d):
            self._http_events(self.http.eof(d))

    # -- proxy handshake --
    def _proxy_step(self, d: Direction, offset: int, data: bytes) -> tuple[bytes, int]:
        """A SOCKS or PROXY protocol handshake the connection starts with (detected in the
        client's first bytes) takes its bytes; the rest, and its offset counted from the end of
        the handshake, go on to the application's parsers as if there were no proxy."""
        if self._first_data:
            self._first_data = False
            kind = detect(data) if d is Direction.C2S and self.mode == "undecided" else None
            if kind is None:
                return data, offset
            self.proxy = ProxyHandshake(kind)
        proxy = self.proxy
        assert proxy is not None
        if proxy.done[d]:
            return data, offset - proxy.taken[d]
        used = proxy.feed(d, data)
        if proxy.failed:
            self.mode = "opaque"
        if proxy.failed or not proxy.done[d]:
            return b"", offset
        return data[used:], offset + used - proxy.taken[d]

    # -- HTTP --
    def _http_events(self, events: list[Any], gap_frame: int = 0) -> None:
        for ev in events:
            if isinstance(ev, http1.HttpRequestHead):
                self._req_heads[ev.index] = ev
            elif isinstance(ev, http1.HttpResponseHead):
                self._resp_heads[ev.request_index] = ev
                if ev.status == 101:
                    self._on_101(ev)
            elif isinstance(ev, http1.HttpMessageDone):
                self._http_done(ev)
            elif isinstance(ev, http1.Upgraded):
                self._on_upgraded(ev)
            elif isinstance(ev, http1.HttpAnomaly):
                if gap_frame and ev.code == HTTP_STREAM_GAP:
                    frame = gap_frame
                else:
                    frame = self._where(ev.direction, ev.offset, ev.offset + 1)[0]
                self._anomaly(ev.code, ev.message, ev.direction, (frame,) if frame else ())
            elif isinstance(ev, http1.ResponseLost):
                # the exchange is over: listed now, in its place, not with the unanswered at the end
                if ev.request_index in self._requests:
                    self._add_exchange(ev.request_index, None)
                else:  # its body is still coming
                    self._lost.add(ev.request_index)

    def _request_record(self, head: Any, end: int, body: bytes = b"", cut: bool = False) -> HttpRequest:
        frame, ts, frames = self._where(Direction.C2S, head.start, end)
        ns = self._ns(Direction.C2S, head.start, end)
        return HttpRequest(
            frame, ts, head.method, head.target, head.version, head.headers, body, cut, frames, ts_ns=ns
        )

    def _response_record(self, head: Any, end: int, body: bytes = b"", cut: bool = False) -> HttpResponse:
        frame, ts, frames = self._where(Direction.S2C, head.start, end)
        ns = self._ns(Direction.S2C, head.start, end)
        return HttpResponse(
            frame, ts, head.version, head.status, head.reason, head.headers, body, cut, frames, ts_ns=ns
        )

    def _http_done(self, ev: Any) -> None:
        if ev.direction is Direction.C2S:
            head = self._req_heads.get(ev.index)
            if head is not None:
                self._requests[ev.index] = self._request_record(head, ev.end, ev.body, ev.body_truncated)
                if ev.index in self._lost:
                    self._lost.discard(ev.index)
                    self._add_exchange(ev.index, None)
            return
        head = self._resp_heads.pop(ev.index, None)
        if head is None:
            return
        resp = self._response_record(head, ev.end, ev.body, ev.body_truncated)
        if 100 <= head.status < 200 and head.status != 101 and ev.index is not None:
            # RFC 9110 §15.2: an interim response belongs to the request's exchange, which its
            # final response completes (the request body may still be coming: Expect:
            # 100-continue, §10.1.1)
            if len(self._interim.setdefault(ev.index, [])) < _MAX_INTERIM:
                self._interim[ev.index].append(resp)
            return
        self._add_exchange(ev.index, resp)

    def _add_exchange(self, index: int | None, resp: HttpResponse | None) -> None:
        req = None
        interim: tuple[HttpResponse, ...] = ()
        if index is not None:
            req = self._requests.pop(index, None)
            self._req_heads.pop(index, None)
            interim = tuple(self._interim.pop(index, ()))
        ex = HttpExchange(self.conn.id, len(self.exchanges), req, resp, interim)
        self.exchanges.append(ex)
        if not (index is not None and index == self._upgrade_index):
            if self.observer is not None:
                self.observer.on_http_exchange(ex)
            self.sessions.on_http_exchange(ex)  # the upgrade itself went to on_websocket_open

    def _on_101(self, head: Any) -> None:
        req_head = self._req_heads.get(head.request_index)
        if req_head is not None and "h2c" in (header_value(head.headers, "upgrade") or "").lower():
            # RFC 7540 §3.2: HTTP/2 after the 101; the request is stream 1, answered there
            req = self._requests.get(head.request_index) or self._request_record(req_head, req_head.end)
            from analyzer.pipeline.h2_step import H2Step, h2c_settings  # hpack: only for HTTP/2
            self.h2 = H2Step(self, at={}, upgrade=req, upgrade_settings=h2c_settings(req_head.headers))
            return
        if req_head is None or not is_websocket_upgrade(req_head.headers):
            return
        self._upgrade_index = head.request_index
        self.handshake = check_handshake(
            req_head.method, req_head.version, req_head.headers, head.status, head.version, head.headers
        )
        for code, message in self.handshake.anomalies:
            frame = self._where(Direction.S2C, head.start, head.end)[0]
            self._anomaly(code, message, Direction.S2C, (frame,) if frame else ())
        self._start_websocket(self.handshake, resync=False)
        req_frame = self._where(Direction.C2S, req_head.start, req_head.end)[0]
        resp_frame = self._where(Direction.S2C, head.start, head.end)[0]
        assert self.ws is not None
        self.ws.handshake = self.handshake.to_dict(req_frame, resp_frame)
        host = next((v for k, v in req_head.headers if k.lower() == "host"), "")
        self.ws.url = f"{'wss' if self.tls else 'ws'}://{host}{req_head.target}"
        req = self._requests.get(head.request_index) or self._request_record(req_head, req_head.end)
        resp = self._response_record(head, head.end)
        if self.observer is not None:
            self.observer.on_websocket_open(self.conn.id, req, resp)
        self.sessions.on_websocket_open(self.conn.id, req, resp)
        # bytes the client sent after the upgrade request, held until now
        for d, data in self.ws_pending.items():
            self._ws_feed(d, data)
        self.ws_pending.clear()

    def _on_upgraded(self, ev: Any) -> None:
        d = ev.direction
        if self.h2 is not None:  # h2c: the bytes after the messages are HTTP/2 (RFC 7540 §3.2)
            self.mode, self.h2_active = "http2", True
            self.h2.parser.readers[d].rebase(ev.offset)
            if ev.data:
                self.h2.data(d, ev.data)
            return
        if self.ws is None:
            return  # Upgrade to something other than WebSocket (e.g. CONNECT, h2c): left opaque
        if d not in self.ws_base:
            self.ws_base[d] = ev.offset
            self.ws_decoders[d] = self._decoder(d)
        if ev.data and d is Direction.C2S and self._feeding is Direction.S2C:
            # the 101 just came in, and the client had already sent these bytes (held since its
            # request): RFC 6455 §4.1, the client waits for the server's handshake (H4)
            frame = self._where(d, ev.offset, ev.offset + 1)[0]
            self._anomaly(
                HANDSHAKE_EARLY_DATA,
                f"the client sent {len(ev.data)} bytes after its upgrade request before the 101 response",
                d,
                (frame,) if frame else (),
            )
        if ev.data:
            self._ws_feed(d, ev.data)

    # -- WebSocket --
    def _start_websocket(
        self, hs: HandshakeResult | None, resync: bool, at: dict[Direction, int] | None = None
    ) -> None:
        self.mode = "websocket"
        self.ws = websocket_record(self.options, self.conn.id)
        self.conversation = WsConversation()
        self._resync = resync
        if resync:
            for d in (Direction.C2S, Direction.S2C):
                self.ws_base[d] = (at or {}).get(d, self._next(d))
                self.ws_decoders[d] = self._decoder(d)

    def _decoder(self, d: Direction) -> WsDecoder:
        hs = self.handshake
        return WsDecoder(
            d is Direction.C2S,
            hs.deflate if hs is not None else None,
            extensions_negotiated=hs.extensions_negotiated if hs is not None else False,
            resync=self._resync,
            handshake_unknown=hs is None,  # --decode-as: RSV1 data frames taken as deflate
            keep_payload_bytes=self.options.keep_payload_bytes,
            max_message_bytes=self.options.max_message_bytes,
            inflate_budget=self.inflate_budget,
        )

    def _ws_eof(self, d: Direction) -> None:
        """End a direction's WebSocket decoder once (its TCP side ended, or the capture did)."""
        if d not in self._ws_ended:
            self._ws_ended.add(d)
            self._ws_route(d, self.ws_decoders[d].eof())

    def _ws_feed(self, d: Direction, data: bytes) -> None:
        for i in range(0, len(data), 1 << 16):  # 64 KiB at a time: 4 MB of 2-byte frames were 2M events
            events = self.ws_decoders[d].feed(data[i : i + (1 << 16)])
            if events or self._ws_held:  # most segments of a big frame end nothing
                self._ws_route(d, events)

    def _ws_route(self, d: Direction, events: list[Any], gap_frame: int = 0) -> None:
        """WebSocket events in capture order. A decoder that resynchronises holds the bytes of a
        candidate frame until the headers after it confirm it, so its frames come out after
        later ones of the other direction (a Pong before its Ping). While one holds, the events
        of both directions wait, and are released merged by the packet that ended each one."""
        held = self._ws_held
        if not held and not any(dec.holding for dec in self.ws_decoders.values()):
            self._ws_events(d, events, gap_frame)
            return
        offsets = self._stream(d).offsets
        base = self.ws_base[d]
        queue = held.setdefault(d, [])
        for ev in events:
            at = base + (ev.offset if isinstance(ev, ParserAnomaly) else max(ev.end - 1, ev.start))
            queue.append((offsets.frame_at(at), ev, gap_frame))
        if sum(len(q) for q in held.values()) > _MAX_HELD or not any(
            dec.holding for dec in self.ws_decoders.values()
        ):
            self._ws_release()

    def _ws_release(self) -> None:
        held, self._ws_held = self._ws_held, {}
        streams = [[(key, n, d, ev, gf) for key, ev, gf in q] for n, (d, q) in enumerate(held.items())]
        # each direction keeps its order; between them, the earlier packet first
        for _, _, d, ev, gap_frame in heapq.merge(*streams, key=lambda item: (item[0], item[1])):
            self._ws_events(d, [ev], gap_frame)

    def _ws_events(self, d: Direction, events: list[Any], gap_frame: int = 0) -> None:
        base = self.ws_base[d]
        ws = self.ws
        assert ws is not None
        counts = self._frame_counts
        dv = "c2s" if d is Direction.C2S else "s2c"  # d.value is a slow Enum property
        for ev in events:
            if isinstance(ev, WsFrame):
                frame, ts, packets = self._ws_where(d, base + ev.start, base + ev.end)
                self.ws_frames += 1
                hdr = ev.end - ev.start - ev.payload_length
                self.layer_bytes["websocket_header_bytes"] += hdr
                self.layer_bytes["websocket_payload_bytes"] += ev.payload_length
                key = (dv, ev.opcode)
                counts[key] = counts.get(key, 0) + 1
                if not self.options.keep_frames:
                    ws.frames_dropped += 1
                elif self.frame_records.take(ws, frame, d):  # else not listed: past the bound
                    rec = WsFrameRecord(
                        d,
                        frame,
                        ts,
                        ev.fin,
                        ev.rsv1,
                        ev.rsv2,
                        ev.rsv3,
                        ev.opcode,
                        ev.masked,
                        ev.mask_key,
                        ev.payload_length,
                        ev.length_form,
                        ev.payload,
                        ev.payload_truncated,
                        ev.close_code,
                        ev.close_reason,
                        packets,
                        base + ev.start,
                    )
                    ws.frames.append(rec)
                if self.conversation is not None:
                    ns = self._ws_ns(d, base + ev.start, base + ev.end) if ev.opcode >= 8 else None
                    self.conversation.on_frame(d, ev, ts, frame, ns)
                if ev.opcode == 8 and not self._closed.get(d):
                    self._closed[d] = True
                    self.sessions.on_websocket_close(self.conn.id, d, ev.close_code, ts, frame)
            elif isinstance(ev, WsMessage):
                frame, ts, packets = self._ws_where(d, base + ev.start, base + ev.end)
                msg = WsMessageRecord(
                    self.conn.id,
                    d,
                    ts,
                    frame,
                    _OPNAME.get(ev.opcode, "binary"),
                    ev.compressed,
                    ev.nframes,
                    ev.data,
                    ev.length,
                    ev.truncated,
                    packets,
                    self._ws_ns(d, base + ev.start, base + ev.end),
                )
                ws.messages.append(msg)
                ws.message_counts[d.value] += 1
                if self.observer is not None:
                    self.observer.on_ws_message(msg)
                self.sessions.on_ws_message(msg)
            elif isinstance(ev, ParserAnomaly):
                if len(self.anomalies) >= MAX_CONN_ANOMALIES:
                    continue  # not kept (see _anomaly): spare the offset lookup
                if gap_frame and ev.code == WS_STREAM_GAP:
                    frame = gap_frame  # the packet where the gap was found (see on_gap)
                else:
                    frame = self._ws_where(d, base + ev.offset, base + ev.offset + 1)[0]
                self._anomaly(ev.code, ev.message, d, (frame,) if frame else ())

    # -- end --
    def finish(self, record: ConnectionRecord) -> None:
        if self.tls is not None:
            record.tls = self.tls.finish()
        if self.http is not None:
            for d in (Direction.C2S, Direction.S2C):
                if not self.http.is_upgraded(d) and not self._stream(d).ended:
                    self._http_events(self.http.eof(d))
        if self.h2 is not None:
            record.http2 = self.h2.finish()
        for d in list(self.ws_decoders):
            self._ws_eof(d)
        if self._ws_held:
            self._ws_release()
        # requests never answered (finally), with the interim responses they got
        for index in sorted(self._requests.keys() | self._interim.keys()):
            self._add_exchange(index, None)
        if self.conversation is not None and self.ws is not None:
            if self.conn.rst_frame is not None and self.conn.rst_direction is not None:
                self.conversation.on_tcp_end(
                    self.conn.rst_direction, "rst", self.conn.last_ts, self.conn.rst_frame
                )
            summary = self.conversation.finish()
            self.ws.close = summary.to_dict()
            self.ws.conversation = summary.facts()
            for code, message, where, frames in summary.anomalies:
                if not (self.ws_maps is not None and code == CLIENT_CLOSED_TCP_FIRST):  # a TCP rule
                    self._anomaly(code, message, where, tuple(frames))
        conn = self.conn
        if conn.rst_frame is not None:
            self.sessions.on_connection_end(conn.id, "rst", conn.last_ts, conn.rst_frame)
        elif conn.fin_frames:
            self.sessions.on_connection_end(conn.id, "fin", conn.last_ts, max(conn.fin_frames.values()))
        if self.ws is not None:
            capped = self.frame_records.anomaly(self.ws, conn.id)
            if capped is not None:
                self.anomalies.append(capped)
            for (dv, op), n in self._frame_counts.items():
                key = f"{dv}:{_OPCODE_NAMES.get(op, 'reserved')}"
                self.ws.counts[key] = self.ws.counts.get(key, 0) + n
        record.http = self.exchanges
        record.websocket = self.ws
        record.app_protocol = (
            "websocket" if self.ws is not None else "http" if self.mode in ("http", "http2") else "unknown"
        )
        if record.app_protocol == "unknown" and self.tls is not None:
            record.app_protocol = "tls"  # nothing decrypted, or not HTTP inside
        record.layer_bytes = self.layer_bytes
        if self.proxy is not None:
            record.proxy = self.proxy.to_dict()
        if self.http is not None:
            self.http.release()  # its sides refer back to it: a cycle the collector would have to find
            self.http = None
