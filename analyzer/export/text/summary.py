"""Human-readable output of the CLI: the capture summary and the connection table."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any

from analyzer.model.analysis import Analysis, ConnectionRecord
from analyzer.model.common import Anomaly, Layer
from analyzer.model.facts import Endpoint
from analyzer.model.text import terminal_text

__all__ = [
    "EVENT_MARK_LAYERS",
    "MESSAGE_MARK_LAYERS",
    "Mark",
    "Marks",
    "Span",
    "anomaly_section",
    "connection_row",
    "connection_table",
    "fmt_clock",
    "fmt_ts",
    "mark_line",
    "session_sids",
    "summary_head",
]

# Where a WebSocket message or a Socket.IO packet is: (connection, first packet, last packet,
# direction); the `--messages` and `--events` logs hand it to a Mark after the item's line, which
# gives the lines of the anomalies raised there
Span = tuple[int, int, int, str]
Mark = Callable[[Span], Iterable[str]]


def fmt_ts(ts: float | None) -> str:
    if ts is None:
        return "-"
    return _fmt(ts, "%Y-%m-%d %H:%M:%S.%f")


def fmt_clock(ts: float) -> str:
    """The time of day of `fmt_ts` (HH:MM:SS.ffffff), for the message and event logs."""
    return _fmt(ts, "%H:%M:%S.%f")


def _fmt(ts: float, pattern: str) -> str:
    try:
        return dt.datetime.fromtimestamp(ts, dt.UTC).strftime(pattern)
    except (OverflowError, OSError, ValueError):
        # pcapng timestamps are 64-bit counts of a unit the capture chooses, plus a signed offset
        # (draft-ietf-opsawg-pcapng §4.2 if_tsresol/if_tsoffset, §4.3): a damaged or hostile file
        # may put a packet outside datetime's years 1..9999. Shown as the seconds it says.
        return f"{ts:.6f}s"


def _ep(e: Endpoint) -> str:
    ip = e["ip"]
    return f"[{ip}]:{e['port']}" if ":" in ip else f"{ip}:{e['port']}"


def _table(rows: list[list[str]], out: IO[str]) -> None:
    if not rows:
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")


TABLE_HEAD = [
    "#",
    "client",
    "server",
    "handshake",
    "RTT ms",
    "pkts c>s/s>c",
    "bytes c>s/s>c",
    "end",
    "app",
    "anom",
]


def summary_head(a: Analysis, connections: int) -> str:
    c = a.capture
    out = [f"Capture   {c.path} ({c.format}, {', '.join(c.link_types) or 'no packets'})\n"]
    out.append(
        f"Packets   {c.packets:,} ({c.bytes:,} bytes), {fmt_ts(c.first_ts)} .. {fmt_ts(c.last_ts)} UTC\n"
    )
    if not c.complete:
        out.append(f"INCOMPLETE {c.error}\n")
    st = a.layer_stats
    out.append(
        f"Layers    {st.get('tcp_packets', 0):,} TCP packets, {st.get('non_tcp', 0):,} non-TCP,"
        f" {st.get('non_ip', 0):,} non-IP, {connections} TCP connections\n"
    )
    out.extend(link_lines(st))
    out.append("\n")
    return "".join(out)


MOST_LINK_LINES = 8


def link_lines(st: Mapping[str, Any]) -> Iterator[str]:
    """The encapsulations the TCP packets came through (layer_stats.encapsulations) and what was
    not decoded, and why (layer_stats.not_decoded): only for captures that have them."""
    for label, key, count, tail in (
        ("Link", "encapsulations", "tcp_packets", "TCP packets"),
        ("Skipped", "not_decoded", "packets", "packets not decoded"),
    ):
        rows = st.get(key) or []
        for i, row in enumerate(rows[:MOST_LINK_LINES]):
            what = " > ".join(row["path"]) if key == "encapsulations" else row["what"]
            head = label.ljust(10) if not i else " " * 10
            yield f"{head}{terminal_text(what, MESSAGE_CHARS)}: {row[count]:,} {tail}\n"
        if len(rows) > MOST_LINK_LINES:
            yield f"{' ' * 10}... and {len(rows) - MOST_LINK_LINES} more (layer_stats.{key})\n"


def connection_row(rec: ConnectionRecord) -> list[str]:
    """A connection's cells in the table, but the anomaly count (known at the end)."""
    t = rec.tcp
    hs = t["handshake"]
    rtt = hs["rtt_ms"]
    client, app = _ep(rec.client), rec.app_protocol
    if rec.process is not None:  # PKTAP: the process on the capturing host
        client += f" ({terminal_text(str(rec.process['name']), 24)} {rec.process['pid']})"
    if rec.proxy is not None:
        app += f" via {rec.proxy['protocol']}"
    return [
        str(rec.id),
        client,
        _ep(rec.server),
        "complete" if hs["complete"] else ("partial" if hs["syn_frame"] or hs["synack_frame"] else "none"),
        f"{rtt:.3f}" if rtt is not None else "-",
        f"{t['packets']['c2s']}/{t['packets']['s2c']}",
        f"{t['payload_bytes']['c2s']}/{t['payload_bytes']['s2c']}",
        t["end"],
        app,
    ]


