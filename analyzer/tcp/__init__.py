"""TCP connection tracking and per-direction reassembly."""

from analyzer.tcp.reassembly import DirectionStream, StreamSink
from analyzer.tcp.tracker import ConnectionTracker, TcpConnection

__all__ = ["ConnectionTracker", "DirectionStream", "StreamSink", "TcpConnection"]
