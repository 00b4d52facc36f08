"""`export --filter EXPR` in every format (docs/filters.md): which records of a connection or an
Engine.IO session the filter keeps, and the packets those records came in (for the pcapng slice).

A record is tested as the analysis document writes it, with its connection or session beside it
(`analyzer.query.Context`). An HTTP exchange is kept when its request or its response matches;
a TCP connection (the `connections` table, a whole pcapng connection) when the connection itself
matches as a `tcp` record."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from analyzer.model.analysis import ConnectionRecord
from analyzer.model.records import HttpExchange
from analyzer.query import Context, Filter, Subject, connection_context

__all__ = ["Keep", "record_frames", "ws_message_dicts"]


def ws_message_dicts(record: ConnectionRecord) -> Iterator[dict[str, Any]]:
    """A connection's WebSocket messages as dicts."""
    ws = record.websocket
    return iter(()) if ws is None else iter(ws.messages.values())


def record_frames(rec: Any) -> Iterator[int]:
    """The packet numbers a record dict names: `frames[]` (`packets[]`), else `frame`; both halves
    of an HTTP exchange."""
    if not isinstance(rec, dict):
        return
    if "request" in rec or "response" in rec:
        for half in (rec.get("request"), rec.get("response")):
            yield from record_frames(half)
        return
    for key in ("frames", "packets"):  # WebSocket messages: `packets`
        frames = rec.get(key)
        if isinstance(frames, list) and frames:
            yield from (f for f in frames if type(f) is int)
            return
    if type(rec.get("frame")) is int:
        yield rec["frame"]


class Keep:
    """The filter's verdict on each kind of record an export writes."""

    def __init__(self, flt: Filter) -> None:
        self.flt = flt

    def tcp(self, record: ConnectionRecord) -> bool:
        ctx = connection_context(record)
        return self.flt(Subject("tcp", ctx.connection, ctx))

    def ws_msg(self, m: dict[str, Any], ctx: Context) -> bool:
        return self.flt(Subject("ws_msg", m, ctx))

    def http(self, x: HttpExchange | dict[str, Any], ctx: Context) -> bool:
        d = x if isinstance(x, dict) else x.to_dict()
        return self.flt(Subject("http", d, ctx, side="request")) or self.flt(
            Subject("http", d, ctx, side="response")
        )

    def eio(self, d: dict[str, Any], ctx: Context) -> bool:
        return self.flt(Subject("eio", d, ctx))

    def sio(self, d: dict[str, Any], ctx: Context) -> bool:
        return self.flt(Subject("sio", d, ctx))

    def anomaly(self, a: Any) -> bool:
        d = a.to_dict() if hasattr(a, "to_dict") else a
        return self.flt(Subject("anomaly", d if isinstance(d, dict) else {}))

    def connection_frames(self, record: ConnectionRecord) -> tuple[bool, set[int]]:
        """(whether the whole connection is kept, else the packets of its kept WebSocket messages
        and HTTP exchanges)."""
        if self.tcp(record):
            return True, set()
        ctx = connection_context(record)
        frames: set[int] = set()
        for m in ws_message_dicts(record):
            if self.ws_msg(m, ctx):
                frames.update(record_frames(m))
        for x in record.http:
            d = x.to_dict()
            if self.http(d, ctx):
                frames.update(record_frames(d))
        return False, frames

    def session_frames(
        self, eio: Iterable[dict[str, Any]], sio: Iterable[dict[str, Any]], ctx: Context
    ) -> set[int]:
        """The packets of a session's kept Engine.IO and Socket.IO packets."""
        frames: set[int] = set()
        for d in eio:
            if self.eio(d, ctx):
                frames.update(record_frames(d))
        for d in sio:
            if self.sio(d, ctx):
                frames.update(record_frames(d))
        return frames
