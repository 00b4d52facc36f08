"""The anomaly-code table for the README: `python -m analyzer.model.docs`."""

from __future__ import annotations

from analyzer.model.registry import REGISTRY, lookup

__all__ = ["anomaly_table"]

_LAYER_ORDER = ["link", "network", "transport", "http", "websocket", "engineio", "socketio"]


def anomaly_table() -> str:
    lookup("ws.bad-accept")  # load every layer's codes
    rows = ["| code | severity | layer | meaning | reference |", "|---|---|---|---|---|"]
    for d in sorted(REGISTRY.values(), key=lambda d: (_LAYER_ORDER.index(d.layer.value), d.code)):
        summary = d.summary.replace("|", "\\|")
        ref = d.reference.replace("|", "\\|")
        rows.append(f"| `{d.code}` | {d.severity.value} | {d.layer.value} | {summary} | {ref} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(anomaly_table(), end="")
