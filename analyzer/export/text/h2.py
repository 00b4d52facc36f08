"""The summary's HTTP/2 section: per HTTP/2 connection, its streams (method, path, status, body
sizes, one line each, the first ones), frames per type and direction, resets and GOAWAYs."""

from __future__ import annotations

from analyzer.model.analysis import ConnectionRecord
from analyzer.model.records import HttpExchange
from analyzer.model.text import terminal_text

__all__ = ["H2_HEAD", "MAX_STREAM_LINES", "h2_lines"]

H2_HEAD = "\nHTTP/2 connections\n"
MAX_STREAM_LINES = 50  # streams listed per connection; the JSON document has them all


def _frames(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "-"


def _stream_id(x: HttpExchange) -> int | None:
    for m in (x.response, x.request):
        if m is not None and m.stream_id is not None:
            return m.stream_id
    return None


def h2_lines(rec: ConnectionRecord) -> list[str] | None:
    h2 = rec.http2
    if h2 is None:
        return None
    how = f"ALPN {rec.tls.alpn}" if rec.tls is not None and rec.tls.alpn else "h2c"
    out = [
        f"  #{rec.id} HTTP/2 ({how}), {h2['streams']} streams,"
        f" CONNECT protocol {'enabled' if h2['enable_connect_protocol'] else 'not enabled'}\n",
        f"     frames c>s {_frames(h2['frames']['c2s'])}\n",
        f"     frames s>c {_frames(h2['frames']['s2c'])}\n",
    ]
    if h2["resets"]:
        out.append(f"     RST_STREAM {', '.join(f'{k} x{v}' for k, v in h2['resets'].items())}\n")
    for g in h2["goaway"]:
        out.append(
            f"     GOAWAY {g['direction']} #{g['frame']} last stream {g['last_stream_id']} {g['error']}\n"
        )
    streams = [(sid, x) for x in rec.http if (sid := _stream_id(x)) is not None]
    for sid, x in streams[:MAX_STREAM_LINES]:
        q, r = x.request, x.response
        what = (
            f"{terminal_text(q.method, 16)} {terminal_text(q.target, 80)}"
            if q is not None
            else "(no request)"
        )
        status = f"{r.status} ({len(r.body)} B)" if r is not None else "no response"
        frame = f"#{q.frame}" if q is not None else ""
        out.append(f"     stream {sid:<5} {frame:>7}  {what} -> {status}\n")
    if len(streams) > MAX_STREAM_LINES:
        out.append(
            f"     ... {len(streams) - MAX_STREAM_LINES} more streams (--format json lists them all)\n"
        )
    return out
