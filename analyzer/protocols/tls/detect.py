"""Is this stream TLS? Decided from its first bytes, on any port (PROTOCOLS-TLS-H2.md §3.4).

D1: a ClientHello record (16 03 0x, length, handshake type 1); D3: the server's ServerHello
(type 2) or an alert (15 03 0x 00 02); D5: a capture that starts after the handshake, where
the first bytes are a record of type 20-23 with version 3.1-3.4 and a possible length (and,
when the chunk holds it, a second well-formed header after it). HTTP, WebSocket frames and the
HTTP/2 preface never start like this (D4).
"""

from __future__ import annotations

__all__ = ["looks_like_tls"]

_MAX_RECORD = (1 << 14) + 2048  # RFC 5246 §6.2.3: the longest record of any version


def _header(data: bytes, at: int) -> tuple[int, int, int] | None:
    """(type, minor version, length) of a well-formed record header at `at`, or None."""
    if len(data) < at + 5:
        return None
    ctype, major, minor = data[at], data[at + 1], data[at + 2]
    length = (data[at + 3] << 8) | data[at + 4]
    if not 20 <= ctype <= 24 or major != 3 or minor > 4 or not 0 < length <= _MAX_RECORD:
        return None
    return ctype, minor, length


def looks_like_tls(data: bytes, from_client: bool) -> bool:
    """The first bytes of one direction of a connection."""
    head = _header(data, 0)
    if head is None:
        return False
    ctype, minor, length = head
    if ctype == 22 and len(data) >= 6:  # D1 / D3: ClientHello from the client, ServerHello from the server
        return data[5] == (1 if from_client else 2)
    if ctype == 21:  # D3: an alert is two bytes
        return length == 2
    if ctype in (20, 23) and minor >= 1:  # D5: mid-stream
        following = _header(data, 5 + length)
        return len(data) < 5 + length + 5 or following is not None
    return False
