"""Shared helpers for the Python scenario scripts: the applications' own record.

Each scenario writes one JSON record (what its server and client handlers
sent and received) to the path given by ``--out``; make_captures.py wraps it
into ``<name>.expected.json``.  Binary values are written ``{"$hex": "..."}``
at the place they occupy, as in the analysis JSON contract.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

__all__ = ["INLINE_LIMIT", "jsonable", "message_entry", "parse_args", "sio_recording_classes", "write_record"]

INLINE_LIMIT = 4096  # bytes of a WebSocket message written out in the record (longer: length and hash)


def jsonable(value: Any) -> Any:
    """Return *value* with bytes replaced by ``{"$hex": ...}`` (recursively)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$hex": bytes(value).hex()}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def parse_args(description: str, variants: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON record")
    if variants:
        parser.add_argument("--variant", choices=variants, default=variants[0])
    return parser.parse_args()


def write_record(path: Path, record: dict[str, Any]) -> None:
    path.write_text(json.dumps(jsonable(record), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def message_entry(direction: str, message: str | bytes) -> dict[str, Any]:
    """One WebSocket message as the receiving application saw it."""
    raw = message.encode("utf-8") if isinstance(message, str) else message
    entry: dict[str, Any] = {
        "direction": direction,
        "opcode": "text" if isinstance(message, str) else "binary",
        "length": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
    }
    if len(raw) <= INLINE_LIMIT:
        if isinstance(message, str):
            entry["text"] = message
        else:
            entry["hex"] = raw.hex()
    return entry


def sio_recording_classes(events: list[dict[str, Any]], acks: list[dict[str, Any]]) -> tuple[type, type]:
    """python-socketio AsyncServer and AsyncClient subclasses whose ``_handle_event`` and
    ``_handle_ack`` append what their Socket.IO layer received (namespace, ack id, arguments with
    binary attachments in place) to `events` and `acks`, c2s on the server and s2c on the client."""
    import socketio  # type: ignore[import-untyped]

    class RecordingServer(socketio.AsyncServer):  # type: ignore[misc]
        async def _handle_event(
            self, eio_sid: str, namespace: str | None, id: int | None, data: list[Any]
        ) -> None:
            events.append(_event("c2s", namespace, id, data))
            await super()._handle_event(eio_sid, namespace, id, data)

        async def _handle_ack(self, eio_sid: str, namespace: str | None, id: int, data: list[Any]) -> None:
            acks.append({"direction": "c2s", "nsp": namespace or "/", "ack_id": id, "args": list(data)})
            await super()._handle_ack(eio_sid, namespace, id, data)

    class RecordingClient(socketio.AsyncClient):  # type: ignore[misc]
        async def _handle_event(self, namespace: str | None, id: int | None, data: list[Any]) -> None:
            events.append(_event("s2c", namespace, id, data))
            await super()._handle_event(namespace, id, data)

        async def _handle_ack(self, namespace: str | None, id: int, data: list[Any]) -> None:
            acks.append({"direction": "s2c", "nsp": namespace or "/", "ack_id": id, "args": list(data)})
            await super()._handle_ack(namespace, id, data)

    return RecordingServer, RecordingClient


def _event(direction: str, namespace: str | None, id: int | None, data: list[Any]) -> dict[str, Any]:
    return {
        "direction": direction,
        "nsp": namespace or "/",
        "event": data[0],
        "args": list(data[1:]),
        "ack_id": id,
    }
