"""The text summary's Engine.IO / Socket.IO sessions section and the `--events` chat log."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from analyzer.export.text.summary import EVENT_MARK_LAYERS, Marks, Span, fmt_clock, mark_line
from analyzer.model.common import Anomaly
from analyzer.model.spill import NameTally
from analyzer.model.text import cut_text, json_text, terminal_text

__all__ = [
    "NO_SIO_SESSIONS",
    "EventMarks",
    "percentile",
    "session_event_lines",
    "session_summary",
]

NO_SIO_SESSIONS = "  no Socket.IO sessions\n"


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, round(p / 100 * len(v) + 0.5) - 1))
    return v[k]


def _safe(text: str, limit: int = 200) -> str:
    return terminal_text(text, limit, escape_whitespace=False)


def _args(value: Any, text: str | None = None) -> str:
    """A decoded payload as its JSON text (the first 200 characters: json_text cuts it first), or
    that text when it is given (the document's, which json_text would write again)."""
    return _safe(json_text(value, 201) if text is None else cut_text(text, 201))


def session_summary(s: dict[str, Any], sio: dict[str, Any] | None, tally: NameTally) -> str:
    """The lines of one session in the sessions section. `s` holds the session's fields but its
    packets, `sio` the Socket.IO fields but its packets, and `tally` counts its Socket.IO
    packets by (namespace, event name), in the order each pair was first seen."""
    out = [
        f"  sid {_safe(s['sid'], 40)}  EIO{s['protocol']}"
        + (f" / Socket.IO v{sio['protocol']} ({sio['parser']} parser)" if sio else "")
        + f"  transport {' -> '.join(s['transport_path'])}"
        + f"  connections {', '.join('#' + str(c) for c in sorted(s['connections']))}\n"
    ]
    up = s.get("upgrade") or {}
    if up.get("duration_ms") is not None or up.get("upgrade_ms") is not None:
        ms = up.get("duration_ms", up.get("upgrade_ms"))
        out.append(f"     upgrade {ms:.1f} ms\n")
    hb = s.get("heartbeat") or {}
    pings = f", {hb.get('pings', hb.get('ping_count', '?'))} pings" if hb else ""
    interval, timeout = s.get("ping_interval_ms"), s.get("ping_timeout_ms")
    if interval is None and timeout is None:
        why = "handshake not captured" if not s.get("handshake_captured") else "not in the open packet"
        out.append(f"     heartbeat: unknown ({why}){pings}\n")
    else:
        out.append(
            f"     heartbeat: pingInterval {interval if interval is not None else '?'} ms,"
            f" pingTimeout {timeout if timeout is not None else '?'} ms{pings}\n"
        )
    if sio:
        nsps: set[str] = set()
        names: Counter[str] = Counter()
        for (nsp, event), count in tally.items():
            nsps.add(nsp)
            if event is not None:
                names[event] += count
        out.append(f"     namespaces {', '.join(_safe(n, 40) for n in sorted(nsps)) or '-'}\n")
        if names:
            out.append(
                "     events " + ", ".join(f"{_safe(k, 40)} x{v}" for k, v in names.most_common(12)) + "\n"
            )
        lat = [x["latency_ms"] for x in sio.get("acks", []) if x.get("latency_ms") is not None]
        unanswered = sum(1 for x in sio.get("acks", []) if x.get("latency_ms") is None)
        if lat or unanswered:
            p50, p95 = percentile(lat, 50), percentile(lat, 95)
            out.append(
                f"     acks {len(lat)} answered"
                + (f" (p50 {p50:.2f} ms, p95 {p95:.2f} ms)" if p50 is not None and p95 is not None else "")
                + (f", {unanswered} unanswered" if unanswered else "")
                + "\n"
            )
    return "".join(out)


class EventMarks:
    """The anomalies of one Engine.IO session to print in its `--events` log: the ones raised on a
    Socket.IO packet after that packet (several packets may share a polling response), the others
    after the first packet of their frame (in their direction), once each."""

    def __init__(self, s: Any) -> None:
        listed = set(s.anomalies)  # the ones in the analysis (a session lists a bounded number)
        self._at: dict[int, list[Anomaly]] = {}
        placed: set[Anomaly] = set()
        for index, an in s.socketio.anomalies_at if s.socketio is not None else ():
            if an in listed:
                self._at.setdefault(index, []).append(an)
                placed.add(an)
        self._by_frame = Marks([an for an in s.anomalies if an not in placed], EVENT_MARK_LAYERS)

    def __call__(self, index: int, span: Span) -> list[str]:
        return [mark_line(an) for an in self._at.get(index, ())] + self._by_frame(span)


def session_event_lines(
    s: dict[str, Any],
    sio: dict[str, Any],
    packets: Iterable[tuple[dict[str, Any], str | None, str | None]],
    marks: EventMarks | None = None,
    keep: Callable[[dict[str, Any]], bool] | None = None,
) -> Iterator[str]:
    """The `--events` log of one session (Socket.IO packets with their ack latency); nothing for
    a session without Socket.IO packets. `packets`: (fields, args, data) as streamsel.sio_entries
    gives them ("args" and "data" as JSON text, or None: in the fields). `marks` gives the lines
    that follow a packet: its anomalies; `keep` (a filter, of packets whose fields are whole) the
    packets listed."""
    head = f"  session {_safe(s['sid'], 40)}\n"
    acks = {(x["nsp"], x["ack_id"], x["request_direction"]): x for x in sio.get("acks", [])}
    for index, (p, args, data) in enumerate(packets):
        if keep is not None and not keep(p):
            continue
        if head:
            yield head
            head = ""
        arrow = "C->S" if p["direction"] == "c2s" else "S->C"
        t = p["type"]
        line = f"    {fmt_clock(p['ts'])}  #{p['frame']:<6} {arrow} {_safe(p['nsp'], 30):8} "
        if t in ("EVENT", "BINARY_EVENT"):
            line += f"{_safe(p['event'] or '', 40)} {_args(p.get('args'), args)}"
            if p.get("ack_id") is not None:
                ack = acks.get((p["nsp"], p["ack_id"], p["direction"]))
                lat = ack.get("latency_ms") if ack else None
                line += f"  [ack {p['ack_id']}: " + (f"{lat:.2f} ms]" if lat is not None else "unanswered]")
        elif t in ("ACK", "BINARY_ACK"):
            line += f"ack {p['ack_id']} {_args(p.get('data'), data)}"
        elif data is not None:
            line += f"{t} {_args(None, data) if data != 'null' else ''}"
        else:
            line += f"{t} {_args(p.get('data')) if p.get('data') is not None else ''}"
        yield line.rstrip() + "\n"
        if marks is not None:
            yield from marks(index, (p["connection"], p["frame"], p["frame"], p["direction"]))
