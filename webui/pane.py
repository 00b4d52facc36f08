"""The messages pane's rows, as Chrome DevTools' WebSocket Messages panel lists them but across
layers: by default the Socket.IO packets (events, acks, connects...), or the WebSocket messages
and control frames where there is no Socket.IO; TCP, HTTP and Engine.IO rows when asked for.

Each row: direction (an arrow, up for client -> server), time since the first packet and since
the row before it in the list, length (a Socket.IO packet's: of the Engine.IO packets that
carried it), the event or the opcode, and the full payload (the
Socket.IO data as JSON, the Engine.IO or WebSocket text, binary as hex, the HTTP body; the row's
summary where there is none), one line that the browser cuts with an ellipsis. What is sent of a
payload is bounded: its first `PAYLOAD_BYTES` bytes of UTF-8 (of a binary payload, the hex of its
first PAYLOAD_BYTES / 2 bytes) and how many bytes are left out, which the row shows as a link to
the side pane and the detail page (webui/static/pane.js reads the detail API for the whole record)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from analyzer.query import FilterError, compile_filter
from webui.docutil import as_dict, as_str, json_text
from webui.index import LAYERS, WS_OPCODE_NAMES, Filters, Index, Row

__all__ = [
    "PANE_PAGE",
    "PAYLOAD_BYTES",
    "default_layers",
    "filter_problem",
    "pane_page",
    "parse_layers",
    "row_length",
    "row_payload",
]

PANE_PAGE = 200  # rows the pane loads at a time (more as it scrolls or the keys go past the end)
PAYLOAD_BYTES = 4096  # of a row's payload sent to the browser (docs/bounds.md); the rest: a link

_OPCODES = {name: code for code, name in WS_OPCODE_NAMES.items()}
_ARROWS = {"c2s": "\u2191", "s2c": "\u2193"}  # DevTools: up = sent by the client, down = received


def default_layers(ix: Index) -> tuple[str, ...]:
    """Socket.IO when the capture has any, else WebSocket, else HTTP, else TCP."""
    counts = ix.counts()
    for layer in ("socketio", "websocket", "http"):
        if counts.get(layer):
            return (layer,)
    return ("tcp",)


def parse_layers(ix: Index, text: str | None) -> tuple[str, ...]:
    """`layers=socketio,websocket` (known names only), `all`, or the default."""
    if text == "all":
        return LAYERS
    asked = tuple(x for x in LAYERS if x in (text or "").split(","))
    return asked or default_layers(ix)


def filter_problem(flt: Filters) -> FilterError | None:
    """Why the pane's `filter=` is not a filter (shown above the list, which is then not loaded;
    the pane's JSON API answers 400 with it), or None."""
    if not flt.expr:
        return None
    try:
        compile_filter(flt.expr)
    except FilterError as exc:
        return exc
    return None


def _ids(ix: Index, flt: Filters, layers: Sequence[str]) -> Iterator[int]:
    """Row ids the pane lists, in time order: the layers asked for, and the filter."""
    want = {LAYERS.index(x) for x in layers}
    if flt.active:
        for r in ix.filter(flt):
            if LAYERS.index(r.layer) in want:
                yield r.id
        return
    t = ix.table
    if not len(t):
        return
    col = np.frombuffer(bytes(t.layer), dtype=np.uint8)
    yield from np.flatnonzero(np.isin(col, list(want))).tolist()


def _label(row: Row) -> str:
    """The event (Socket.IO), the opcode (WebSocket), the method or status (HTTP), else the type."""
    if row.layer == "socketio":
        return row.event or row.kind
    if row.layer == "websocket":
        code = _OPCODES.get(row.kind)
        return f"{row.kind} (opcode {code})" if code is not None else row.kind
    return row.kind


def row_length(ix: Index, r: Row) -> int | None:
    """A row's length: its own (bytes of a WebSocket payload or HTTP body, characters of an
    Engine.IO packet's data); a Socket.IO row's, which the analysis does not record, is that of
    the Engine.IO packets that carried it (Socket.IO v5 "Packet encoding": the packet as encoded
    in one Engine.IO message, then one binary message per attachment), summed; None when none
    was found."""
    if r.layer != "socketio" or r.length is not None:
        return r.length
    carried = [x.length for x in ix.sio_eio_rows(r) if x.length is not None]
    return sum(carried) if carried else None


def _payload_of(ix: Index, r: Row) -> tuple[str | None, bool]:
    """A row's payload as text, and whether it is the hex of binary data; None: it has none."""
    if r.layer == "tcp":
        return None, False
    rec = ix.record(r)
    if r.layer == "socketio":
        data = rec.get("data")
        return (json_text(data) if data is not None else None), False
    if r.layer == "http":
        rec = as_dict(rec, "body")
    text = as_str(rec.get("text") if r.layer != "engineio" else rec.get("data"))
    if text is None and r.layer == "websocket":
        text = as_str(rec.get("close_reason")) or None
    if text is not None:
        return text, False
    hexed = as_str(rec.get("data_hex")) or as_str(rec.get("payload_hex")) or as_str(rec.get("hex"))
    return hexed, hexed is not None


def row_payload(ix: Index, r: Row) -> dict[str, Any]:
    """What the pane's row shows of the payload: `payload` (at most PAYLOAD_BYTES bytes of UTF-8),
    `payload_more` (bytes of the payload left out: of the data, for binary) and `binary`."""
    text, binary = _payload_of(ix, r)
    if text is None:
        text = r.summary
    more = 0
    if len(text) > PAYLOAD_BYTES // 4:  # else it is at most PAYLOAD_BYTES bytes whatever it holds
        raw = text.encode("utf-8", "replace")
        if len(raw) > PAYLOAD_BYTES:
            keep = PAYLOAD_BYTES if not binary else PAYLOAD_BYTES - PAYLOAD_BYTES % 2
            text = raw[:keep].decode("utf-8", "ignore")  # a character cut in two is left out
            more = (len(raw) - keep) // 2 if binary else len(raw) - len(text.encode("utf-8", "replace"))
    return {"payload": text, "payload_more": more, "binary": binary}


def pane_page(ix: Index, flt: Filters, layers: Sequence[str], offset: int, limit: int) -> dict[str, Any]:
    """One page of the pane's rows, with the total and the time of the row before the page
    (for the first row's delta)."""
    total = 0
    prev_ts: float | None = None
    items: list[dict[str, Any]] = []
    ts = ix.table.ts
    last_ts: float | None = None
    for i in _ids(ix, flt, layers):
        if offset <= total < offset + limit:
            if not items:
                prev_ts = last_ts
            r = ix.table.row(i)
            before = items[-1]["ts"] if items else prev_ts
            items.append(
                {
                    "id": r.id,
                    "ts": r.ts,
                    "t": round(r.ts - ix.t0, 6),
                    "delta": None if before is None else round(r.ts - before, 6),
                    "arrow": _ARROWS.get(r.direction or "", "\u00b7"),
                    "direction": r.direction,
                    "layer": r.layer,
                    "type": r.kind,
                    "label": _label(r),
                    "length": row_length(ix, r),
                    **row_payload(ix, r),
                    "connection": r.connection,
                    "session": r.session,
                    "frame": r.frame,
                }
            )
        last_ts = ts[i]
        total += 1
    for it in items:
        del it["ts"]
    return {"layers": list(layers), "offset": offset, "limit": limit, "total": total, "items": items}
