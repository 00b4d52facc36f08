"""The packet list of one TCP connection as Wireshark lists it (No., time, delta, direction,
flags as letters, relative seq/ack, length, what the segment carried), the bytes of a selected
packet with one layer highlighted, and "follow stream": both directions in capture order as
text or hex, the bytes reassembly could not see marked as gaps.

The packets are read again from the capture by the analyzer (`analyzer.pipeline.access`:
`connection_packets`, `connection_stream`); this module only arranges them."""

from __future__ import annotations

from typing import Any, NamedTuple

from webui.index import LAYER_NAMES, Index, Row
from webui.packets import Bases, tcp_line

__all__ = [
    "FLAG_LETTERS",
    "HexPiece",
    "conn_ends",
    "follow_stream",
    "marked_dump",
    "packet_list",
    "packet_ranges",
]

# tcpdump's letters, and A for ACK (RFC 9293 §3.1 control bits)
FLAG_LETTERS = {
    "SYN": "S",
    "ACK": "A",
    "FIN": "F",
    "RST": "R",
    "PSH": "P",
    "URG": "U",
    "ECE": "E",
    "CWR": "C",
    "AE": "N",
}
_MOD = 1 << 32
MAX_CHUNKS = 5000  # pieces of text one "follow stream" page shows


def _endpoint(text: str) -> tuple[str, int] | None:
    host, _, port = text.rpartition(":")
    if not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def conn_ends(ix: Index, conn: int) -> Any:
    """The `ConnEnds` of connection `conn` (its id), or None when it has no such connection."""
    from analyzer.pipeline.access import ConnEnds

    pos = ix.conn_pos.get(conn)
    if pos is None:
        return None
    c = ix.conn_summaries[pos]
    client, server = _endpoint(c.ends[0]), _endpoint(c.ends[1])
    if client is None or server is None:
        return None
    lo, hi = c.frame_span
    last = len(ix.frame_ts) or (1 << 62)
    return ConnEnds(client, server, lo if lo is not None else 1, hi if hi is not None else last)


def _letters(flags: list[Any]) -> str:
    return "".join(FLAG_LETTERS.get(str(f), "?") for f in flags)


def _carried(rows: list[Row]) -> str:
    """What a segment carried, top protocol first: 'WS text 42 B', 'HTTP GET /socket.io/...'."""
    for r in rows:
        if r.layer == "websocket":
            size = f" {r.length:,} B" if r.length is not None else ""
            return f"WS {r.kind}{size}"
    for r in rows:
        if r.layer == "http":
            return f"HTTP {r.summary}"
    return ""


def _transport(p: dict[str, Any]) -> dict[str, Any]:
    for layer in p.get("layers") or []:
        if isinstance(layer, dict) and layer.get("layer") == "transport":
            f = layer.get("fields")
            return f if isinstance(f, dict) else {}
    return {}


def _rel(v: Any, base: int | None) -> int | None:
    return (v - base) % _MOD if isinstance(v, int) and base is not None else None


def packet_list(ix: Index, packets: list[dict[str, Any]], bases: dict[int, Bases]) -> list[dict[str, Any]]:
    """The lines of the list: number, time, delta from the line before, direction, flags,
    relative seq/ack, payload length, info, and the rows the packet carried."""
    out = []
    prev: float | None = None
    for p in packets:
        frame = int(p.get("frame") or 0)
        tcp = _transport(p)
        base = bases.get(frame)
        ts = p.get("ts")
        t = ts - ix.t0 if isinstance(ts, float | int) else None
        flags = [str(f) for f in tcp.get("flags") or []]
        rows = ix.rows_for_frame(frame)
        carried = _carried(rows)
        out.append(
            {
                "frame": frame,
                "t": t,
                "delta": None if t is None or prev is None else t - prev,
                "c2s": bool(p.get("c2s")),
                "flags": _letters(flags),
                "flag_names": ", ".join(flags),
                "seq": _rel(tcp.get("seq"), base.seq if base else None),
                "ack": _rel(tcp.get("ack"), base.ack if base else None) if "ACK" in flags else None,
                "length": tcp.get("payload_length"),
                "info": carried or tcp_line(p, base),
                "rows": [(r.id, f"{LAYER_NAMES.get(r.layer, r.layer)} {r.kind}") for r in rows[:3]],
            }
        )
        prev = t if t is not None else prev
    return out


