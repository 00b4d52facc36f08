"""The one road: a capture's packets through every layer, as finished records to the sinks.

`wiring.Pipeline` wires the layers, `connection.ConnectionApp` is the per-connection
application dispatch (HTTP/1.1, the WebSocket upgrade, WebSocket), `fastloop.feed_fast` the
common-case loop, and `run` the entry points that drive a reader through it.
"""

from __future__ import annotations

from analyzer.pipeline.options import Options
from analyzer.pipeline.run import analyze_file, analyze_packets, analyze_reader, iter_connections
from analyzer.pipeline.wiring import Pipeline

__all__ = ["Options", "Pipeline", "analyze_file", "analyze_packets", "analyze_reader", "iter_connections"]
