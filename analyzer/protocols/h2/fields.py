"""HPACK (RFC 7541) for one direction, with the `hpack` package, and the field rules of RFC 8441.

One decoder per direction mirrors the sender's encoder (RFC 7541 §2.2). Its table-size limit
is the receiver's SETTINGS_HEADER_TABLE_SIZE once the sender acknowledged it (RFC 9113 §4.3.1,
§6.5.3). A block that does not decode ruins the table for good (COMPRESSION_ERROR, §4.3):
the decoder then stops, so later blocks give None rather than wrong fields.
"""

from __future__ import annotations

from hpack import Decoder
from hpack.exceptions import HPACKError, OversizedHeaderListError

__all__ = ["MAX_HEADER_LIST", "FieldDecoder", "Fields", "field", "field_rules"]

MAX_HEADER_LIST = 1 << 20  # Σ(name + value + 32) of one block (RFC 7541 §4.1): the HPACK-bomb bound

Fields = tuple[tuple[str, str], ...]


def field(fields: Fields, name: str) -> str | None:
    """The first value of a field (names are lowercase in HTTP/2, RFC 9113 §8.2.1)."""
    for k, v in fields:
        if k == name:
            return v
    return None


class FieldDecoder:
    """The HPACK decoder of one direction."""

    def __init__(self) -> None:
        self._decoder = Decoder(max_header_list_size=MAX_HEADER_LIST)
        self.failed = False  # the dynamic table is desynchronised: no more decoding
        self.over_limit = False  # it failed on MAX_HEADER_LIST, not on a coding error

    def set_table_limit(self, size: int) -> None:
        """The receiver's SETTINGS_HEADER_TABLE_SIZE, acknowledged (RFC 7541 §4.2)."""
        self._decoder.max_allowed_table_size = max(0, min(size, 1 << 32))

    def decode(self, block: bytes) -> tuple[Fields | None, str | None]:
        """(fields, None), or (None, why) when the block does not decode; (None, None) once failed."""
        if self.failed:
            return None, None
        try:
            raw = self._decoder.decode(block, raw=True)
        except OversizedHeaderListError:
            self.failed = self.over_limit = True
            return None, f"header list over {MAX_HEADER_LIST} bytes (name + value + 32 each)"
        except HPACKError as exc:
            self.failed = True
            return None, str(exc) or type(exc).__name__
        except (ValueError, IndexError, KeyError, OverflowError, UnicodeError) as exc:  # never raise
            self.failed = True
            return None, f"{type(exc).__name__}: {exc}"
        out = []
        for name, value in raw:
            n = name.decode("latin-1") if isinstance(name, bytes) else str(name)
            v = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            out.append((n, v))
        return tuple(out), None

    def lose(self) -> None:
        """Bytes of the direction were lost: its table can no longer be followed (RFC 7541 §2.2)."""
        self.failed = True


_REQUEST_PSEUDO = frozenset((":method", ":scheme", ":path", ":authority", ":protocol"))  # + RFC 8441 §4
_CONNECTION_SPECIFIC = frozenset(
    ("connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade")
)
_BAD_NAME = frozenset(range(0x00, 0x21)) | frozenset(range(0x41, 0x5B)) | frozenset(range(0x7F, 0x100))


def field_rules(fields: Fields, request: bool, first: bool) -> str | None:
    """The first rule of RFC 9113 §8.2-§8.3 a field block breaks (None: none). `first`: the
    message's header section, not its trailers."""
    seen: set[str] = set()
    regular = False
    allowed = _REQUEST_PSEUDO if request else frozenset((":status",))
    for name, value in fields:
        if name.startswith(":"):
            if not first:
                return f"pseudo-header field {name} in trailers (§8.1)"
            if regular:
                return f"pseudo-header field {name} after a regular field (§8.3)"
            if name not in allowed:
                kind = "request" if request else "response"
                return f"pseudo-header field {name} not defined for a {kind} (§8.3)"
            if name in seen:
                return f"pseudo-header field {name} repeated (§8.3)"
            seen.add(name)
            continue
        regular = True
        if not name or any(ord(c) in _BAD_NAME for c in name) or ":" in name:
            return f"field name {name[:40]!r} is not lowercase token characters (§8.2.1)"
        if name in _CONNECTION_SPECIFIC or (name == "te" and value.strip().lower() != "trailers"):
            return f"connection-specific field {name} (§8.2.2)"
    if not first:
        return None
    if not request:
        return None if ":status" in seen else "response without :status (§8.3.2)"
    if ":method" not in seen:
        return "request without :method (§8.3.1)"
    if field(fields, ":method") == "CONNECT" and ":protocol" not in seen:  # §8.5: plain CONNECT
        if ":authority" not in seen or ":scheme" in seen or ":path" in seen:
            return "CONNECT needs :authority and no :scheme or :path (§8.5)"
        return None
    missing = [p for p in (":scheme", ":path") if p not in seen]
    return f"request without {' and '.join(missing)} (§8.3.1)" if missing else None
