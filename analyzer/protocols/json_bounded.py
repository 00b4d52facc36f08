"""A JSON parser without recursion, for texts nested too deep for the json module (sans-IO).

`json.loads` recurses once per level of nesting (the C scanner counts against the recursion
limit), so valid JSON nested about a thousand levels deep raises RecursionError: not a sign of
invalid input. `loads_bounded` reads the same grammar (RFC 8259; JSON.parse semantics: no NaN or
Infinity, the last of duplicate names wins) with an explicit stack, checks the whole text, and
keeps what lies less than `max_depth` levels deep: a deeper array or object becomes
{"$truncated": "depth"}, as model/values.py `map_tree` cuts decoded values. So the head of a
deep Socket.IO packet (its event name, which is at depth 1) survives.
"""

from __future__ import annotations

import re
from json.decoder import scanstring  # type: ignore[attr-defined]  # C speed, strict strings
from typing import Any

from analyzer.model.values import MAX_DEPTH, TRUNCATED

__all__ = ["loads_bounded"]

_WS = re.compile(r"[ \t\n\r]*")  # RFC 8259 §2: ws
# RFC 8259 §6, in ASCII digits (the json module's rule)
_NUMBER = re.compile(r"(-?(?:0|[1-9][0-9]*))(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_LITERALS = (("true", True), ("false", False), ("null", None))  # RFC 8259 §3


class _Bad(ValueError):
    pass


def _scalar(s: str, i: int) -> tuple[Any, int]:
    """A string, number or literal at s[i] (RFC 8259 §3, §6, §7)."""
    if s.startswith('"', i):
        text, end = scanstring(s, i + 1, True)
        return text, end
    m = _NUMBER.match(s, i)
    if m is not None:
        whole, frac, exp = m.groups()
        if frac or exp:
            return float(whole + (frac or "") + (exp or "")), m.end()
        return int(whole), m.end()  # ValueError past the int digit limit, as json does
    for word, value in _LITERALS:
        if s.startswith(word, i):
            return value, i + len(word)
    raise _Bad(f"no JSON value at {i}")


def _name(s: str, i: int) -> tuple[str, int]:
    """A member name and its colon (RFC 8259 §4): returns the name and where its value starts."""
    if not s.startswith('"', i):
        raise _Bad(f"no member name at {i}")
    name, i = scanstring(s, i + 1, True)
    i = _WS.match(s, i).end()  # type: ignore[union-attr]
    if not s.startswith(":", i):
        raise _Bad(f"no ':' at {i}")
    return name, _WS.match(s, i + 1).end()  # type: ignore[union-attr]


def _parse(s: str, max_depth: int) -> tuple[Any, bool]:
    ws = _WS.match
    n = len(s)
    # one entry per open array/object: [container (None: deeper than kept), is_object, member name]
    stack: list[list[Any]] = []
    cut = False
    i = ws(s, 0).end()  # type: ignore[union-attr]
    while True:
        # --- a value starts at i ---
        if i >= n:
            raise _Bad("unexpected end")
        c = s[i]
        if c in "[{":
            is_obj = c == "{"
            keep = len(stack) < max_depth
            cut = cut or not keep
            stack.append([({} if is_obj else []) if keep else None, is_obj, None])
            i = ws(s, i + 1).end()  # type: ignore[union-attr]
            if not s.startswith("}" if is_obj else "]", i):
                if is_obj:
                    stack[-1][2], i = _name(s, i)
                continue
            i += 1
            top = stack.pop()
            value = top[0] if top[0] is not None else dict(TRUNCATED)
        else:
            value, i = _scalar(s, i)
        # --- the value is complete: store it, then close every container that ends here ---
        while True:
            i = ws(s, i).end()  # type: ignore[union-attr]
            if not stack:
                if i != n:
                    raise _Bad(f"extra data at {i}")
                return value, cut
            top = stack[-1]
            container = top[0]
            if container is not None:
                if top[1]:
                    container[top[2]] = value
                else:
                    container.append(value)
            if s.startswith(",", i):
                i = ws(s, i + 1).end()  # type: ignore[union-attr]
                if top[1]:
                    top[2], i = _name(s, i)
                break
            if not s.startswith("}" if top[1] else "]", i):
                raise _Bad(f"expected ',' or a closing bracket at {i}")
            i += 1
            stack.pop()
            value = container if container is not None else dict(TRUNCATED)


def loads_bounded(text: str, max_depth: int = MAX_DEPTH) -> tuple[bool, Any, bool]:
    """(ok, value, depth_cut) for `text`, at any nesting depth, without recursion."""
    try:
        value, cut = _parse(text, max_depth)
    except ValueError:  # _Bad, json's JSONDecodeError from scanstring, int digit limit
        return False, None, False
    return True, value, cut
