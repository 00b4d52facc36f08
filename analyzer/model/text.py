"""Captured text made safe for one line of a terminal, and short; decoded values shown as JSON."""

from __future__ import annotations

import json

__all__ = ["cut_text", "json_text", "terminal_text"]


def terminal_text(text: str, limit: int, escape_whitespace: bool = True) -> str:
    """`text` with every unprintable character escaped as `\\xNN` (with `escape_whitespace`,
    CR, LF and TAB as `\\r`, `\\n`, `\\t`), cut to `limit` characters ending in an ellipsis.

    Captured text is hostile: no control character may reach the terminal. Escaping only
    lengthens, so only the first `limit` characters can reach the result and only they are
    looked at: a multi-megabyte message costs what a short one does."""
    head = text[:limit]
    if escape_whitespace:
        head = head.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    if not head.isprintable():
        head = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in head)
    if len(text) <= limit and len(head) <= limit:
        return head
    return head[: limit - 1] + "…"


def json_text(value: object, limit: int = 80) -> str:
    """A decoded value (a Socket.IO payload, an Engine.IO error body) as its compact JSON text,
    never a Python repr, cut to `limit` characters ending in an ellipsis. For anomaly messages:
    they are text in every output; the terminal's escaping is left to the printers."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_jsonable)
    except (ValueError, RecursionError):  # a cycle, or nested past the interpreter's depth
        text = "(a value too deeply nested to show)"
    return cut_text(text, limit)


def cut_text(text: str, limit: int) -> str:
    """`text` cut to `limit` characters ending in an ellipsis (json_text's cut, for a value whose
    JSON text is already at hand)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _jsonable(value: object) -> object:
    """What json.dumps cannot write, as the analysis document writes it: bytes as {"$hex": ...}."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$hex": bytes(value).hex()}
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)
