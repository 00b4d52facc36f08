"""The anomaly-code table for the README: `python -m analyzer.model.docs`."""

from __future__ import annotations

from collections.abc import Iterable

from analyzer.model.registry import REGISTRY, AnomalyDef, lookup

__all__ = ["RESERVED_MARK", "anomaly_table"]

_LAYER_ORDER = ["link", "network", "transport", "tls", "http", "websocket", "engineio", "socketio"]
# the meaning of a reserved code (registered, produced by no test capture) starts with this
RESERVED_MARK = "*reserved:*"


def anomaly_table(defs: Iterable[AnomalyDef] | None = None) -> str:
    """Every registered code (or `defs`), by layer then code, as a Markdown table."""
    if defs is None:
        lookup("ws.bad-accept")  # load every layer's codes
        defs = REGISTRY.values()
    rows = ["| code | severity | layer | meaning | reference |", "|---|---|---|---|---|"]
    for d in sorted(defs, key=lambda d: (_LAYER_ORDER.index(d.layer.value), d.code)):
        summary = d.summary.replace("|", "\\|")
        if d.reserved:
            summary = f"{RESERVED_MARK} {summary}"
        ref = d.reference.replace("|", "\\|")
        rows.append(f"| `{d.code}` | {d.severity.value} | {d.layer.value} | {summary} | {ref} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(anomaly_table(), end="")
