"""socketscope: packet-level analysis of WebSocket, Engine.IO and Socket.IO traffic.

Public API:
    analyze_file(path, options=None) -> Analysis
    analyze_packets(packets, capture=None, options=None) -> Analysis
    iter_connections(path, options=None) -> streaming form: yields each ConnectionRecord as it closes
"""

from __future__ import annotations

__version__ = "0.1.0"

from analyzer.api import analyze_file, analyze_packets, iter_connections
from analyzer.model.analysis import Analysis
from analyzer.pipeline import Options

__all__ = ["Analysis", "Options", "__version__", "analyze_file", "analyze_packets", "iter_connections"]
