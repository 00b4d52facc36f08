"""Decoded application values (JSON, msgpack) and their walks: iterative, depth-bounded.

Socket.IO arguments come off the wire as JSON or msgpack values that may hold bytes,
msgpack extension types and timestamps, and may be nested without limit by a hostile peer.
Every walk here is iterative and cuts at `MAX_DEPTH`, so nothing later (exporters, the UI)
can exhaust the stack on them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, cast

import msgpack

from analyzer.model.jsontypes import JsonValue, SioValue

__all__ = ["MAX_DEPTH", "TRUNCATED", "Visit", "map_tree", "to_jsonable"]

MAX_DEPTH = 100  # nesting kept in decoded values; deeper parts become {"$truncated": "depth"}
TRUNCATED = {"$truncated": "depth"}

# --- iterative walks over decoded values --------------------------------------------------------------
Visit = Callable[[Any], tuple[bool, Any]]


def map_tree(root: Any, visit: Visit, max_depth: int = MAX_DEPTH) -> tuple[Any, bool]:
    """Rebuild `root` with `visit` applied to every node, depth first, without recursion.

    `visit(node)` returns (True, replacement) to replace a node, or (False, _) to keep
    descending. Lists and tuples become lists, dict keys become strings. Returns the new
    value and whether some part was deeper than `max_depth` (and was cut).
    """
    holder: list[Any] = [None]
    exceeded = False
    stack: list[tuple[Any, Any, Any, int]] = [(root, holder, 0, 0)]
    while stack:
        node, parent, key, depth = stack.pop()
        done, rep = visit(node)
        if done:
            parent[key] = rep
        elif isinstance(node, list | tuple):
            if depth >= max_depth:
                parent[key] = dict(TRUNCATED)
                exceeded = True
                continue
            new_list: list[Any] = [None] * len(node)
            parent[key] = new_list
            stack.extend((node[i], new_list, i, depth + 1) for i in range(len(node) - 1, -1, -1))
        elif isinstance(node, dict):
            if depth >= max_depth:
                parent[key] = dict(TRUNCATED)
                exceeded = True
                continue
            new_dict: dict[str, Any] = {}
            parent[key] = new_dict
            items = []
            for k, v in node.items():
                skey = k if isinstance(k, str) else _key_text(k)
                new_dict[skey] = None
                items.append((v, new_dict, skey, depth + 1))
            stack.extend(reversed(items))
        else:
            parent[key] = node
    return holder[0], exceeded


def _key_text(key: Any) -> str:
    if isinstance(key, bytes | bytearray):
        return bytes(key).hex()
    if isinstance(key, bool) or key is None:
        return json.dumps(key)
    return str(key)


def _jsonable_leaf(node: Any) -> tuple[bool, Any]:
    if isinstance(node, bytes | bytearray | memoryview):
        return True, {"$hex": bytes(node).hex()}
    if isinstance(node, msgpack.ExtType):
        return True, {"$ext": node.code, "$hex": bytes(node.data).hex()}
    if isinstance(node, msgpack.Timestamp):
        try:
            return True, {"$timestamp": node.to_datetime().isoformat()}
        except (OverflowError, ValueError, OSError):
            return True, {"$ext": -1, "$hex": node.to_bytes().hex()}
    if isinstance(node, float) and not math.isfinite(node):
        return True, {"$float": repr(node)}
    return False, None


def to_jsonable(value: SioValue) -> JsonValue:
    """A copy of a decoded value that json.dumps writes as the analysis document wants.

    bytes -> {"$hex": "..."}; msgpack ext -> {"$ext": code, "$hex": ...}; msgpack timestamp ->
    {"$timestamp": ISO 8601}; NaN/Infinity -> {"$float": "nan"}; keys become strings.
    """
    if value is None or isinstance(value, str | int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    return cast(JsonValue, map_tree(value, _jsonable_leaf)[0])
