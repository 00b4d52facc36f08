"""The one road: a capture's packets through every layer, as finished records to the sinks.

`wiring.Pipeline` wires the layers, `connection.ConnectionApp` is the per-connection
application dispatch (HTTP/1.1, the WebSocket upgrade, WebSocket), `fastloop.feed_fast` the
common-case loop, `run` the entry points that drive a reader through it, `sink` the
contract of what the records are handed to (every output is a sink), and `observer` the
contract of what is told as it is decoded (the live printer).
"""

from __future__ import annotations

from analyzer.pipeline.observer import LiveObserver
from analyzer.pipeline.options import Options
from analyzer.pipeline.run import analyze_file, analyze_packets, analyze_reader, iter_connections, run
from analyzer.pipeline.sink import CollectingSink, Sink
from analyzer.pipeline.wiring import Pipeline
from analyzer.protocols.tls.keylog import KeyLog  # TLS secrets (Options.keylog), for the web UI

__all__ = [
    "CollectingSink",
    "KeyLog",
    "LiveObserver",
    "Options",
    "Pipeline",
    "Sink",
    "analyze_file",
    "analyze_packets",
    "analyze_reader",
    "iter_connections",
    "run",
]
