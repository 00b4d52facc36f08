"""Spilled JSON objects read key by key, some values kept as their JSON text.

`ObjectFeed(raw, emit)` takes comma-separated JSON objects as text pieces (a RecordList's JSON,
from its `write_to`) and hands each to `emit` as a dict whose keys in `raw` hold the value's JSON
text instead of the value. The Socket.IO tables want `args`
and `data` as JSON text: the spill already has that text (compact, as `json_text` writes it), so
it is sliced out instead of being decoded into Python values and encoded again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["ObjectFeed"]

# the json module's C scanner of a default decoder: (value, end) of the JSON value at an index
_SCAN: Callable[[str, int], tuple[Any, int]] = getattr(json.JSONDecoder(), "scan_once")  # noqa: B009 - untyped
_WS = frozenset(" \t\r\n")
_SEP = frozenset(", \t\r\n")


def _ws(s: str, i: int) -> int:
    while s[i] in _WS:
        i += 1
    return i


def _object(s: str, i: int, raw: frozenset[str]) -> tuple[dict[str, Any], int]:
    """The object at s[i] ('{') and the index after it; IndexError/StopIteration/ValueError when
    s ends inside it (a value cut at the end of s is followed by nothing, so it never passes)."""
    if s[i] != "{":
        raise ValueError("not an object")
    out: dict[str, Any] = {}
    i = _ws(s, i + 1)
    if s[i] == "}":
        return out, i + 1
    while True:
        if s[i] != '"':
            raise ValueError("not a key")
        key, i = _SCAN(s, i)
        i = _ws(s, i)
        if s[i] != ":":
            raise ValueError("no colon")
        i = _ws(s, i + 1)
        value, end = _SCAN(s, i)
        out[key] = s[i:end] if key in raw else value
        i = _ws(s, end)
        c = s[i]
        if c == "}":
            return out, i + 1
        if c != ",":
            raise ValueError("no comma")
        i = _ws(s, i + 1)


class ObjectFeed:
    """A PieceSink (model/spill.py): text pieces of comma-separated JSON objects in, as
    `RecordList.write_to` hands them, each complete object out to `emit` as a dict whose keys in
    `raw` hold their value's JSON text. Only the object under way is kept (it is parsed again when
    the text held has doubled, so a long object costs linear time). `close()` raises ValueError
    when text that is not a whole object is left."""

    def __init__(self, raw: frozenset[str], emit: Callable[[dict[str, Any]], None]) -> None:
        self.raw = raw
        self.emit = emit
        self._buf = ""
        self._need = 0  # parse again once this much text is held

    def append(self, piece: str, /) -> None:
        buf = self._buf + piece if self._buf else piece
        n = len(buf)
        if n < self._need:
            self._buf = buf
            return
        pos = 0
        while True:
            while pos < n and buf[pos] in _SEP:
                pos += 1
            if pos >= n:
                self._buf, self._need = "", 0
                return
            try:
                value, end = _object(buf, pos, self.raw)
            except (IndexError, StopIteration, ValueError):
                self._buf = buf[pos:]  # it goes on in the next pieces
                self._need = 2 * len(self._buf)
                return
            pos = end
            self.emit(value)

    def close(self) -> None:
        rest, self._buf, self._need = self._buf, "", 0
        if rest:
            self.append(rest)  # parsed once more whatever its length
            if self._buf:
                raise ValueError(f"records that are not JSON objects: {self._buf[:40]!r}")