def packet_ranges(p: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Where each layer's bytes are in the packet: link, network, transport (the TCP header),
    payload."""
    raw_len = int(p.get("captured_length") or 0)
    out: dict[str, tuple[int, int]] = {}
    at = 0
    for layer in p.get("layers") or []:
        if not isinstance(layer, dict):
            continue
        fields = layer.get("fields") or {}
        n = fields.get("header_length") if isinstance(fields, dict) else None
        if not isinstance(n, int):
            break
        out[str(layer.get("layer"))] = (at, min(at + n, raw_len))
        at += n
    off = p.get("payload_offset")
    if isinstance(off, int) and off < raw_len:
        out["payload"] = (off, raw_len)
    return out


class HexPiece(NamedTuple):
    text: str
    marked: bool


def _split(text: str, marks: list[bool]) -> list[HexPiece]:
    """`text` cut where `marks` (one per character) changes."""
    out: list[HexPiece] = []
    start = 0
    for k in range(1, len(text) + 1):
        if k == len(text) or marks[k] != marks[start]:
            out.append(HexPiece(text[start:k], marks[start]))
            start = k
    return out


def marked_dump(data: bytes, lo: int, hi: int, limit: int = 65536) -> list[list[HexPiece]]:
    """Hex dump lines (offset, 16 bytes, ASCII), the bytes lo..hi marked in both columns."""
    lines = []
    for off in range(0, min(len(data), limit), 16):
        chunk = data[off : off + 16]
        text = f"{off:06x}  "
        marks = [False] * len(text)
        for j, b in enumerate(chunk):
            sep = "  " if j == 7 else " "
            on = lo <= off + j < hi
            text += f"{b:02x}"
            marks += [on, on]
            nxt = lo <= off + j + 1 < hi and j + 1 < len(chunk)
            text += sep
            marks += [on and nxt] * len(sep)
        pad = 16 * 3 + 2 - (len(text) - 8)
        text += " " * pad
        marks += [False] * pad
        for j, b in enumerate(chunk):
            text += chr(b) if 0x20 <= b < 0x7F else "."
            marks.append(lo <= off + j < hi)
        lines.append(_split(text, marks))
    return lines


def follow_stream(pieces: list[Any], hex_mode: bool) -> list[dict[str, Any]]:
    """Both directions in capture order, each piece's new bytes (a retransmitted or overlapping
    part is left out), and a gap piece where a direction's bytes jump ahead of what it sent."""
    expected: dict[bool, int] = {}
    out: list[dict[str, Any]] = []
    for p in pieces[: MAX_CHUNKS * 2]:
        nxt = expected.get(p.c2s)
        data = p.payload
        if nxt is not None:
            ahead = (p.seq - nxt) % _MOD
            if ahead and ahead < (1 << 31):
                out.append({"gap": ahead, "c2s": p.c2s, "frame": p.frame})
            elif ahead:  # behind: a retransmission or an overlap
                behind = _MOD - ahead
                if behind >= len(data):
                    continue
                data = data[behind:]
        expected[p.c2s] = (p.seq + len(p.payload)) % _MOD
        if not data:
            continue
        text = data.hex(" ") if hex_mode else data.decode("utf-8", "replace")
        if not hex_mode:
            text = "".join(c if c in "\n\t\r" or c >= " " else "." for c in text)
        out.append({"text": text, "c2s": p.c2s, "frame": p.frame, "length": len(data)})
        if len(out) >= MAX_CHUNKS:
            break
    return out
