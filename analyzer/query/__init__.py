"""Filters as users write them: `sio.event == "chat" && ack.latency_ms > 200` (docs/filters.md).

`compile_filter(text)` parses a filter (FilterError: one sentence naming the column) and gives a
`Filter`, which tests `Subject`s: records of the analysis document (Socket.IO and Engine.IO
packets, WebSocket messages and frames, HTTP requests and responses, TCP connections,
anomalies) with what lives beside them (`Context`). The same filter serves the CLI
(`analyze --filter`), the web UI's filter box and its JSON API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from analyzer.query.fields import (
    FIELDS,
    KIND_NAMES,
    KINDS,
    PAYLOAD_SCAN_CHARS,
    Context,
    Field,
    Subject,
    ack_entry,
)
from analyzer.query.lexer import MAX_FILTER_CHARS, FilterError
from analyzer.query.parser import MAX_PATTERN_CHARS, REGEX_TIMEOUT_S, FilterRunError, parse

__all__ = [
    "FIELDS",
    "KINDS",
    "KIND_NAMES",
    "MAX_FILTER_CHARS",
    "MAX_PATTERN_CHARS",
    "PAYLOAD_SCAN_CHARS",
    "REGEX_TIMEOUT_S",
    "Context",
    "Field",
    "Filter",
    "FilterError",
    "FilterRunError",
    "Subject",
    "ack_entry",
    "acks_of",
    "compile_filter",
    "connection_context",
    "session_context",
]


class Filter:
    def __init__(self, text: str) -> None:
        self.text = text
        self._pred, tests = parse(text)
        self.fields = tuple(dict.fromkeys(t.field.name for t in tests))
        self._tests = tests

    def __call__(self, subject: Subject) -> bool:
        return self._pred(subject)

    def required_substrings(self, field: str) -> tuple[tuple[str, ...], ...]:
        """Per top-level alternative (`a || b`: two), the needles of the `field contains "..."`
        tests that every record it keeps passes (tests of its `&&` chain): `payload contains "x"
        && ...` gives (("x",),), `payload contains "x" || layer == "tcp"` gives (("x",), ())."""
        alts = 1 + max((t.alt for t in self._tests), default=0)
        return tuple(
            tuple(
                t.value
                for t in self._tests
                if t.alt == k and t.required and t.op == "contains" and t.field.name == field
            )
            for k in range(alts)
        )

    def applies_to(self, kind: str) -> bool:
        """Whether a field of the filter applies to records of `kind` (when none does, a record of
        that kind is kept only by a negation: `!sio.event` keeps every WebSocket message)."""
        return any(kind in FIELDS[f].getters or f == "layer" for f in self.fields)

    def kind_warning(self, kinds: Iterable[str]) -> str | None:
        """One sentence when no field of the filter applies to any of `kinds` (what an output lists)."""
        kinds = list(kinds)
        if any(self.applies_to(k) for k in kinds):
            return None
        names = " and ".join(KIND_NAMES[k] for k in kinds)
        return f"filter: no field of this filter applies to {names} ({', '.join(self.fields)})"


@lru_cache(maxsize=64)
def compile_filter(text: str) -> Filter:
    return Filter(text)


def acks_of(sio: Mapping[str, Any] | None) -> dict[tuple[Any, Any, Any], Mapping[str, Any]]:
    """A session's `socketio.acks[]` by (nsp, ack_id, request direction), for `Context.acks`."""
    acks = sio.get("acks") if sio is not None else None
    out: dict[tuple[Any, Any, Any], Mapping[str, Any]] = {}
    for a in acks or ():
        key = (a.get("nsp"), a.get("ack_id"), a.get("request_direction")) if isinstance(a, Mapping) else None
        if key is not None and all(isinstance(v, str | int | None) for v in key):  # mangled: no key
            out[key] = a
    return out


def connection_context(rec: Any) -> Context:
    """What the tcp.* fields read about the connection (a ConnectionRecord) that carried a record."""
    return Context(connection={"id": rec.id, "client": rec.client, "server": rec.server, "tcp": rec.tcp})


def session_context(s: Any) -> Context:
    """The sid and the acks of an EngineIOSession, for its Engine.IO and Socket.IO packets."""
    sio = s.socketio
    return Context(
        sid=s.sid, acks=acks_of({**sio.head_dict(), **sio.tail_dict()}) if sio is not None else None
    )
