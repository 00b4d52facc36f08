"""Why socketscope and tshark may differ on a capture, and which side is right: the explanations
`socketscope crosscheck` attaches to a difference (analyzer/crosscheck/compare.py)."""

from __future__ import annotations

from typing import Any

__all__ = ["EXPLANATIONS", "explain"]

# Why socketscope and tshark 4.0 may differ, and which side is right (checked by hand against the RFCs).
EXPLANATIONS: dict[str, tuple[str, str]] = {
    "tshark-fragmented-deflate": (
        "socketscope",
        "tshark 4.0 does not inflate a compressed message sent in several frames: it shows the compressed "
        "bytes (or 'Decompression failed'); RFC 7692 §6.1 compresses a message as a whole, RSV1 on its first "
        "frame only, and §6.2 has the receiver inflate the reassembled payload, which socketscope did "
        "without error",
    ),
    "tshark-deflate-context-lost": (
        "socketscope",
        "with context takeover (RFC 7692 §7.2.3) a message may refer to the text of the previous ones; "
        "tshark's inflater never saw the text of the fragmented message of frame {after}, so it inflates "
        "the later compressed messages of this direction wrongly or reports 'Decompression failed'; "
        "socketscope inflated every message of the direction in order, without error",
    ),
    "tshark-needs-decode-as": (
        "socketscope",
        "tshark decodes HTTP on TCP port {port} only with -d tcp.port=={port},http (its HTTP heuristic "
        "did not take this stream); socketscope recognises HTTP by its first bytes on any port",
    ),
    "tshark-decode-as-port": (
        "socketscope",
        "-d tcp.port=={port},websocket makes tshark decode every connection on port {port} as WebSocket "
        "from its first byte, the HTTP handshake included (tshark's Decode As is per port); socketscope's "
        "--decode-as applies only to connections that do not start with HTTP, and parses this one's "
        "handshake as HTTP (RFC 6455 §4)",
    ),
    "tshark-http-in-websocket": (
        "both",
        "tshark's HTTP dissector also parsed bytes that travelled inside WebSocket frames (a protocol "
        "tunnelled over WebSocket); socketscope reports them as WebSocket message payload, which is "
        "what they are on this connection after the 101 (RFC 6455 §4.1)",
    ),
    "tshark-omits-cut-message": (
        "both",
        "the capture ends inside this HTTP {kind} (socketscope lists it with its body cut, and "
        "http.truncated-message): tshark shows an HTTP message only once it has all of it, so it omits "
        "this one; nothing after it is missing on either side",
    ),
    "socketscope-payload-bound": (
        "both",
        "socketscope keeps the first {bound} bytes of each payload for display (Options.keep_payload_bytes); "
        "the bytes it kept are the same as tshark's",
    ),
}


def explain(reason: str, **values: Any) -> dict[str, Any]:
    """The Difference fields for `reason`: its key, its text with `values` filled in, who is right."""
    right, text = EXPLANATIONS[reason]
    return {"reason": reason, "explanation": text.format(**values), "right": right}
