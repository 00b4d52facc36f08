"""Application-layer analysis of one TCP connection (HTTP/1.1, WebSocket) and the wiring to sessions."""

__all__: list[str] = []
