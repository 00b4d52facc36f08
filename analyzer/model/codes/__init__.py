"""Importing this package registers every anomaly code of every layer."""

from analyzer.model.codes import capture, tcp  # noqa: F401
from analyzer.model.codes import engineio, socketio  # noqa: F401
from analyzer.model.codes import websocket  # noqa: F401
from analyzer.model.codes import http  # noqa: F401

__all__: list[str] = []
