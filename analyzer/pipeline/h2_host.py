"""What a connection does for its HTTP/2 step (pipeline/h2_step.py: H2Host), as a mixin of
`ConnectionApp` (pipeline/connection.py): exchanges handed on, and an RFC 8441 tunnel run
through the connection's WebSocket decoders with its offsets mapped back to the DATA frames."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from analyzer.model.common import Direction
from analyzer.model.records import HttpExchange, HttpRequest, HttpResponse

if TYPE_CHECKING:
    from analyzer.model.websocket import WebSocketRecord
    from analyzer.pipeline.h2_step import PieceMap
    from analyzer.protocols.handshake import HandshakeResult
    from analyzer.protocols.websocket import WsDecoder
    from analyzer.protocols.ws_conversation import WsConversation
    from analyzer.session.builder import SessionBuilder
    from analyzer.tcp.tracker import TcpConnection

__all__ = ["H2Tunnels"]


class H2Tunnels:
    """The H2Host methods of ConnectionApp."""

    if TYPE_CHECKING:  # what ConnectionApp has
        conn: TcpConnection
        observer: Any
        sessions: SessionBuilder
        exchanges: list[HttpExchange]
        handshake: HandshakeResult | None
        ws: WebSocketRecord | None
        ws_base: dict[Direction, int]
        ws_decoders: dict[Direction, WsDecoder]
        ws_maps: dict[Direction, PieceMap] | None
        conversation: WsConversation | None
        _ws_ended: set[Direction]

        def _where(self, d: Direction, start: int, end: int) -> tuple[int, float, tuple[int, ...]]: ...
        def _ns(self, d: Direction, start: int, end: int) -> int: ...
        def _anomaly(
            self, code: str, message: str, d: Direction | None, frames: tuple[int, ...] = ()
        ) -> None: ...
        def _start_websocket(self, hs: HandshakeResult | None, resync: bool) -> None: ...
        def _decoder(self, d: Direction) -> WsDecoder: ...
        def _ws_feed(self, d: Direction, data: bytes) -> None: ...
        def _ws_eof(self, d: Direction) -> None: ...

    def where(self, d: Direction, start: int, end: int) -> tuple[int, float, tuple[int, ...]]:
        return self._where(d, start, end)

    def ns(self, d: Direction, start: int, end: int) -> int:
        return self._ns(d, start, end)

    def report(self, code: str, message: str, d: Direction | None, frames: tuple[int, ...] = ()) -> None:
        self._anomaly(code, message, d, frames)

    def connection_id(self) -> int:
        return self.conn.id

    def exchange_count(self) -> int:
        return len(self.exchanges)

    def add_exchange(self, ex: HttpExchange, tunnel: bool) -> None:
        self.exchanges.append(ex)
        if not tunnel:  # the tunnel's request went to on_websocket_open
            if self.observer is not None:
                self.observer.on_http_exchange(ex)
            self.sessions.on_http_exchange(ex)

    def open_tunnel(
        self,
        hs: HandshakeResult,
        maps: dict[Direction, PieceMap],
        req: HttpRequest,
        resp: HttpResponse,
        url: str,
    ) -> None:
        """RFC 8441 §5: the stream's DATA is the connection's WebSocket from here on."""
        self.handshake = hs
        self._start_websocket(hs, resync=False)
        self.ws_maps = maps
        for d in (Direction.C2S, Direction.S2C):
            self.ws_base[d] = 0
            self.ws_decoders[d] = self._decoder(d)
        assert self.ws is not None
        handshake = hs.to_dict(req.frame, resp.frame)
        handshake["h2_stream_id"] = req.stream_id
        self.ws.handshake = handshake
        self.ws.url = url
        if self.observer is not None:
            self.observer.on_websocket_open(self.conn.id, req, resp)
        self.sessions.on_websocket_open(self.conn.id, req, resp)

    def tunnel_data(self, d: Direction, data: bytes) -> None:
        if d not in self._ws_ended:
            self._ws_feed(d, data)

    def tunnel_end(self, d: Direction, kind: str, frame: int, ts: float) -> None:
        """END_STREAM ('fin') or RST_STREAM ('rst') of the tunnel's stream (RFC 8441 §5)."""
        if self.conversation is not None:
            self.conversation.on_tcp_end(d, kind, ts, frame)
        self._ws_eof(d)

    def _ws_where(self, d: Direction, start: int, end: int) -> tuple[int, float, tuple[int, ...]]:
        if self.ws_maps is not None:  # an RFC 8441 tunnel: WebSocket offsets -> its DATA frames
            pm = self.ws_maps[d]
            start, end = pm.at(start), pm.at(max(end - 1, start)) + 1
        return self._where(d, start, end)
