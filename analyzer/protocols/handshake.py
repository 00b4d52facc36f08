"""The WebSocket opening handshake (RFC 6455 §4): checks H1, H2, H3 and H5 of PROTOCOLS.md.

Pure functions over already parsed HTTP heads; frames-before-101 and frames on a
non-101 connection (H4) need timing, so the pipeline raises those
(ws.handshake-early-data, ws.handshake-not-101).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from analyzer.model.codes import websocket as codes
from analyzer.model.facts import WsHandshake
from analyzer.model.records import Headers, header_value
from analyzer.protocols.deflate import DeflateParams, negotiate_deflate, parse_extensions

__all__ = [
    "WS_GUID",
    "HandshakeResult",
    "accept_for",
    "check_handshake",
    "header_tokens",
    "header_values",
    "is_websocket_upgrade",
]

# RFC 6455 §1.3, §4.2.2 item 5.4.
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_HTTP_VERSION = re.compile(r"(?:HTTP/)?(\d{1,9})\.(\d{1,9})", re.IGNORECASE)  # int()-safe


def _text_bytes(text: str) -> bytes:
    # Header values arrive as str; latin-1 gives back the wire bytes of what HTTP parsers decode.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def accept_for(key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)) (§4.2.2 item 5.4).

    The key is used as the trimmed header text, not base64-decoded.
    """
    digest = hashlib.sha1(_text_bytes(key.strip()) + WS_GUID.encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def header_values(headers: Headers, name: str) -> list[str]:
    """Every value of a header, in order, across repeated lines (RFC 9110 §5.3)."""
    lname = name.lower()
    return [v for k, v in headers if k.lower() == lname]


def header_tokens(headers: Headers, name: str) -> list[str]:
    """Comma-separated elements of every line of a header, trimmed and lowercased (RFC 9110 §5.6.1)."""
    return [t.strip().lower() for v in header_values(headers, name) for t in v.split(",") if t.strip()]


def is_websocket_upgrade(headers: Headers) -> bool:
    """Does a request ask to upgrade to WebSocket? (§4.1 item 5: `Upgrade: websocket`, any case.)"""
    return "websocket" in header_tokens(headers, "Upgrade")


def _version_at_least_11(version: str | None) -> bool:
    m = _HTTP_VERSION.fullmatch((version or "").strip())
    return m is not None and (int(m.group(1)), int(m.group(2))) >= (1, 1)


@dataclass(frozen=True, slots=True)
class HandshakeResult:
    """What the opening handshake agreed and what it broke."""

    succeeded: bool  # the response is 101 Switching Protocols
    key: str | None
    accept: str | None
    accept_valid: bool
    subprotocol: str | None
    extensions: str | None  # the response's Sec-WebSocket-Extensions lines joined with ", "
    deflate: DeflateParams | None
    extensions_negotiated: bool
    anomalies: list[tuple[str, str]] = field(default_factory=list)  # (code, message)

    def to_dict(self, request_frame: int | None, response_frame: int | None) -> WsHandshake:
        """The `handshake` object of ANALYSIS_JSON.md."""
        return {
            "request_frame": request_frame,
            "response_frame": response_frame,
            "key": self.key,
            "accept": self.accept,
            "accept_valid": self.accept_valid,
            "subprotocol": self.subprotocol,
            "extensions": self.extensions,
            "permessage_deflate": self.deflate.to_dict() if self.deflate is not None else None,
        }


def _check_request(method: str, version: str, headers: Headers, issues: list[tuple[str, str]]) -> str | None:
    """H2 (§4.1 items 1-9, §4.2.1): returns the key."""
    if method != "GET" or not _version_at_least_11(version):
        issues.append(
            (codes.HANDSHAKE_BAD_REQUEST, f"opening request is {method} {version}, not GET HTTP/1.1+")
        )
    missing = []
    if header_value(headers, "Host") is None:
        missing.append("Host")
    if "websocket" not in header_tokens(headers, "Upgrade"):
        missing.append("Upgrade: websocket")
    if "upgrade" not in header_tokens(headers, "Connection"):
        missing.append("Connection: Upgrade")
    if missing:
        issues.append((codes.HANDSHAKE_MISSING_HEADER, "request lacks " + ", ".join(missing)))
    key = header_value(headers, "Sec-WebSocket-Key")
    if key is None:
        issues.append((codes.HANDSHAKE_BAD_KEY, "request has no Sec-WebSocket-Key"))
    else:
        try:
            raw = base64.b64decode(key.strip(), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 16:
            # §4.1 item 7: a randomly selected 16-byte value, base64-encoded.
            issues.append((codes.HANDSHAKE_BAD_KEY, f"Sec-WebSocket-Key {key!r} is not 16 bytes in base64"))
    ws_version = header_values(headers, "Sec-WebSocket-Version")
    if [v.strip() for v in ws_version] != ["13"]:
        # §4.1 item 9: "The value of this header field MUST be 13."
        issues.append(
            (codes.HANDSHAKE_BAD_VERSION, f"Sec-WebSocket-Version is {', '.join(ws_version) or 'absent'}")
        )
    return key


def _offered_subprotocols(headers: Headers, issues: list[tuple[str, str]]) -> list[str]:
    raw = [t.strip() for v in header_values(headers, "Sec-WebSocket-Protocol") for t in v.split(",")]
    if raw and any(not t for t in raw):
        # §4.1 item 10 / §4.2.1: a list of tokens; an empty element names nothing.
        issues.append((codes.HANDSHAKE_BAD_SUBPROTOCOL, "request offers an empty subprotocol"))
    return [t for t in raw if t]


def _check_subprotocol(offered: Iterable[str], headers: Headers, issues: list[tuple[str, str]]) -> str | None:
    """H3 for the response's Sec-WebSocket-Protocol (§4.1 client step 6, §4.2.2)."""
    values = header_values(headers, "Sec-WebSocket-Protocol")
    if not values:
        return None
    chosen = [t.strip() for v in values for t in v.split(",")]
    if len(chosen) != 1:
        issues.append(
            (codes.HANDSHAKE_BAD_SUBPROTOCOL, f"response picks several subprotocols: {', '.join(chosen)}")
        )
    pick = chosen[0]
    if not pick:
        issues.append((codes.HANDSHAKE_BAD_SUBPROTOCOL, "response has an empty Sec-WebSocket-Protocol"))
        return pick
    # §4.1 client step 6: it must be one of the values the client sent; compared exactly, as browsers do.
    if pick not in offered:
        issues.append((codes.HANDSHAKE_BAD_SUBPROTOCOL, f"response picks subprotocol {pick!r}, not offered"))
    return pick


def check_handshake(
    req_method: str,
    req_version: str,
    req_headers: Headers,
    resp_status: int | None,
    resp_version: str | None,
    resp_headers: Headers | None,
) -> HandshakeResult:
    """Check an Upgrade request and its response (None when the capture has no response)."""
    issues: list[tuple[str, str]] = []
    key = _check_request(req_method, req_version, req_headers, issues)
    offered = _offered_subprotocols(req_headers, issues)
    if resp_status != 101 or resp_headers is None:
        # A refusal (e.g. 426 with Sec-WebSocket-Version) is plain HTTP, not a WebSocket fault.
        return HandshakeResult(False, key, None, False, None, None, None, False, issues)
    missing = []
    if "websocket" not in header_tokens(resp_headers, "Upgrade"):
        missing.append("Upgrade: websocket")
    if "upgrade" not in header_tokens(resp_headers, "Connection"):
        missing.append("Connection: Upgrade")
    if missing:
        # §4.1 client steps 2-3, §4.2.2 items 5.2-5.3.
        issues.append((codes.HANDSHAKE_MISSING_HEADER, "101 response lacks " + ", ".join(missing)))
    if resp_version is not None and not _version_at_least_11(resp_version):
        issues.append((codes.HANDSHAKE_BAD_REQUEST, f"101 response in {resp_version}"))
    accept = header_value(resp_headers, "Sec-WebSocket-Accept")
    accept_valid = key is not None and accept is not None and accept.strip() == accept_for(key)
    if not accept_valid:
        # §4.1 client step 4 (H1).
        if accept is None:
            issues.append((codes.BAD_ACCEPT, "101 response has no Sec-WebSocket-Accept"))
        elif key is None:
            issues.append((codes.BAD_ACCEPT, "Sec-WebSocket-Accept without a Sec-WebSocket-Key"))
        else:
            issues.append(
                (codes.BAD_ACCEPT, f"Sec-WebSocket-Accept {accept!r}, expected {accept_for(key)!r}")
            )
    subprotocol = _check_subprotocol(offered, resp_headers, issues)
    offer_ext = header_values(req_headers, "Sec-WebSocket-Extensions")
    resp_ext = header_values(resp_headers, "Sec-WebSocket-Extensions")
    offered_names = {name for name, _ in parse_extensions(offer_ext)}
    used = parse_extensions(resp_ext)
    for name in dict.fromkeys(name for name, _ in used):
        if name not in offered_names:
            # §4.1 client step 5, §9.1: only extensions the client asked for.
            issues.append(
                (codes.HANDSHAKE_UNOFFERED_EXTENSION, f"response uses extension {name!r}, not offered")
            )
    deflate, deflate_issues = negotiate_deflate(offer_ext, resp_ext)
    issues.extend(deflate_issues)
    return HandshakeResult(
        True,
        key,
        accept,
        accept_valid,
        subprotocol,
        ", ".join(resp_ext) if resp_ext else None,
        deflate,
        bool(used),
        issues,
    )
