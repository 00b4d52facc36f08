"""An analysed session's Socket.IO events and acks in the shape of the applications' own records
(the `events` and `acks` of a capture's expected.json), compared as multisets."""

from __future__ import annotations

import json
from typing import Any


def canon(items: list[Any]) -> list[str]:
    """The items as sorted JSON texts, without the `ts` a browser's or server's record adds."""
    return sorted(json.dumps({k: v for k, v in i.items() if k != "ts"}, sort_keys=True) for i in items)


def recorded_events(packets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The EVENT and BINARY_EVENT packets of a session's `socketio.packets` as a record lists them."""
    return [
        {
            "direction": p["direction"],
            "nsp": p["nsp"],
            "event": p["event"],
            "args": p["args"],
            "ack_id": p["ack_id"],
        }
        for p in packets
        if p["type"] in ("EVENT", "BINARY_EVENT")
    ]


def recorded_acks(packets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ACK and BINARY_ACK packets of a session's `socketio.packets` as a record lists them."""
    return [
        {"direction": p["direction"], "nsp": p["nsp"], "ack_id": p["ack_id"], "args": p["data"]}
        for p in packets
        if p["type"] in ("ACK", "BINARY_ACK")
    ]
