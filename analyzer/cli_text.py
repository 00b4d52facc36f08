"""Human-readable output of the CLI: the capture summary and the connection table."""

from __future__ import annotations

import datetime as dt
from typing import IO, Any

from analyzer.model.analysis import Analysis

__all__ = ["fmt_ts", "print_summary"]


def fmt_ts(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _ep(e: dict[str, Any]) -> str:
    ip = e["ip"]
    return f"[{ip}]:{e['port']}" if ":" in ip else f"{ip}:{e['port']}"


def _table(rows: list[list[str]], out: IO[str]) -> None:
    if not rows:
        return
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")


def print_summary(a: Analysis, out: IO[str], messages: bool = False, events: bool = False) -> None:
    c = a.capture
    out.write(f"Capture   {c.path} ({c.format}, {', '.join(c.link_types) or 'no packets'})\n")
    out.write(
        f"Packets   {c.packets:,} ({c.bytes:,} bytes), {fmt_ts(c.first_ts)} .. {fmt_ts(c.last_ts)} UTC\n"
    )
    if not c.complete:
        out.write(f"INCOMPLETE {c.error}\n")
    st = a.layer_stats
    out.write(
        f"Layers    {st.get('tcp_packets', 0):,} TCP packets, {st.get('non_tcp', 0):,} non-TCP,"
        f" {st.get('non_ip', 0):,} non-IP, {len(a.connections)} TCP connections\n\n"
    )
    rows = [
        [
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
    ]
    per_conn: dict[int, int] = {}
    for an in a.anomalies:
        if an.connection is not None:
            per_conn[an.connection] = per_conn.get(an.connection, 0) + 1
    for rec in a.connections:
        t = rec.tcp
        hs = t["handshake"]
        rtt = hs["rtt_ms"]
        rows.append(
            [
                str(rec.id),
                _ep(rec.client),
                _ep(rec.server),
                "complete"
                if hs["complete"]
                else ("partial" if hs["syn_frame"] or hs["synack_frame"] else "none"),
                f"{rtt:.3f}" if rtt is not None else "-",
                f"{t['packets']['c2s']}/{t['packets']['s2c']}",
                f"{t['payload_bytes']['c2s']}/{t['payload_bytes']['s2c']}",
                t["end"],
                rec.app_protocol,
                str(per_conn.get(rec.id, 0)),
            ]
        )
    _table(rows, out)
    _print_extras(a, out, messages, events)
    if a.anomalies:
        counts: dict[tuple[str, str], int] = {}
        for an in a.anomalies:
            key = (an.severity.value, an.code)
            counts[key] = counts.get(key, 0) + 1
        out.write("\nAnomalies\n")
        order = {"error": 0, "warn": 1, "note": 2, "chat": 3}
        for (sev, code), n in sorted(counts.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
            out.write(f"  {sev:5}  {code:38} x{n}\n")


def _print_extras(a: Analysis, out: IO[str], messages: bool, events: bool) -> None:
    """Later layers (WebSocket, Socket.IO) add their sections here."""
    from analyzer.cli_app import print_app_sections

    print_app_sections(a, out, messages=messages, events=events)
