"""socketscope: packet-level analysis of WebSocket, Engine.IO and Socket.IO traffic.

Public API:
    analyze_file(path, options=None) -> Analysis
    analyze_packets(packets, capture=None, options=None) -> Analysis
    iter_connections(path, options=None) -> streaming form: yields each ConnectionRecord as it closes

They are loaded on first use, so that importing one layer (`analyzer.model`, say) does not load
the others.
"""

from __future__ import annotations

from typing import Any

from analyzer.compiled import select_build
from analyzer.version import __version__

select_build()  # before any compiled module is imported: SOCKETSCOPE_PURE, stale builds

__all__ = ["Analysis", "Options", "__version__", "analyze_file", "analyze_packets", "iter_connections"]


def __getattr__(name: str) -> Any:
    if name == "Analysis":
        from analyzer.model.analysis import Analysis

        return Analysis
    if name in ("Options", "analyze_file", "analyze_packets", "iter_connections"):
        import analyzer.pipeline

        return getattr(analyzer.pipeline, name)
    raise AttributeError(f"module 'analyzer' has no attribute {name!r}")
