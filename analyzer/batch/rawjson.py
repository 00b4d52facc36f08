"""Spilled JSON objects read key by key, some values kept as their JSON text.

`iter_objects(pieces, raw)` splits comma-separated JSON objects arriving as text pieces (a
JsonSpill's contents, as model/spill.py's iter_elements does) and returns each as a dict whose
keys in `raw` hold the value's JSON text instead of the value. The Socket.IO tables want `args`
and `data` as JSON text: the spill already has that text (compact, as `json_text` writes it), so
it is sliced out instead of being decoded into Python values and encoded again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["iter_objects"]

# the json module's C scanner of a default decoder: (value, end) of the JSON value at an index
_SCAN: Callable[[str, int], tuple[Any, int]] = getattr(json.JSONDecoder(), "scan_once")  # noqa: B009 - untyped
_WS = frozenset(" \t\r\n")
_SEP = frozenset(", \t\r\n")
_READ = 1 << 16


class _Short(Exception):
    """The object goes on past the text read so far (or is not JSON)."""


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


def iter_objects(pieces: Iterable[str], raw: frozenset[str]) -> Iterator[dict[str, Any]]:
    """Each object of the pieces, one at a time (only the largest has to fit in memory).
    Raises ValueError when the text is not comma-separated JSON objects."""
    it = iter(pieces)
    buf = ""
    pos = 0
    more = True
    while True:
        n = len(buf)
        while pos < n and buf[pos] in _SEP:
            pos += 1
        if pos >= n:
            if not more:
                return
            buf, pos, more = _refill(buf, pos, it, 1)
            continue
        try:
            value, end = _object(buf, pos, raw)
        except (IndexError, StopIteration, ValueError) as exc:
            if not more:
                raise ValueError(f"spilled records are not JSON objects at {pos}") from exc
            buf, pos, more = _refill(buf, pos, it, 2 * (n - pos) + _READ)  # it goes on in the next pieces
            continue
        pos = end
        yield value


def _refill(buf: str, pos: int, it: Iterator[str], at_least: int) -> tuple[str, int, bool]:
    parts = [buf[pos:]]
    got = len(parts[0])
    more = True
    while got < at_least:
        try:
            piece = next(it)
        except StopIteration:
            more = False
            break
        parts.append(piece)
        got += len(piece)
    return "".join(parts), 0, more