def connection_table(rows: list[tuple[int, list[str]]], anomalies: list[Anomaly], out: IO[str]) -> None:
    """(id, cells) per connection, in id order, with each connection's anomaly count."""
    per_conn: dict[int, int] = {}
    for an in anomalies:
        if an.connection is not None:
            per_conn[an.connection] = per_conn.get(an.connection, 0) + 1
    _table([TABLE_HEAD, *([*cells, str(per_conn.get(cid, 0))] for cid, cells in rows)], out)


SEVERITY_ORDER = {"error": 0, "warn": 1, "note": 2, "chat": 3}
MESSAGE_CHARS = 160  # of an anomaly's message on a line of the summary


def session_sids(s: Any) -> dict[Anomaly, str]:
    """The anomalies of an Engine.IO session (also in the analysis' list), to its sid."""
    return {an: s.sid for an in s.anomalies} if s.sid else {}


def _frames_cell(frames: tuple[int, ...], most: int = 4) -> str:
    if not frames:
        return "-"
    shown = ",".join(map(str, frames[:most]))
    return shown + (f",… ({len(frames)} packets)" if len(frames) > most else "")


def _where(an: Anomaly, sids: Mapping[Anomaly, str]) -> str:
    parts = [f"#{an.connection}"] if an.connection is not None else []
    sid = sids.get(an)
    if sid:
        parts.append(f"sid {terminal_text(sid, 40)}")
    return " ".join(parts) or "-"


def _by_severity(anomalies: Iterable[Anomaly]) -> list[Anomaly]:
    """Severity, then code, then as listed (the analysis lists them in frame order)."""
    return sorted(anomalies, key=lambda an: (SEVERITY_ORDER[an.severity.value], an.code))


def _rows(rows: list[list[str]]) -> Iterator[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        yield "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n"


def anomaly_section(
    anomalies: list[Anomaly], sids: Mapping[Anomaly, str], every: bool = False
) -> Iterator[str]:
    """The summary's Anomalies section: one line per code (its count and its first occurrence:
    frame, connection or session, message), or with `every` (`analyze --anomalies`) one line per
    anomaly; by severity, then code. `sids` names the Engine.IO session of session anomalies."""
    if not anomalies:
        return
    yield "\nAnomalies\n"
    if every:
        rows = [["severity", "code", "frames", "where", "dir", "message"]]
        for an in _by_severity(anomalies):
            rows.append(
                [
                    an.severity.value,
                    an.code,
                    _frames_cell(an.frames),
                    _where(an, sids),
                    an.direction.value if an.direction is not None else "-",
                    terminal_text(an.message, MESSAGE_CHARS),
                ]
            )
        yield from _rows(rows)
        return
    first: dict[str, Anomaly] = {}
    counts: dict[str, int] = {}
    for an in anomalies:
        first.setdefault(an.code, an)
        counts[an.code] = counts.get(an.code, 0) + 1
    rows = [["severity", "code", "count", "first frame", "where", "message"]]
    for an in _by_severity(first.values()):
        rows.append(
            [
                an.severity.value,
                an.code,
                str(counts[an.code]),
                str(an.frames[0]) if an.frames else "-",
                _where(an, sids),
                terminal_text(an.message, MESSAGE_CHARS),
            ]
        )
    yield from _rows(rows)


# the anomalies marked in the `--messages` log (every layer a message carries) and in `--events`
MESSAGE_MARK_LAYERS = frozenset({Layer.WEBSOCKET, Layer.ENGINEIO, Layer.SOCKETIO})
EVENT_MARK_LAYERS = frozenset({Layer.ENGINEIO, Layer.SOCKETIO})


class Marks:
    """The anomalies of some layers, to print right after the message or event they concern: one
    raised on a packet of the item's connection between its first and last packet, in its
    direction (or in none). Each is printed once, after the first item it matches; the ones that
    match no item are only in the Anomalies section."""

    def __init__(self, anomalies: Iterable[Anomaly], layers: frozenset[Layer]) -> None:
        self._anomalies = [an for an in anomalies if an.layer in layers and an.connection is not None]
        self._at: dict[int, list[tuple[int, int]]] = {}  # connection -> sorted (packet, index)
        for i, an in enumerate(self._anomalies):
            assert an.connection is not None
            self._at.setdefault(an.connection, []).extend((f, i) for f in set(an.frames))
        for entries in self._at.values():
            entries.sort()
        self._done: set[int] = set()

    def __call__(self, span: Span) -> list[str]:
        conn, lo, hi, direction = span
        entries = self._at.get(conn)
        if not entries:
            return []
        found: list[int] = []
        k = bisect_left(entries, (lo, -1))
        while k < len(entries) and entries[k][0] <= hi:
            i = entries[k][1]
            d = self._anomalies[i].direction
            if i not in self._done and (d is None or d.value == direction):
                self._done.add(i)
                found.append(i)
            k += 1
        return [mark_line(self._anomalies[i]) for i in sorted(found)]


def mark_line(an: Anomaly) -> str:
    return f"      !! {an.code}: {terminal_text(an.message, MESSAGE_CHARS)}\n"
