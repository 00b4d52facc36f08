"""WebSocket over HTTP/2 (RFC 8441): the extended CONNECT and its answer as a WebSocket handshake.

There is no key and no accept (RFC 8441 §5: `:protocol` supersedes them); the subprotocol and
the extensions are negotiated with the same fields as in HTTP/1.1 (RFC 6455 §4.1, §9.1;
permessage-deflate RFC 7692), and any 2xx answer opens the tunnel (RFC 9113 §8.5).
"""

from __future__ import annotations

from analyzer.model.codes import websocket as ws_codes
from analyzer.protocols.deflate import negotiate_deflate, parse_extensions
from analyzer.protocols.h2.fields import Fields, field
from analyzer.protocols.handshake import HandshakeResult

__all__ = ["is_extended_connect", "tunnel_handshake"]


def is_extended_connect(fields: Fields) -> bool:
    """RFC 8441 §4: CONNECT with `:protocol websocket`."""
    return field(fields, ":method") == "CONNECT" and (field(fields, ":protocol") or "").lower() == "websocket"


def _values(fields: Fields, name: str) -> list[str]:
    return [v for k, v in fields if k == name]


def tunnel_handshake(request: Fields, status: int | None, response: Fields | None) -> HandshakeResult:
    """The handshake of an RFC 8441 tunnel: what was negotiated and the rules it broke."""
    issues: list[tuple[str, str]] = []
    if [v.strip() for v in _values(request, "sec-websocket-version")] != ["13"]:
        # RFC 8441 §5 keeps RFC 6455 §4.1 item 9: the version MUST be 13
        got = ", ".join(_values(request, "sec-websocket-version")) or "absent"
        issues.append((ws_codes.HANDSHAKE_BAD_VERSION, f"sec-websocket-version is {got}"))
    succeeded = status is not None and 200 <= status < 300 and response is not None
    if not succeeded or response is None:
        return HandshakeResult(False, None, None, False, None, None, None, False, issues)
    offered = [
        t.strip() for v in _values(request, "sec-websocket-protocol") for t in v.split(",") if t.strip()
    ]
    subprotocol = field(response, "sec-websocket-protocol")
    if subprotocol is not None and subprotocol.strip() not in offered:
        # RFC 6455 §4.1 client step 6
        issues.append(
            (ws_codes.HANDSHAKE_BAD_SUBPROTOCOL, f"response picks subprotocol {subprotocol!r}, not offered")
        )
    offer_ext = _values(request, "sec-websocket-extensions")
    resp_ext = _values(response, "sec-websocket-extensions")
    offered_names = {name for name, _ in parse_extensions(offer_ext)}
    used = parse_extensions(resp_ext)
    for name in dict.fromkeys(name for name, _ in used):
        if name not in offered_names:  # RFC 6455 §9.1
            issues.append(
                (ws_codes.HANDSHAKE_UNOFFERED_EXTENSION, f"response uses extension {name!r}, not offered")
            )
    deflate, deflate_issues = negotiate_deflate(offer_ext, resp_ext)
    issues.extend(deflate_issues)
    extensions = ", ".join(resp_ext) if resp_ext else None
    return HandshakeResult(True, None, None, False, subprotocol, extensions, deflate, bool(used), issues)
