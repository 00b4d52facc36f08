"""Importing this package registers every anomaly code of every layer."""

from analyzer.model.codes import capture, engineio, h2, http, socketio, tcp, tls, websocket  # noqa: F401

__all__: list[str] = []
