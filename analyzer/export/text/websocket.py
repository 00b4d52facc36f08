"""The text summary's WebSocket sections: the connections, and the `--messages` log."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from analyzer.export.text.summary import Mark, fmt_clock
from analyzer.model.text import terminal_text

__all__ = [
    "NO_WS_MESSAGES",
    "WS_MESSAGES_LEGEND",
    "ws_extensions",
    "ws_message_lines",
    "ws_section",
]

PREVIEW = 160


def _preview(text: str, limit: int = PREVIEW) -> str:
    return terminal_text(text, limit)


def _close(c: dict[str, Any] | None) -> str:
    if c is None:
        return "-"
    code = c.get("code")
    reason = c.get("reason")
    s = str(code) if code is not None else "(no code)"
    return f"{s} {_preview(reason, 40)!r}" if reason else s


def ws_extensions(hs: dict[str, Any]) -> str:
    """The response's extensions, permessage-deflate with the parameters it agreed (each named once)."""
    ext = hs.get("extensions")
    pmd = hs.get("permessage_deflate")
    if not ext:
        return "-"
    shown = []
    for item in ext.split(","):
        name = item.split(";")[0].strip()
        if not name:
            continue
        if name.lower() == "permessage-deflate" and pmd is not None:
            params = [k for k in ("server_no_context_takeover", "client_no_context_takeover") if pmd.get(k)]
            params += [
                f"{k}={pmd[k]}" for k in ("server_max_window_bits", "client_max_window_bits") if pmd.get(k)
            ]
            shown.append(f"permessage-deflate ({', '.join(params) or 'no parameters'})")
            pmd = None  # negotiated once (RFC 7692 §5): a second offer in the response is its raw text
        else:
            shown.append(item.strip())
    return _preview(", ".join(shown), PREVIEW)


def ws_section(c: Any) -> str:
    """The lines of one WebSocket connection in the "WebSocket connections" section."""
    ws = c.websocket
    hs = ws.handshake
    counts = ws.counts
    n_msg = ws.message_counts
    out = [f"  #{c.id} {ws.url or '(no handshake in capture: decoded as WebSocket)'}\n"]
    if hs is not None:
        # RFC 8441 §5: a WebSocket over HTTP/2 has no key and no accept; its stream is named instead
        accept = "valid" if hs.get("accept_valid") else "INVALID"
        if hs.get("h2_stream_id") is not None:
            accept = f"none (HTTP/2 stream {hs['h2_stream_id']}, RFC 8441)"
        out.append(
            f"     subprotocol {_preview(hs.get('subprotocol') or '-', 60)}, extensions {ws_extensions(hs)},"
            f" accept {accept}\n"
        )
    ctrl = {k.split(":")[1]: 0 for k in counts}
    for k, v in counts.items():
        ctrl[k.split(":")[1]] += v
    out.append(
        f"     messages c>s {n_msg['c2s']}, s>c {n_msg['s2c']}; frames "
        + ", ".join(f"{k} {v}" for k, v in sorted(ctrl.items()))
        + (f" ({ws.frames_not_listed:,} not listed: --max-frame-records)" if ws.frames_not_listed else "")
        + "\n"
    )
    ch = ws.conversation.get("close_handshake", {})
    out.append(
        f"     close c>s {_close(ws.close.get('c2s'))}, s>c {_close(ws.close.get('s2c'))}"
        f"{'; first by ' + ch['first_closer'] if ch.get('first_closer') else ''}"
        f"{'; completed' if ch.get('completed') else ''}\n"
    )
    rtt = ws.conversation.get("ping_rtt_ms", {})
    if rtt.get("count"):
        out.append(
            f"     ping RTT ms: n={rtt['count']} min {rtt['min']:.3f} mean {rtt['mean']:.3f}"
            f" max {rtt['max']:.3f}\n"
        )
    return "".join(out)


WS_MESSAGES_LEGEND = (
    "  (flags: z = compressed with permessage-deflate, fN = sent in N frames;"
    " !! = an anomaly raised on that message)\n"
)
NO_WS_MESSAGES = "  no WebSocket messages\n"


def ws_message_lines(c: Any, messages: Iterable[dict[str, Any]], mark: Mark | None = None) -> Iterator[str]:
    """The `--messages` log of one connection, from its messages as in the document; nothing
    for a connection without messages. `mark` gives the lines that follow a message (its
    anomalies)."""
    head = f"  connection #{c.id} {_preview(c.websocket.url or '', PREVIEW)}".rstrip() + "\n"
    for m in messages:
        if head:
            yield head
            head = ""
        arrow = "C->S" if m["direction"] == "c2s" else "S->C"
        text, data_hex = m.get("text"), m.get("data_hex") or ""
        if m["opcode"] == "text":
            if text is None:  # not UTF-8: the first PREVIEW characters need at most 4 bytes each
                text = bytes.fromhex(data_hex[: 8 * (PREVIEW + 1)]).decode("utf-8", "replace")
            body = _preview(text)
        else:
            body = "0x" + data_hex[:96] + ("…" if len(data_hex) > 96 else "")
        flags = ("z" if m["compressed"] else "") + (f"f{m['frames']}" if m["frames"] > 1 else "")
        yield (
            f"    {fmt_clock(m['ts'])}  #{m['frame']:<6} {arrow} {m['opcode']:6} {m['length']:>7}B"
            f" {flags:4} {body}\n"
        )
        if mark is not None:
            packets = m.get("packets") or (m["frame"],)
            yield from mark((c.id, min(packets), max(packets), m["direction"]))
