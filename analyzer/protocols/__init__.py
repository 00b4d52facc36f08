"""Protocol parsers (sans-IO): HTTP/1.1, WebSocket, permessage-deflate, Engine.IO, Socket.IO."""

__all__: list[str] = []
