"""Human-readable output of the CLI: the capture summary and the connection table."""

from __future__ import annotations

import datetime as dt
from typing import IO, Any

from analyzer.model.analysis import Analysis, ConnectionRecord
from analyzer.model.common import Anomaly

__all__ = [
    "anomaly_counts",
    "connection_row",
    "connection_table",
    "fmt_clock",
    "fmt_ts",
    "print_summary",
    "summary_head",
]


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


def _ep(e: dict[str, Any]) -> str:
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
        f" {st.get('non_ip', 0):,} non-IP, {connections} TCP connections\n\n"
    )
    return "".join(out)


def connection_row(rec: ConnectionRecord) -> list[str]:
    """A connection's cells in the table, but the anomaly count (known at the end)."""
    t = rec.tcp
    hs = t["handshake"]
    rtt = hs["rtt_ms"]
    return [
        str(rec.id),
        _ep(rec.client),
        _ep(rec.server),
        "complete" if hs["complete"] else ("partial" if hs["syn_frame"] or hs["synack_frame"] else "none"),
        f"{rtt:.3f}" if rtt is not None else "-",
        f"{t['packets']['c2s']}/{t['packets']['s2c']}",
        f"{t['payload_bytes']['c2s']}/{t['payload_bytes']['s2c']}",
        t["end"],
        rec.app_protocol,
    ]


def connection_table(rows: list[tuple[int, list[str]]], anomalies: list[Anomaly], out: IO[str]) -> None:
    """(id, cells) per connection, in id order, with each connection's anomaly count."""
    per_conn: dict[int, int] = {}
    for an in anomalies:
        if an.connection is not None:
            per_conn[an.connection] = per_conn.get(an.connection, 0) + 1
    _table([TABLE_HEAD, *([*cells, str(per_conn.get(cid, 0))] for cid, cells in rows)], out)


def anomaly_counts(anomalies: list[Anomaly], out: IO[str]) -> None:
    if anomalies:
        counts: dict[tuple[str, str], int] = {}
        for an in anomalies:
            key = (an.severity.value, an.code)
            counts[key] = counts.get(key, 0) + 1
        out.write("\nAnomalies\n")
        order = {"error": 0, "warn": 1, "note": 2, "chat": 3}
        for (sev, code), n in sorted(counts.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
            out.write(f"  {sev:5}  {code:38} x{n}\n")


def print_summary(a: Analysis, out: IO[str], messages: bool = False, events: bool = False) -> None:
    out.write(summary_head(a, len(a.connections)))
    connection_table([(rec.id, connection_row(rec)) for rec in a.connections], a.anomalies, out)
    _print_extras(a, out, messages, events)
    anomaly_counts(a.anomalies, out)


def _print_extras(a: Analysis, out: IO[str], messages: bool, events: bool) -> None:
    """Later layers (WebSocket, Socket.IO) add their sections here."""
    from analyzer.cli_app import print_app_sections

    print_app_sections(a, out, messages=messages, events=events)
